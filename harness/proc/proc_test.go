package proc

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness/proc/proctest"
)

func TestMembers(t *testing.T) {
	w := proctest.StartWrapper(t)
	leader, child := w.Pid(), w.Child
	done := w.Done

	if got := Members(leader); !slices.Contains(got, leader) || !slices.Contains(got, child) || len(got) != 2 {
		t.Fatalf("Members(%d) = %v, want the leader and its child %d", leader, got, child)
	}
	if got := Members(child); !slices.Equal(got, []int{child}) {
		t.Fatalf("Members(%d), not a leader, = %v, want itself alone", child, got)
	}
	if st, pgrp, err := Stat(child); err != nil || pgrp != leader || !live(st) {
		t.Fatalf("Stat(%d) = %c, %d, %v; want a live process in group %d", child, st, pgrp, err, leader)
	}

	// Kill the leader alone: the child, orphaned, is still in its group.
	if err := syscall.Kill(leader, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	if got := Members(leader); !slices.Equal(got, []int{child}) {
		t.Fatalf("after the leader died, Members = %v, want the orphan %d", got, child)
	}
	_ = syscall.Kill(child, syscall.SIGKILL)
	for deadline := time.Now().Add(10 * time.Second); Alive(child); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d still alive after SIGKILL", child)
		}
	}
	if got := Members(leader); len(got) != 0 {
		t.Fatalf("after both died, Members = %v", got)
	}
}

func TestStatOfAMissingProcess(t *testing.T) {
	if _, _, err := Stat(1 << 30); err == nil {
		t.Fatal("no error for a pid that cannot exist")
	}
	if Alive(1 << 30) {
		t.Fatal("a pid that cannot exist is alive")
	}
}
