package fault

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wrapped is a target started as a harness.Target starts a server: in its
// own process group, here a shell wrapper that does not exec its "server"
// (a sleep) but waits for it, so a fault on the wrapper's pid alone would
// miss the server.
type wrapped struct {
	cmd    *exec.Cmd
	server int
	done   chan struct{}
}

func (w *wrapped) Pid() int        { return w.cmd.Process.Pid }
func (w *wrapped) DataDir() string { return "" }

func startWrapped(t *testing.T) *wrapped {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 600 & echo $!; wait")
	cmd.Env = append(os.Environ(), OwnerEnv+"=faulttest")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &wrapped{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() { _ = cmd.Wait(); close(w.done) }()
	if err != nil {
		t.Fatalf("read the server's pid: %v", err)
	}
	if _, err := fmt.Sscan(line, &w.server); err != nil {
		t.Fatalf("parse the server's pid %q: %v", line, err)
	}
	return w
}

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
		if alive(w.server) {
			t.Fatalf("the wrapped server %d survived Kill", w.server)
		}
	})
	t.Run("pause", func(t *testing.T) {
		w := startWrapped(t)
		p := &Pause{}
		if err := p.Inject(ctxT(t), w); err != nil {
			t.Fatal(err)
		}
		if st, _ := ProcState(w.server); st != "T" {
			t.Fatalf("the wrapped server is in state %q after Pause, want T", st)
		}
		if err := p.Heal(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		waitNotStopped(t, w.server)
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
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", w.server))
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
		tracer := tracerOf(t, w.server)
		if err := s.Heal(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if tracer == 0 {
			t.Fatalf("the wrapped server %d is not traced under slow-sync", w.server)
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
