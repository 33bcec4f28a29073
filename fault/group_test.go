package fault

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness/proc"
	"github.com/kvchaos/kvchaos/harness/proc/proctest"
)

// startWrapped starts a target shaped as a harness.Target starts a server:
// in its own process group, here a shell wrapper that does not exec its
// "server" (a sleep) but waits for it, so a fault on the wrapper's pid alone
// would miss the server.
func startWrapped(t *testing.T) *wrapped {
	return &wrapped{proctest.StartWrapper(t, OwnerEnv+"=faulttest")}
}

type wrapped struct{ *proctest.Wrapper }

func (w *wrapped) DataDir() string { return "" }

// TestFaultsReachAWrappersServer checks that signal faults, cgroups and
// strace act on the whole process group of a target, not only its leader.
func TestFaultsReachAWrappersServer(t *testing.T) {
	t.Run("kill", func(t *testing.T) {
		w := startWrapped(t)
		if err := (Kill{}).Inject(ctxT(t), w); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(ctxT(t), 10*time.Second)
		defer cancel()
		if err := waitDead(ctx, w.Pid()); err != nil {
			t.Fatal(err)
		}
		if proc.Alive(w.Child) {
			t.Fatalf("the wrapped server %d survived Kill", w.Child)
		}
	})
	t.Run("pause", func(t *testing.T) {
		w := startWrapped(t)
		p := &Pause{}
		if err := p.Inject(ctxT(t), w); err != nil {
			t.Fatal(err)
		}
		if st, _ := ProcState(w.Child); st != "T" {
			t.Fatalf("the wrapped server is in state %q after Pause, want T", st)
		}
		if err := p.Heal(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		waitNotStopped(t, w.Child)
	})
	t.Run("memory cgroup", func(t *testing.T) {
		w := startWrapped(t)
		m := &MemoryLimit{Limit: 64 << 20}
		if err := m.Probe(); err != nil {
			t.Skip(err)
		}
		if err := m.Inject(ctxT(t), w); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := m.Heal(ctxT(t)); err != nil {
				t.Error(err)
			}
		}()
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", w.Child))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "kvchaos-mem") {
			t.Fatalf("the wrapped server is not in the limit's cgroup:\n%s", b)
		}
	})
	t.Run("strace", func(t *testing.T) {
		w := startWrapped(t)
		s := &SlowSync{Delay: time.Millisecond}
		if err := s.Probe(); err != nil {
			t.Skip(err)
		}
		if err := s.Inject(ctxT(t), w); err != nil {
			t.Fatal(err)
		}
		tracer := tracerOf(t, w.Child)
		if err := s.Heal(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if tracer == 0 {
			t.Fatalf("the wrapped server %d is not traced under slow-sync", w.Child)
		}
	})
}

// waitNotStopped waits up to 5 s for pid to leave the stopped state.
func waitNotStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := ProcState(pid)
		if err != nil || st != "T" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still stopped after Heal", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// tracerOf returns the TracerPid of pid from /proc/PID/status.
func tracerOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatalf("no TracerPid in /proc/%d/status", pid)
	return 0
}
