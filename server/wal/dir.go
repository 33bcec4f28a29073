package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// File names in a data directory.
const (
	LockFile     = "LOCK"
	segPrefix    = "wal-"
	segSuffix    = ".log"
	snapPrefix   = "snap-"
	snapSuffix   = ".snap"
	tmpSuffix    = ".tmp"
	backupSuffix = ".bak"
)

// ErrLocked reports that another process holds the data directory's lock.
var ErrLocked = errors.New("data directory in use by another process")

// SegmentName is the file name of the log segment whose first record has
// revision first.
func SegmentName(first uint64) string { return fmt.Sprintf("%s%020d%s", segPrefix, first, segSuffix) }

// SnapshotName is the file name of the snapshot taken at revision rev.
func SnapshotName(rev uint64) string { return fmt.Sprintf("%s%020d%s", snapPrefix, rev, snapSuffix) }

// File is a data file found in a directory.
type File struct {
	Path string
	// Rev is the segment's first revision or the snapshot's revision.
	Rev uint64
}

// Files lists the directory's log segments and snapshots, each in ascending
// revision order.
func Files(dir string) (segments, snapshots []File, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if rev, ok := parseName(name, segPrefix, segSuffix); ok {
			segments = append(segments, File{filepath.Join(dir, name), rev})
		} else if rev, ok := parseName(name, snapPrefix, snapSuffix); ok {
			snapshots = append(snapshots, File{filepath.Join(dir, name), rev})
		}
	}
	byRev := func(fs []File) { sort.Slice(fs, func(i, j int) bool { return fs[i].Rev < fs[j].Rev }) }
	byRev(segments)
	byRev(snapshots)
	return segments, snapshots, nil
}

func parseName(name, prefix, suffix string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	rev, err := strconv.ParseUint(name[len(prefix):len(name)-len(suffix)], 10, 64)
	return rev, err == nil
}

// RemoveTemps removes temporary files an interrupted snapshot left behind.
func RemoveTemps(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, "*"+tmpSuffix))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			return fmt.Errorf("remove leftover %s: %w", m, err)
		}
	}
	return nil
}

// Lock holds a data directory exclusively (flock on dir/LOCK) for as long as
// the process lives or until Unlock.
type Lock struct{ f *os.File }

// LockDir takes the directory's lock without waiting. It fails with an error
// wrapping ErrLocked, naming the holder's pid when known, if another process
// holds it.
func LockDir(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("%s is held by another kvserver (pid %s): %w", path, pid, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}

// SyncDir fsyncs a directory so that creates, renames and removes in it are
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// Mapped is a file's content mapped read-only into memory.
type Mapped struct {
	Data []byte
	m    []byte
}

// MapFile maps path read-only. An empty file maps to an empty slice.
// Mapping keeps large logs and snapshots out of the Go heap during recovery.
func MapFile(path string) (*Mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return &Mapped{}, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		// Some filesystems (certain FUSE setups) refuse mmap: read instead.
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, fmt.Errorf("map %s: %w", path, err)
		}
		return &Mapped{Data: data}, nil
	}
	return &Mapped{Data: m, m: m}, nil
}

// Close unmaps the file. Data must not be used afterwards.
func (m *Mapped) Close() error {
	if m.m == nil {
		return nil
	}
	err := unix.Munmap(m.m)
	m.m, m.Data = nil, nil
	return err
}
