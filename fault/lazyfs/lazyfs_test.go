package lazyfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// mount mounts a lazy fs over a fresh backing dir, or skips without root.
func mount(t *testing.T) (*FS, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lazyfs needs root to mount")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	base, err := os.MkdirTemp("", "kvchaos-lazyfstest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	mnt, back := filepath.Join(base, "mnt"), filepath.Join(base, "back")
	for _, d := range []string{mnt, back} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Mount(mnt, back)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Unmount() })
	return l, back
}

func TestLazyFS(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run works in the mount and returns the file name and what the
		// backing file must hold after DropUnsynced.
		run func(t *testing.T, mnt string) (string, []byte)
	}{
		{"unsynced write is lost", func(t *testing.T, mnt string) (string, []byte) {
			write(t, mnt, "f", 0, []byte("hello"), false)
			return "f", []byte{}
		}},
		{"fsynced write survives", func(t *testing.T, mnt string) (string, []byte) {
			write(t, mnt, "f", 0, []byte("hello"), true)
			return "f", []byte("hello")
		}},
		{"overwrite inside a page after sync", func(t *testing.T, mnt string) (string, []byte) {
			write(t, mnt, "f", 0, bytes.Repeat([]byte("a"), 10000), true)
			write(t, mnt, "f", 5000, []byte("BBB"), false)
			return "f", bytes.Repeat([]byte("a"), 10000)
		}},
		{"partial page overwrite synced keeps neighbours", func(t *testing.T, mnt string) (string, []byte) {
			write(t, mnt, "f", 0, bytes.Repeat([]byte("a"), 10000), true)
			write(t, mnt, "f", 5000, []byte("BBB"), true)
			want := bytes.Repeat([]byte("a"), 10000)
			copy(want[5000:], "BBB")
			return "f", want
		}},
		{"truncate is durable at once", func(t *testing.T, mnt string) (string, []byte) {
			write(t, mnt, "f", 0, bytes.Repeat([]byte("a"), 9000), true)
			if err := os.Truncate(filepath.Join(mnt, "f"), 100); err != nil {
				t.Fatal(err)
			}
			return "f", bytes.Repeat([]byte("a"), 100)
		}},
		{"rename is durable, data only as synced", func(t *testing.T, mnt string) (string, []byte) {
			write(t, mnt, "tmp", 0, []byte("snap"), true)
			write(t, mnt, "tmp", 4, []byte("-more"), false)
			if err := os.Rename(filepath.Join(mnt, "tmp"), filepath.Join(mnt, "snap")); err != nil {
				t.Fatal(err)
			}
			return "snap", []byte("snap")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, back := mount(t)
			name, want := tc.run(t, l.Mountpoint())
			l.DropUnsynced()
			if err := l.Unmount(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(back, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("after power loss %s holds %d bytes (%v), want %d", name, len(got), err, len(want))
			}
		})
	}
}

// write writes b at off in mnt/name (creating it), fsyncs when asked, and
// checks a read through the mount sees it.
func write(t *testing.T, mnt, name string, off int64, b []byte, sync bool) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(mnt, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len(b))
	if _, err := f.ReadAt(got, off); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read back through the mount: %v", err)
	}
}

func TestCrashKeepsChosenPages(t *testing.T) {
	l, back := mount(t)
	write(t, l.Mountpoint(), "f", 0, bytes.Repeat([]byte("a"), pageSize), true)
	write(t, l.Mountpoint(), "f", pageSize, bytes.Repeat([]byte("b"), 3*pageSize), false)
	n := 0
	dropped, kept, err := l.Crash(func() bool { n++; return n == 3 }) // pages go in file order
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 2*pageSize || kept != pageSize {
		t.Fatalf("dropped %d kept %d, want %d and %d", dropped, kept, 2*pageSize, pageSize)
	}
	if err := l.Unmount(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(back, "f"))
	want := append(bytes.Repeat([]byte("a"), pageSize), make([]byte, 2*pageSize)...)
	want = append(want, bytes.Repeat([]byte("b"), pageSize)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("after a partial writeback the file has %d bytes, not synced page + 2 zero pages + the kept page", len(got))
	}
}
