package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/process"

	"github.com/kvchaos/kvchaos/harness/proc"
)

// startWrapped starts the fake server behind a shell wrapper that does not
// exec it but waits for it, and returns the target and the server's pid.
func startWrapped(t *testing.T) (*Target, int) {
	t.Helper()
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "wrapper.sh")
	pidFile := filepath.Join(dir, "server.pid")
	// The pid file appears whole (written aside, then renamed): the test
	// reads it as soon as it exists.
	script := "#!/bin/sh\n" + fakeBin + " \"$@\" &\necho $! > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\nwait\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tg, err := NewTarget(TargetConfig{Bin: wrapper, DataDir: t.TempDir(), StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Cleanup(false) })
	if err := tg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The server can be ready before the shell, descheduled after the
	// fork, has written the pid file: wait for the file.
	b, err := os.ReadFile(pidFile)
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, fs.ErrNotExist) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // polling a file the shell writes: no event to wait on
		b, err = os.ReadFile(pidFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // should the test fail
	return tg, pid
}

// TestTargetKillsAWrappersChildren: Kill must take the wrapped server down
// too, and return only once it no longer runs.
func TestTargetKillsAWrappersChildren(t *testing.T) {
	tg, pid := startWrapped(t)
	if err := tg.Kill(); err != nil {
		t.Fatal(err)
	}
	// The server is the wrapper's child: once killed, it is a zombie or gone.
	st, err := proc.State(pid)
	if err == nil && st != 'Z' {
		t.Fatalf("the wrapped server %d survived Kill (state %c)", pid, st)
	}
}

// TestTargetPausesAWrappersServer: Pause stops the wrapped server too (a
// SIGSTOP to the leader alone would leave it running), Resume continues it.
func TestTargetPausesAWrappersServer(t *testing.T) {
	tg, pid := startWrapped(t)
	if err := tg.Pause(); err != nil {
		t.Fatal(err)
	}
	if st, err := proc.State(pid); err != nil || st != 'T' {
		t.Fatalf("the wrapped server is in state %c (%v) after Pause, want T", st, err)
	}
	if err := tg.Resume(); err != nil {
		t.Fatal(err)
	}
	if st, err := proc.State(pid); err != nil || st == 'T' {
		t.Fatalf("the wrapped server is in state %c (%v) after Resume", st, err)
	}
}

// TestSamplerSumsAWrappersGroup: the sampler measures the wrapped server,
// not only the shell in front of it.
func TestSamplerSumsAWrappersGroup(t *testing.T) {
	tg, pid := startWrapped(t)
	// The server's threads are counted before the sampler starts: a Go
	// process never ends a thread, but may start one at any time, so a
	// count taken after the last sample could exceed it.
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		t.Fatal(err)
	}
	threads, err := p.NumThreads()
	if err != nil {
		t.Fatal(err)
	}
	s := StartSampler(tg, tg.Clock(), 10*time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); len(s.Samples()) < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // polling the sampler's series: it has no event to wait on
	}
	samples := s.Stop()
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	last := samples[len(samples)-1]
	// The shell has one thread; the Go server has several more.
	if last.Threads <= threads {
		t.Fatalf("sampled %d threads; the wrapped server alone has %d", last.Threads, threads)
	}
	serverPeak, err := vmHWM(pid)
	if err != nil {
		t.Fatal(err)
	}
	if peak, err := PeakRSS(tg.Pid()); err != nil || peak <= serverPeak {
		t.Fatalf("PeakRSS of the group = %d (%v); the wrapped server alone peaked at %d", peak, err, serverPeak)
	}
}
