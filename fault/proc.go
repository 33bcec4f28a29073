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
)

// ProcState returns the one-letter state of pid from /proc/PID/stat ("R",
// "S", "T" stopped, "t" traced, "Z" zombie...).
func ProcState(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", fmt.Errorf("read state of %d: %w", pid, err)
	}
	// The comm field is in parentheses and may hold spaces: the state is
	// the first field after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return "", fmt.Errorf("parse state of %d: %q", pid, s)
	}
	return s[i+2 : i+3], nil
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

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := ProcState(pid)
	return err == nil && st != "Z" && st != "X"
}

// waitDead waits until pid is gone or a zombie (its files are closed then),
// polling /proc, until ctx ends.
func waitDead(ctx context.Context, pid int) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d to die: %w", pid, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// signal sends sig to pid, refusing pids that cannot be a server.
func signal(pid int, sig syscall.Signal) error {
	if pid <= 1 {
		return fmt.Errorf("signal %v: no process (pid %d)", sig, pid)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %v to %d: %w", sig, pid, err)
	}
	return nil
}

// isRoot reports whether we run with uid 0.
func isRoot() bool { return os.Geteuid() == 0 }

var errNotRoot = fmt.Errorf("needs root: %w", ErrUnsupported)

// waitState waits until pid is in state st (or gone), polling /proc.
func waitState(ctx context.Context, pid int, st string) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		cur, err := ProcState(pid)
		if err != nil || cur == st {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d to reach state %s (is %s): %w", pid, st, cur, ctx.Err())
		case <-tick.C:
		}
	}
}
