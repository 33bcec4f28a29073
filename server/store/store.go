package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/buntdb"

	"github.com/kvchaos/kvchaos/server/wal"
)

// Options configure a Store. The zero value of each field means its default.
type Options struct {
	// Dir is the data directory, created if missing. Required.
	Dir string
	// Sync is the durability policy; default SyncAlways.
	Sync SyncPolicy
	// MaxMemory caps the accounted dataset size in bytes (keys + values +
	// content types + KeyOverhead per key); 0 means unlimited.
	MaxMemory int64
	// Eviction says what to do at MaxMemory; default NoEviction.
	Eviction EvictionPolicy
	// Logger receives recovery and error reports; nil discards them.
	Logger *slog.Logger
	// CompactMinBytes is the log size below which no snapshot is taken;
	// default 64 MiB. A snapshot is taken when the log is larger than this
	// and than twice the dataset, so restart time tracks live data.
	CompactMinBytes int64
	// MaxGroupBytes caps the values grouped into one log write; default 8 MiB.
	MaxGroupBytes int64
	// MaxGroup caps the transactions grouped into one log write (and one
	// fsync); default 1024. 1 turns group commit off (for measuring it).
	MaxGroup int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Sync == "" {
		o.Sync = SyncAlways
	}
	if o.Eviction == "" {
		o.Eviction = NoEviction
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.CompactMinBytes <= 0 {
		o.CompactMinBytes = 64 << 20
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 1024
	}
	if o.MaxGroupBytes <= 0 {
		o.MaxGroupBytes = 8 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store is an open data directory. Its methods are safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger
	db   *buntdb.DB
	lock *wal.Lock
	wlog *wal.Log
	idx  *index

	// sendMu orders sends on reqs against Close closing it.
	sendMu sync.RWMutex
	closed bool
	reqs   chan *request
	done   chan struct{} // closed when the committer and helpers have stopped
	stop   chan struct{} // tells helpers (sweeper, syncer) to stop
	bg     sync.WaitGroup

	rev          atomic.Uint64
	snapshotting atomic.Bool
	degraded     atomic.Pointer[degradedErr]
	counters     counters

	mutantPrev sync.Map // stale-read mutant: key -> previous item
}

type degradedErr struct{ err error }

type counters struct {
	evictions, expirations, commits, groups, fsyncs, writeErrors, snapshots atomic.Uint64
	fsyncNanos, snapshotBytes, tornBytes                                    atomic.Int64
	recovery                                                                atomic.Int64
}

// Open opens (creating if needed) the data directory, takes its lock, loads
// the newest snapshot and replays the log, cutting a torn tail. It fails with
// an error wrapping ErrLocked when another process holds the directory, and
// ErrCorrupt when a file is damaged in the middle.
func Open(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if opts.Dir == "" {
		return nil, errors.New("store: no data directory given")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := wal.LockDir(opts.Dir)
	if err != nil {
		if errors.Is(err, wal.ErrLocked) {
			return nil, fmt.Errorf("%w: %v", ErrLocked, err)
		}
		return nil, err
	}
	db, err := buntdb.Open(":memory:")
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("open buntdb: %w", err)
	}
	s := &Store{
		opts: opts,
		log:  opts.Logger,
		db:   db,
		lock: lock,
		idx:  newIndex(uint64(opts.Now().UnixNano()), opts.MaxMemory > 0 && opts.Eviction != NoEviction),
		reqs: make(chan *request, 1024),
		done: make(chan struct{}),
		stop: make(chan struct{}),
	}
	start := time.Now()
	if err := s.recover(); err != nil {
		db.Close()
		lock.Unlock()
		if errors.Is(err, wal.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, err
	}
	s.counters.recovery.Store(int64(time.Since(start)))
	keys, bytes := s.idx.totals()
	s.log.Info("data loaded", "dir", opts.Dir, "keys", keys, "dataset_bytes", bytes,
		"revision", s.rev.Load(), "took", time.Since(start).String())
	go s.commitLoop()
	s.bg.Add(1)
	go s.sweepLoop()
	if opts.Sync == SyncEverySec {
		s.bg.Add(1)
		go s.syncLoop()
	}
	if err := s.enforceLimit(); err != nil {
		s.log.Warn("dataset over --max-memory after load", "err", err)
	}
	return s, nil
}

// Close stops accepting writes, waits for the ones in flight, syncs and
// closes the log and releases the directory. It is idempotent.
func (s *Store) Close() error {
	s.sendMu.Lock()
	if s.closed {
		s.sendMu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.sendMu.Unlock()
	<-s.done
	close(s.stop)
	s.bg.Wait()
	err := s.wlog.Close()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	if uerr := s.lock.Unlock(); err == nil {
		err = uerr
	}
	return err
}

// Get returns key's entry. Entry.Value must not be modified.
func (s *Store) Get(key string) (Entry, error) {
	now := s.opts.Now().UnixNano()
	var (
		e     Entry
		found bool
	)
	err := s.db.View(func(tx *buntdb.Tx) error {
		it, ok, err := s.lookup(tx, key, now)
		if err != nil || !ok {
			return err
		}
		found = true
		if mutant.staleRead {
			if prev, ok := s.mutantPrev.Load(key); ok && now%4 == 0 {
				it = prev.(item)
			}
		}
		e = Entry{Meta: it.meta(key), Value: bytesOf(it.value)}
		return nil
	})
	if err != nil {
		return Entry{}, err
	}
	if !found {
		return Entry{}, ErrNotFound
	}
	s.idx.touch(key, now)
	return e, nil
}

// Head returns key's metadata.
func (s *Store) Head(key string) (Meta, error) {
	e, err := s.Get(key)
	return e.Meta, err
}

// List returns up to limit keys (10000 when limit is <= 0 or larger) that
// start with prefix and sort after after, in order, and the key to pass as
// after for the next page ("" when there is none).
func (s *Store) List(prefix, after string, limit int) ([]Meta, string, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	now := s.opts.Now().UnixNano()
	pivot := prefix
	if after >= pivot {
		pivot = after + "\x00"
	}
	var out []Meta
	more := false
	err := s.db.View(func(tx *buntdb.Tx) error {
		var derr error
		err := tx.AscendGreaterOrEqual("", pivot, func(k, v string) bool {
			if !strings.HasPrefix(k, prefix) {
				return false
			}
			it, err := decodeItem(v)
			if err != nil {
				derr = fmt.Errorf("key %q: %w", k, err)
				return false
			}
			if it.expired(now) {
				return true
			}
			if len(out) == limit {
				more = true
				return false
			}
			out = append(out, it.meta(k))
			return true
		})
		if err != nil {
			return err
		}
		return derr
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].Key
	}
	return out, next, nil
}

// lookup reads key's live item inside a transaction.
func (s *Store) lookup(tx *buntdb.Tx, key string, now int64) (item, bool, error) {
	v, err := tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return item{}, false, nil
	}
	if err != nil {
		return item{}, false, err
	}
	it, err := decodeItem(v)
	if err != nil {
		return item{}, false, fmt.Errorf("key %q: %w", key, err)
	}
	if it.expired(now) {
		return item{}, false, nil
	}
	return it, true, nil
}

// Stats returns a point-in-time view of the store.
func (s *Store) Stats() Stats {
	keys, bytes := s.idx.totals()
	st := Stats{
		Keys:               keys,
		DatasetBytes:       bytes,
		MaxMemory:          s.opts.MaxMemory,
		Revision:           s.rev.Load(),
		Evictions:          s.counters.evictions.Load(),
		Expirations:        s.counters.expirations.Load(),
		LogBytes:           s.wlog.Size(),
		SnapshotBytes:      s.counters.snapshotBytes.Load(),
		Snapshots:          s.counters.snapshots.Load(),
		Commits:            s.counters.commits.Load(),
		Groups:             s.counters.groups.Load(),
		Fsyncs:             s.counters.fsyncs.Load(),
		FsyncSeconds:       float64(s.counters.fsyncNanos.Load()) / 1e9,
		WriteErrors:        s.counters.writeErrors.Load(),
		RecoveryDuration:   time.Duration(s.counters.recovery.Load()),
		RecoveredTornBytes: s.counters.tornBytes.Load(),
	}
	if d := s.degraded.Load(); d != nil {
		st.Degraded = d.err
	}
	return st
}

// Check reports on the data directory's files (the `kvserver check`
// command). It takes the directory's lock, so it refuses to run beside a
// server, and returns an error wrapping ErrCorrupt when a start would refuse.
func Check(dir string, w io.Writer) error {
	lock, err := wal.LockDir(dir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := wal.Check(dir, w); err != nil {
		if errors.Is(err, wal.ErrCorrupt) {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return err
	}
	return nil
}

// Repair cuts damaged files back to their last good transaction, keeping
// backups (the `kvserver repair` command).
func Repair(dir string, w io.Writer) error {
	lock, err := wal.LockDir(dir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	return wal.Repair(dir, w)
}
