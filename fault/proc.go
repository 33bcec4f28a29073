package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/harness/proc"
)

// ProcState returns the one-letter state of pid from /proc/PID/stat ("R",
// "S", "T" stopped, "t" traced, "Z" zombie...).
func ProcState(pid int) (string, error) {
	st, err := proc.State(pid)
	if err != nil {
		return "", err
	}
	return string(st), nil
}

// procCPUTicks returns utime+stime of pid in clock ticks.
func procCPUTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after comm: state(0) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat of %d: %q", pid, s)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse stat of %d: %w", pid, err)
	}
	return u + st, nil
}

// waitDead waits until pid and the rest of its group (see proc.Members) are gone
// or zombies (their files are closed then), polling /proc, until ctx ends.
func waitDead(ctx context.Context, pid int) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		left := proc.Members(pid)
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %v to die: %w", left, ctx.Err())
		case <-tick.C:
		}
	}
}

// signal sends sig to pid's process group when pid leads one (see proc.Members),
// else to pid alone, refusing pids that cannot be a server.
func signal(pid int, sig syscall.Signal) error {
	if pid <= 1 {
		return fmt.Errorf("signal %v: no process (pid %d)", sig, pid)
	}
	if pid != syscall.Getpgrp() {
		err := syscall.Kill(-pid, sig)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal %v to group %d: %w", sig, pid, err)
		}
		// ESRCH: pid leads no group; signal it alone.
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %v to %d: %w", sig, pid, err)
	}
	return nil
}

// isRoot reports whether we run with uid 0.
func isRoot() bool { return os.Geteuid() == 0 }

var errNotRoot = fmt.Errorf("needs root: %w", ErrUnsupported)

// waitState waits until pid and the rest of its group (see proc.Members) are in
// state st (or gone), polling /proc.
func waitState(ctx context.Context, pid int, st string) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		pending, cur := 0, ""
		for _, p := range proc.Members(pid) {
			if s, err := ProcState(p); err == nil && s != st {
				pending, cur = p, s
				break
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d to reach state %s (is %s): %w", pending, st, cur, ctx.Err())
		case <-tick.C:
		}
	}
}
