// Package proc reads what the kernel says of a process under /proc: its state
// letter, its process group, and the live members of the group it leads. The
// harness and the fault injectors share it to treat a server as the process
// group the harness starts it in, so a wrapper script that does not exec the
// server is seen through.
package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
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
