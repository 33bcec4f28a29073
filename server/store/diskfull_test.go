package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDiskFull runs the store on a 1 MiB tmpfs (root only): writes past the
// space fail with ErrDiskFull and leave nothing behind, reads keep working,
// the store reports itself degraded, and once the filesystem grows writes
// work again without a restart; a restart then loads cleanly.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a size-limited tmpfs")
	}
	dir, err := os.MkdirTemp("", "kvchaos-store-diskfull-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		os.Remove(dir)
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
	})
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	val := bytes.Repeat([]byte("d"), 64<<10)
	var stored []string
	var full error
	for i := range 64 {
		k := fmt.Sprint("k", i)
		if _, err := s.Apply([]Op{{Kind: OpSet, Key: k, Value: val}}); err != nil {
			full = err
			break
		}
		stored = append(stored, k)
	}
	if !errors.Is(full, ErrDiskFull) {
		t.Fatalf("want ErrDiskFull after %d writes, got %v", len(stored), full)
	}
	if s.Stats().Degraded == nil {
		t.Fatal("store not degraded after a failed write")
	}
	for _, k := range stored {
		if e, err := s.Get(k); err != nil || !bytes.Equal(e.Value, val) {
			t.Fatalf("read %s while full: %v", k, err)
		}
	}
	if _, err := s.Get(fmt.Sprint("k", len(stored))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the failed write is visible: %v", err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT, "size=8m"); err != nil {
		t.Fatalf("grow tmpfs: %v", err)
	}
	if _, err := s.Apply([]Op{{Kind: OpSet, Key: "after", Value: val}}); err != nil {
		t.Fatalf("write after space came back: %v", err)
	}
	if s.Stats().Degraded != nil {
		t.Fatal("still degraded after a successful write")
	}
	s.Close()
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("restart after disk full: %v", err)
	}
	for _, k := range append(stored, "after") {
		if _, err := s.Get(k); err != nil {
			t.Fatalf("after restart %s: %v", k, err)
		}
	}
	if got := s.Stats().RecoveredTornBytes; got != 0 {
		t.Fatalf("disk full left %d torn bytes behind", got)
	}
}
