package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

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

// waitDead waits until pid and the rest of its group (see proc.Members) are
// gone or zombies (their files are closed then), until ctx ends.
func waitDead(ctx context.Context, pid int) error {
	if err := proc.Wait(ctx, pid, proc.Gone); err != nil {
		return fmt.Errorf("wait for %d to die: %w", pid, err)
	}
	return nil
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

// waitState waits until pid and the rest of its group (see proc.Members)
// are in state st (or gone), until ctx ends.
func waitState(ctx context.Context, pid int, st string) error {
	if err := proc.Wait(ctx, pid, func(s byte) bool { return string(s) == st }); err != nil {
		return fmt.Errorf("wait for %d to reach state %s: %w", pid, st, err)
	}
	return nil
}
