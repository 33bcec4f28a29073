package store

import (
	"fmt"
	"os"

	"github.com/tidwall/buntdb"

	"github.com/kvchaos/kvchaos/server/wal"
)

// loadBatch is how many mutations one buntdb transaction takes during
// recovery: large enough to be fast, small enough that buntdb's rollback
// bookkeeping stays small.
const loadBatch = 8192

// loader applies recovered state to buntdb and the index in batches. Values
// are copied out of the mapped file when added, so a batch may be flushed
// after the file is unmapped.
type loader struct {
	s       *Store
	now     int64
	pending []loadOp
}

type loadOp struct {
	key  string
	del  bool
	v    string // encoded item
	size int64
	exp  int64
}

func (l *loader) add(rev uint64, m wal.Mutation) error {
	op := loadOp{key: m.Key, del: m.Type == wal.Delete || (m.ExpiresAt != 0 && m.ExpiresAt <= l.now)}
	if !op.del {
		op.v = encodeItem(rev, m.ExpiresAt, m.ContentType, m.Value)
		op.size, op.exp = accountedSize(m.Key, len(m.Value), m.ContentType), m.ExpiresAt
	}
	l.pending = append(l.pending, op)
	if len(l.pending) >= loadBatch {
		return l.flush()
	}
	return nil
}

func (l *loader) flush() error {
	if len(l.pending) == 0 {
		return nil
	}
	err := l.s.db.Update(func(tx *buntdb.Tx) error {
		for i := range l.pending {
			op := &l.pending[i]
			if op.del {
				if _, err := tx.Delete(op.key); err != nil && err != buntdb.ErrNotFound {
					return err
				}
				l.s.idx.remove(op.key)
				continue
			}
			if _, _, err := tx.Set(op.key, op.v, nil); err != nil {
				return err
			}
			l.s.idx.put(op.key, op.size, op.exp, l.now)
		}
		return nil
	})
	clear(l.pending)
	l.pending = l.pending[:0]
	if err != nil {
		return fmt.Errorf("load into memory: %w", err)
	}
	return nil
}

// recover loads the newest snapshot and replays the log segments after it.
// A torn tail of the newest segment is cut (and reported); damage anywhere
// else is an error that names the file and offset.
func (s *Store) recover() error {
	dir := s.opts.Dir
	if err := wal.RemoveTemps(dir); err != nil {
		return err
	}
	segs, snaps, err := wal.Files(dir)
	if err != nil {
		return err
	}
	now := s.opts.Now().UnixNano()
	ld := &loader{s: s, now: now}
	var snapRev uint64
	if len(snaps) > 0 {
		newest := snaps[len(snaps)-1]
		info, err := wal.ReadSnapshot(newest.Path, func(e *wal.Entry) error {
			m := wal.Mutation{Type: wal.Set, Key: e.Key, Value: e.Value, ContentType: e.ContentType, ExpiresAt: e.ExpiresAt}
			if mutant.ttlReset && m.ExpiresAt != 0 {
				m.ExpiresAt = mutantResetTTL(m.ExpiresAt, 0, now)
			}
			return ld.add(e.Revision, m)
		})
		if err == nil {
			err = ld.flush()
		}
		if err != nil {
			return fmt.Errorf("load snapshot %s: %w", newest.Path, err)
		}
		snapRev = info.Revision
		s.counters.snapshotBytes.Store(info.Size)
		s.log.Info("snapshot loaded", "file", newest.Path, "revision", snapRev, "keys", info.Entries)
	}
	rev := snapRev
	loggedRev := snapRev // the highest revision a kept record carries
	var (
		lastPath  string
		lastEnd   int64
		olderSize int64
	)
	for i, seg := range segs {
		m, err := wal.MapFile(seg.Path)
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		res, err := wal.Scan(seg.Path, m.Data, func(p []byte, off int64) error {
			tx, err := wal.DecodeTx(p)
			if err != nil {
				return &wal.CorruptError{Path: seg.Path, Offset: off, Reason: "undecodable transaction: " + err.Error()}
			}
			if tx.Revision == rev && mutant.splitBatch && rev > snapRev {
				rev-- // the split-batch mutant logs one revision in several records
			}
			if tx.Revision <= rev {
				if tx.Revision <= snapRev {
					return nil // covered by the snapshot
				}
				return &wal.CorruptError{Path: seg.Path, Offset: off, Reason: fmt.Sprintf("revision %d after %d", tx.Revision, rev)}
			}
			rev = tx.Revision
			loggedRev = rev
			for _, mu := range tx.Mutations {
				if mutant.ttlReset && mu.ExpiresAt != 0 {
					mu.ExpiresAt = mutantResetTTL(mu.ExpiresAt, tx.Time, now)
				}
				if err := ld.add(tx.Revision, mu); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			err = ld.flush()
		}
		// The payloads alias the mapped file: read them before unmapping.
		beyondRev := wal.MaxRevision(res.BeyondPayloads)
		// A genuine dropped record takes at least a header's worth of the
		// dropped bytes per revision: anything higher is a record forged
		// inside a stored value, not one the log wrote.
		if bound := rev + uint64(res.TornBytes()/wal.HeaderSize); beyondRev > bound {
			beyondRev = bound
		}
		res.BeyondPayloads = nil
		m.Close()
		if err != nil {
			return err
		}
		if res.End != res.Size {
			if i < len(segs)-1 {
				return &wal.CorruptError{Path: seg.Path, Offset: res.End,
					Reason: "torn record in a log segment that is not the newest: " + res.TornReason}
			}
			s.counters.tornBytes.Store(res.TornBytes())
			s.log.Warn("torn log tail cut back to the last complete transaction",
				"file", seg.Path, "offset", res.End, "bytes_dropped", res.TornBytes(), "reason", res.TornReason)
			// Keep revisions from going backwards past what the dropped
			// records had handed out.
			if beyondRev > rev {
				rev = beyondRev
			}
		}
		if i < len(segs)-1 {
			olderSize += res.Size
		} else {
			lastPath, lastEnd = seg.Path, res.End
		}
	}
	s.rev.Store(rev)
	s.wlog, err = wal.OpenLog(dir, lastPath, lastEnd, rev+1, olderSize)
	if err != nil {
		return err
	}
	if rev > loggedRev {
		// The revision was raised past records dropped with a torn tail:
		// log an empty transaction at it, so the next start (or a repair)
		// does not hand those revisions out again.
		floor := wal.Tx{Revision: rev, Time: now, Synced: s.wlog.Synced()}
		if err := s.wlog.Append(wal.AppendTxRecord(nil, &floor)); err != nil {
			return fmt.Errorf("log the revision floor: %w", err)
		}
		if err := s.wlog.Sync(true); err != nil {
			return fmt.Errorf("log the revision floor: %w", err)
		}
	}
	s.dropCovered(snapRev)
	return nil
}

// dropCovered removes snapshots older than the one at snapRev and the log
// segments whose transactions the snapshot holds entirely.
func (s *Store) dropCovered(snapRev uint64) {
	if snapRev == 0 {
		return
	}
	segs, snaps, err := wal.Files(s.opts.Dir)
	if err != nil {
		return
	}
	for _, sn := range snaps {
		if sn.Rev < snapRev {
			s.removeFile(sn.Path)
		}
	}
	current := s.wlog.Path()
	for i, seg := range segs {
		if seg.Path == current || i+1 >= len(segs) || segs[i+1].Rev > snapRev+1 {
			continue
		}
		if st, err := os.Stat(seg.Path); err == nil {
			s.removeFile(seg.Path)
			s.wlog.DroppedOlder(st.Size())
		}
	}
	_ = wal.SyncDir(s.opts.Dir)
}

func (s *Store) removeFile(path string) {
	if err := os.Remove(path); err != nil {
		s.log.Warn("remove covered data file", "file", path, "err", err)
	}
}
