package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Log appends records to the newest segment of a data directory.
//
// Append writes a whole group of records with one write. A failed or short
// write is cut back (ftruncate) to where the group started, so a partial
// record never stays in the file to break the next start; if even the cut
// fails, the log remembers it and retries the cut before the next write.
// Sync reports fsync errors to the caller: they are never swallowed.
type Log struct {
	dir string

	// syncMu serialises Sync with Rotate and Close, so that the fsync
	// itself runs without mu: appends (and the readers waiting behind the
	// committer) are not held up by a periodic fsync.
	syncMu sync.Mutex
	mu     sync.Mutex
	f      *os.File
	path   string
	end    int64 // end of the last complete, kept write
	synced int64 // bytes of the current segment known to be on stable storage
	dirty  bool  // bytes past end may be in the file and must be cut first
	// syncBroken is set when an fsync failed without the unsynced bytes
	// being cut back (a periodic sync): Linux may have dropped those dirty
	// pages, so the watermark never advances again in this process.
	syncBroken bool
	older      int64 // bytes of older segments still on disk
}

// OpenLog opens the segment at path for appending at offset end (the end of
// its valid records; anything past it is cut), or, with path "", creates the
// segment whose first revision is first. older is the size of the older
// segments kept in the directory.
func OpenLog(dir, path string, end int64, first uint64, older int64) (*Log, error) {
	l := &Log{dir: dir, older: older}
	if path == "" {
		if err := l.create(first); err != nil {
			return nil, err
		}
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, fmt.Errorf("cut log %s to %d: %w", path, end, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("fsync log %s: %w", path, err)
	}
	l.f, l.path, l.end, l.synced = f, path, end, end
	return l, nil
}

func (l *Log) create(first uint64) error {
	path := filepath.Join(l.dir, SegmentName(first))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create log segment: %w", err)
	}
	if err := SyncDir(l.dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	l.f, l.path, l.end, l.synced, l.dirty = f, path, 0, 0, false
	return nil
}

// Append writes buf (whole records) at the end of the log. On error nothing
// of buf stays in the file (or, if cutting it failed, it is cut before the
// next write), and the error wraps the system's errno.
func (l *Log) Append(buf []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("log closed")
	}
	if l.dirty {
		if err := l.f.Truncate(l.end); err != nil {
			return fmt.Errorf("cut log back to %d: %w", l.end, err)
		}
		l.dirty = false
	}
	n, err := l.f.WriteAt(buf, l.end)
	if err != nil {
		if n > 0 {
			l.dirty = true
			if terr := l.f.Truncate(l.end); terr == nil {
				l.dirty = false
			}
		}
		return fmt.Errorf("write log %s: %w", l.path, err)
	}
	l.end += int64(n)
	return nil
}

// Sync fsyncs the current segment. When sync fails, the bytes written since
// the last successful sync are cut away again if cutBack is set (the callers
// of those writes have not been answered, and no write may run concurrently),
// so that a later successful fsync never makes a failed transaction durable.
func (l *Log) Sync(cutBack bool) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	f, end, path := l.f, l.end, l.path
	done := l.synced == l.end && !l.dirty
	l.mu.Unlock()
	if f == nil {
		return errors.New("log closed")
	}
	if done {
		return nil
	}
	err := f.Sync()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if cutBack {
			l.end = l.synced
			l.dirty = true
			if terr := l.f.Truncate(l.end); terr == nil {
				l.dirty = false
			}
		} else {
			l.syncBroken = true
		}
		return fmt.Errorf("fsync log %s: %w", path, err)
	}
	if end > l.synced && !l.syncBroken {
		l.synced = end
	}
	return nil
}

// Rotate fsyncs the current segment and starts a new one whose first
// revision is first.
func (l *Log) Rotate(first uint64) error {
	if err := l.Sync(false); err != nil {
		return err
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.end == 0 {
		return nil // the current segment is empty and already starts there
	}
	if l.dirty { // a failed write's bytes must not be closed into an old segment
		if err := l.f.Truncate(l.end); err != nil {
			return fmt.Errorf("cut log back to %d before rotating: %w", l.end, err)
		}
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("fsync log before rotating: %w", err)
		}
		l.dirty = false
	}
	old, oldEnd := l.f, l.end
	if err := l.create(first); err != nil {
		return err
	}
	l.older += oldEnd
	return old.Close()
}

// DroppedOlder tells the log that older segments of n bytes were removed.
func (l *Log) DroppedOlder(n int64) {
	l.mu.Lock()
	l.older -= n
	if l.older < 0 {
		l.older = 0
	}
	l.mu.Unlock()
}

// Synced is the offset up to which the current segment is known to be on
// stable storage: records written now carry it (Tx.Synced).
func (l *Log) Synced() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced
}

// Size is the number of bytes in all segments on disk.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.older + l.end
}

// Path is the current segment's path.
func (l *Log) Path() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path
}

// Close fsyncs and closes the log.
func (l *Log) Close() error {
	err := l.Sync(false)
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return err
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
