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

// members returns the live processes a fault on pid acts on: pid, and when
// pid leads a process group (as a harness.Target's server does), every other
// live process of that group, so that a wrapper script's server is not left
// out. A group's id is its leader's pid and is not reused while the group
// exists, so a process whose group id is pid is in the target's group even
// after the leader died. Zombies, which hold no files, are not members.
func members(pid int) []int {
	var out []int
	if alive(pid) {
		out = append(out, pid)
	}
	if pid <= 1 || pid == syscall.Getpgrp() {
		return out
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		st, pgrp, err := procGroup(p)
		if err == nil && pgrp == pid && st != "Z" && st != "X" {
			out = append(out, p)
		}
	}
	return out
}

// procGroup returns pid's state and process group from /proc/PID/stat.
func procGroup(pid int) (state string, pgrp int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	s := string(b)
	// Fields after comm: state(0) ppid(1) pgrp(2).
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return "", 0, fmt.Errorf("parse stat of %d: %q", pid, s)
	}
	pgrp, err = strconv.Atoi(f[2])
	if err != nil {
		return "", 0, fmt.Errorf("parse stat of %d: %w", pid, err)
	}
	return f[0], pgrp, nil
}

// waitDead waits until pid and the rest of its group (see members) are gone
// or zombies (their files are closed then), polling /proc, until ctx ends.
func waitDead(ctx context.Context, pid int) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		left := members(pid)
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

// signal sends sig to pid's process group when pid leads one (see members),
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

// waitState waits until pid and the rest of its group (see members) are in
// state st (or gone), polling /proc.
func waitState(ctx context.Context, pid int, st string) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		pending, cur := 0, ""
		for _, p := range members(pid) {
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
