// Package proc reads what the kernel says of a process under /proc: its state
// letter, its process group, and the live members of the group it leads. The
// harness and the fault injectors share it to treat a server as the process
// group the harness starts it in, so a wrapper script that does not exec the
// server is seen through.
package proc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stat returns pid's one-letter state ('R', 'S', 'T' stopped, 't' traced,
// 'Z' zombie...) and its process group, from /proc/PID/stat.
func Stat(pid int) (state byte, pgrp int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read state of %d: %w", pid, err)
	}
	// The comm field is in parentheses and may hold spaces: the fields
	// after the last ')' are "state ppid pgrp ...".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("parse state of %d: %q", pid, s)
	}
	pgrp, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, fmt.Errorf("parse state of %d: %w", pid, err)
	}
	return f[0][0], pgrp, nil
}

// State returns pid's one-letter state.
func State(pid int) (byte, error) {
	st, _, err := Stat(pid)
	return st, err
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	st, err := State(pid)
	return err == nil && live(st)
}

func live(st byte) bool { return st != 'Z' && st != 'X' }

// Members lists pid, when alive, and, when pid leads a process group (as a
// server the harness starts does), every other live process of that group.
// A group's id is its leader's pid and is not reused while the group
// exists, so the group is found even after its leader died. Zombies, which
// hold no files, are left out; so is our own group.
func Members(pid int) []int {
	var out []int
	if Alive(pid) {
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
		if st, pgrp, err := Stat(p); err == nil && pgrp == pid && live(st) {
			out = append(out, p)
		}
	}
	return out
}

// Wait polls /proc until every live member of pid's group (see Members)
// is in a state ok accepts, or until ctx ends. With no live member left it
// returns at once, so an ok that accepts nothing waits for the whole group
// to be gone (or zombies, which hold no files).
func Wait(ctx context.Context, pid int, ok func(state byte) bool) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		pending, cur := 0, byte(0)
		for _, p := range Members(pid) {
			if st, err := State(p); err == nil && !ok(st) {
				pending, cur = p, st
				break
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process %d of group %d is still in state %c: %w", pending, pid, cur, ctx.Err())
		case <-tick.C:
		}
	}
}

// Gone is the ok of a Wait for the group to die: no live state will do.
func Gone(byte) bool { return false }

// Children lists the children of pid's main thread, from
// /proc/PID/task/PID/children (none when pid is gone).
func Children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}
