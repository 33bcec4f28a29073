package proc

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

func TestWait(t *testing.T) {
	w := proctest.StartWrapper(t)
	stopped := func(st byte) bool { return st == 'T' }

	// Nothing is stopped: a short wait for it must time out and say who.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := Wait(ctx, w.Pid(), stopped)
	cancel()
	if err == nil {
		t.Fatal("Wait for a stopped group returned while nothing was stopped")
	}

	// The leader stopped alone: Wait must still see the running child.
	if err := syscall.Kill(w.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, _ := State(w.Pid()); st == 'T' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leader did not stop")
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	err = Wait(ctx, w.Pid(), stopped)
	cancel()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("process %d ", w.Child)) {
		t.Fatalf("Wait for a stopped group with only its leader stopped = %v, want an error naming the child %d", err, w.Child)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := syscall.Kill(-w.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := Wait(ctx, w.Pid(), stopped); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{w.Pid(), w.Child} {
		if st, _ := State(p); st != 'T' {
			t.Fatalf("Wait returned with %d in state %c", p, st)
		}
	}
	if err := syscall.Kill(-w.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := Wait(ctx, w.Pid(), Gone); err != nil {
		t.Fatal(err)
	}
	if Alive(w.Child) {
		t.Fatalf("Wait(Gone) returned with %d alive", w.Child)
	}
}

func TestChildren(t *testing.T) {
	w := proctest.StartWrapper(t)
	if got := Children(w.Pid()); !slices.Equal(got, []int{w.Child}) {
		t.Fatalf("Children(%d) = %v, want [%d]", w.Pid(), got, w.Child)
	}
	if got := Children(w.Child); len(got) != 0 {
		t.Fatalf("Children of a sleep = %v", got)
	}
	if got := Children(1 << 30); got != nil {
		t.Fatalf("Children of a pid that cannot exist = %v", got)
	}
}
