package store

import (
	"time"

	"github.com/tidwall/buntdb"

	"github.com/kvchaos/kvchaos/server/wal"
)

// maybeSnapshot starts a snapshot when the log has grown past
// CompactMinBytes and past twice the dataset, so that a restart replays
// about as much as is live rather than all history. It runs in the committer
// between groups: the copy of the key set is taken with no write in flight,
// the log rotates to a new segment at that revision, and the snapshot file is
// written in the background. Old segments are removed only once the snapshot
// is durable; a crash at any point leaves a loadable directory.
func (s *Store) maybeSnapshot() {
	if s.snapshotting.Load() {
		return
	}
	_, dataset := s.idx.totals()
	size := s.wlog.Size()
	if size < s.opts.CompactMinBytes || size < 2*dataset {
		return
	}
	s.snapshot()
}

// snapshot writes a snapshot of the current state in the background unless
// one is running. It returns at once; Stats().Snapshots counts completed
// snapshots. It must not run beside a commit, so only the committer calls
// it, between groups.
func (s *Store) snapshot() {
	if !s.snapshotting.CompareAndSwap(false, true) {
		return
	}
	rev := s.rev.Load()
	now := s.opts.Now().UnixNano()
	var entries []wal.Entry
	err := s.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			it, err := decodeItem(v)
			if err != nil || it.expired(now) {
				return true
			}
			// Strings are immutable: the entry may alias them safely.
			entries = append(entries, wal.Entry{Revision: it.rev, Key: k, ContentType: it.contentType,
				ExpiresAt: it.expiresAt, Value: bytesOf(it.value)})
			return true
		})
	})
	if err == nil {
		err = s.wlog.Rotate(rev + 1)
	}
	if err != nil {
		s.log.Error("snapshot not started", "err", err)
		s.snapshotting.Store(false)
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.snapshotting.Store(false)
		start := time.Now()
		path, size, err := wal.WriteSnapshot(s.opts.Dir, rev, now, entries)
		if err != nil {
			s.log.Error("snapshot failed; the log is kept", "err", err)
			return
		}
		s.counters.snapshots.Add(1)
		s.counters.snapshotBytes.Store(size)
		s.log.Info("snapshot written", "file", path, "revision", rev, "keys", len(entries),
			"bytes", size, "took", time.Since(start).String())
		s.dropCovered(rev)
	}()
}
