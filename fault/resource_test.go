package fault

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// hungry is a shell that, once it reads a line, becomes `tail /dev/zero`:
// tail looks for a newline in an endless stream and grows without bound.
func hungry(t *testing.T) (*victim, func()) {
	t.Helper()
	v := startVictim(t, "", "sh", "-c", "read x; exec tail /dev/zero")
	return v, func() { _, _ = v.stdin.Write([]byte("go\n")) }
}

func TestMemoryLimitOOMKills(t *testing.T) {
	m := &MemoryLimit{Limit: 32 << 20}
	skipUnsupported(t, m)
	ctx := ctxT(t)
	v, feed := hungry(t)
	rec := newClock()
	w, err := Inject(ctx, rec, m, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Heal(ctx) })
	cg := m.Cgroup()
	if b, _ := os.ReadFile(cg + "/cgroup.procs"); !bytes.Contains(b, []byte(strconv.Itoa(v.Pid()))) {
		t.Fatalf("victim %d not in %s (%q)", v.Pid(), cg, b)
	}
	feed()
	ws := v.wait(t, 30*time.Second)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("hog ended with %v, want SIGKILL from the OOM killer", ws)
	}
	if n, err := m.OOMKills(); err != nil || n < 1 {
		t.Fatalf("oom_kill count %d (%v), want >= 1", n, err)
	}
	if err := w.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cg); !os.IsNotExist(err) {
		t.Fatalf("cgroup %s left after heal", cg)
	}
}

func TestMemoryLimitHog(t *testing.T) {
	m := &MemoryLimit{Limit: 48 << 20, Hog: 96 << 20}
	skipUnsupported(t, m)
	ctx := ctxT(t)
	v := startVictim(t, "", "sleep", "60")
	w, err := Inject(ctx, nil, m, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Heal(ctx) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := m.OOMKills()
		if err != nil {
			t.Fatal(err)
		}
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a hog twice the limit was never OOM-killed")
		}
		time.Sleep(20 * time.Millisecond) // polling a counter the kernel bumps
	}
	if err := w.Heal(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryLimitRlimit(t *testing.T) {
	m := &MemoryLimit{Limit: 64 << 20, Rlimit: true}
	skipUnsupported(t, m)
	ctx := ctxT(t)
	v, feed := hungry(t)
	w, err := Inject(ctx, nil, m, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Heal(ctx) })
	feed()
	ws := v.wait(t, 30*time.Second)
	if ws.Signaled() || ws.ExitStatus() == 0 {
		t.Fatalf("hog under RLIMIT_AS ended with %v, want a failed allocation (non-zero exit, no signal)", ws)
	}
}

func TestCPUStarveCutsShare(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *CPUStarve
	}{
		{"cgroup quota", &CPUStarve{Percent: 10}},
		{"duty cycle", &CPUStarve{Percent: 10, DutyCycle: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.c.DutyCycle && (!isRoot() || func() bool { _, _, err := controllerDir("cpu"); return err != nil }()) {
				t.Skip("no cpu cgroup here")
			}
			ctx := ctxT(t)
			v := startVictim(t, "", "sh", "-c", "while :; do :; done")
			w, err := Inject(ctx, nil, tc.c, v)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = w.Heal(ctx) })
			// The share a loop gets depends on the machine's load, so the
			// test observes the mechanism: throttled periods, or the
			// process seen stopped most of the time.
			stopped := stoppedFraction(t, v.Pid(), 500*time.Millisecond)
			starved := cpuShare(t, v.Pid(), 500*time.Millisecond)
			throttled, err := tc.c.Throttled()
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: CPU share %.2f, stopped %.2f of the time, %d throttled periods", tc.name, starved, stopped, throttled)
			if starved > 0.25 {
				t.Fatalf("starved to 10%% of a core, the loop still got %.2f", starved)
			}
			if tc.c.DutyCycle && stopped < 0.5 {
				t.Fatalf("duty cycle kept the loop stopped only %.2f of the time", stopped)
			}
			if !tc.c.DutyCycle && throttled == 0 {
				t.Fatal("the cgroup quota never throttled the loop")
			}
			if st, _ := ProcState(v.Pid()); st == "T" {
				t.Fatal("victim left stopped")
			}
		})
	}
}

// stoppedFraction samples pid's state for d and returns the fraction of
// samples in which it was stopped.
func stoppedFraction(t *testing.T, pid int, d time.Duration) float64 {
	t.Helper()
	var n, stopped int
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
		if st, _ := ProcState(pid); st == "T" {
			stopped++
		}
		time.Sleep(2 * time.Millisecond) // sampling interval
	}
	return float64(stopped) / float64(n)
}

// cpuShare measures the fraction of one core pid used over d.
func cpuShare(t *testing.T, pid int, d time.Duration) float64 {
	t.Helper()
	a, err := procCPUTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(d) // measuring over a window is the point here
	b, err := procCPUTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	return float64(b-a) / 100 / time.Since(start).Seconds() // USER_HZ is 100 on Linux
}
