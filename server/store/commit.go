package store

import (
	"errors"
	"fmt"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/tidwall/buntdb"

	"github.com/kvchaos/kvchaos/server/wal"
)

// request is one transaction waiting for the committer.
type request struct {
	ops []Op
	// expire, when set, makes this an internal request that deletes those
	// keys if they are still expired. Expiry is not logged: an expiry time
	// is absolute, so a replay drops the key by itself.
	expire []string
	// evict, when set, is an internal request that evicts down to the limit.
	evict bool

	res  TxResult
	err  error
	done chan struct{}
}

// Apply runs ops as one atomic transaction. Transactions that write wait for
// the log write (and, under SyncAlways, the fsync) that covers them; a
// read-only transaction reads the committed state directly.
func (s *Store) Apply(ops []Op) (TxResult, error) {
	if len(ops) == 0 {
		return TxResult{Revision: s.rev.Load()}, nil
	}
	if readOnly(ops) {
		return s.applyReadOnly(ops)
	}
	return s.submit(&request{ops: ops})
}

func (s *Store) submit(r *request) (TxResult, error) {
	r.done = make(chan struct{})
	s.sendMu.RLock()
	if s.closed {
		s.sendMu.RUnlock()
		return TxResult{}, ErrClosed
	}
	s.reqs <- r
	s.sendMu.RUnlock()
	<-r.done
	return r.res, r.err
}

func readOnly(ops []Op) bool {
	for i := range ops {
		if ops[i].Kind == OpSet || ops[i].Kind == OpDelete {
			return false
		}
	}
	return true
}

func (s *Store) applyReadOnly(ops []Op) (TxResult, error) {
	now := s.opts.Now().UnixNano()
	var res TxResult
	err := s.db.View(func(tx *buntdb.Tx) error {
		p := planner{s: s, tx: tx, now: now, rev: s.rev.Load()}
		var err error
		res, err = p.run(ops)
		return err
	})
	if err != nil {
		return TxResult{}, err
	}
	for i := range ops {
		s.idx.touch(ops[i].Key, now)
	}
	return res, nil
}

// commitLoop is the single writer: it takes every waiting transaction,
// applies them in one buntdb write transaction, writes their log records with
// one write and at most one fsync, and only then makes them visible and
// answers their callers (group commit).
func (s *Store) commitLoop() {
	defer close(s.done)
	group := make([]*request, 0, s.opts.MaxGroup)
	for r := range s.reqs {
		group = append(group[:0], r)
		bytes := opBytes(r)
	drain:
		for len(group) < s.opts.MaxGroup && bytes < s.opts.MaxGroupBytes {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
				bytes += opBytes(r)
			default:
				break drain
			}
		}
		s.commitGroup(group)
		for _, r := range group {
			close(r.done)
		}
		s.maybeSnapshot()
	}
}

func opBytes(r *request) int64 {
	var n int64
	for i := range r.ops {
		n += int64(len(r.ops[i].Value))
	}
	return n
}

// commitGroup commits a group of requests in three steps: plan every
// transaction under a buntdb read transaction (each sees the ones before it
// through the group's pending set; each succeeds or fails on its own
// conditions), write all their records with one write and at most one fsync
// while readers go on, then apply the group to buntdb in one short write
// transaction. A log write or fsync error fails every transaction of the
// group that wrote, and none of them ever becomes visible.
func (s *Store) commitGroup(group []*request) {
	now := s.opts.Now().UnixNano()
	var (
		buf     []byte
		wrote   []*request
		pend    = &pending{}
		rev     = s.rev.Load()
		synced  = s.wlog.Synced()
		evicted uint64
		expired uint64
		didSync bool
	)
	fail := func(err error, what string) {
		serr := err
		if !errors.Is(err, ErrDiskFull) && !errors.Is(err, ErrIO) {
			serr = classify(err)
		}
		s.log.Error(what+": transactions not applied", "err", err, "transactions", len(wrote))
		// Every transaction of the group fails, not only those that wrote:
		// one refused on a condition may have seen another's pending change
		// that never happened, and one not yet planned has no answer.
		for _, r := range group {
			if r.expire == nil && !r.evict {
				r.res, r.err = TxResult{}, serr
			}
		}
		s.counters.writeErrors.Add(1)
		s.degraded.Store(&degradedErr{serr})
		s.reindex(pend)
	}
	err := s.db.View(func(tx *buntdb.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("store: panic in commit: %v\n%s", p, debug.Stack())
			}
		}()
		for _, r := range group {
			switch {
			case r.expire != nil:
				expired += s.expireKeys(tx, r.expire, now, pend)
				continue
			case r.evict:
				if n := s.evictToLimit(now, rev+1, synced, pend, &buf); n > 0 {
					rev++
					evicted += uint64(n)
					wrote = append(wrote, r)
				}
				continue
			}
			p := planner{s: s, tx: tx, pend: pend, now: now, rev: rev + 1, synced: synced}
			res, err := p.run(r.ops)
			if err == nil {
				err = p.fitMemory()
			}
			if err != nil {
				r.err = err
				continue
			}
			rev++
			res.Revision = rev
			r.res = res
			p.apply()
			evicted += uint64(len(p.victims))
			buf = p.appendRecord(buf)
			wrote = append(wrote, r)
		}
		return nil
	})
	if err != nil {
		fail(err, "planning failed")
		return
	}
	if len(buf) > 0 {
		if err := s.wlog.Append(buf); err != nil {
			fail(classify(err), "log write failed")
			return
		}
		if s.opts.Sync == SyncAlways && !mutant.noFsync {
			start := time.Now()
			err := s.wlog.Sync(true)
			s.counters.fsyncs.Add(1)
			s.counters.fsyncNanos.Add(int64(time.Since(start)))
			if err != nil {
				fail(classify(err), "log fsync failed")
				return
			}
			didSync = true
		}
	}
	if len(pend.keys) > 0 {
		err := s.db.Update(func(tx *buntdb.Tx) (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("store: panic in apply: %v\n%s", p, debug.Stack())
				}
			}()
			if err := pend.write(tx); err != nil {
				return err
			}
			// Inside the write transaction: a reader never sees the new
			// items with the old revision.
			s.rev.Store(rev)
			return nil
		})
		if err != nil {
			// The log holds the group but memory does not: a restart
			// brings it back, so the outcome is unknown to clients; the
			// revisions are used up either way.
			s.rev.Store(rev)
			fail(fmt.Errorf("%w: logged but not applied in memory: %v", ErrIO, err), "apply failed")
			return
		}
	}
	s.rev.Store(rev)
	s.counters.evictions.Add(evicted)
	s.counters.expirations.Add(expired)
	if len(buf) > 0 {
		s.counters.groups.Add(1)
		s.counters.commits.Add(uint64(len(wrote)))
		if didSync || s.opts.Sync != SyncAlways {
			s.degraded.Store(nil)
		}
	}
}

// classify maps a log error to the store's sentinel errors, keeping the
// original text.
func classify(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %v", ErrDiskFull, err)
	default:
		return fmt.Errorf("%w: %v", ErrIO, err)
	}
}

// reindex brings the index back in line with buntdb after a failed group:
// each key the group touched is re-read.
func (s *Store) reindex(pend *pending) {
	now := s.opts.Now().UnixNano()
	_ = s.db.View(func(tx *buntdb.Tx) error {
		for k := range pend.keys {
			// Expired keys still in buntdb are indexed again too (and
			// go back on the expiry heap), or they would never be swept.
			v, err := tx.Get(k)
			if err != nil {
				s.idx.remove(k)
				continue
			}
			if it, err := decodeItem(v); err == nil {
				s.idx.put(k, accountedSize(k, len(it.value), it.contentType), it.expiresAt, now)
			}
		}
		return nil
	})
}

// expireKeys deletes the keys that are still expired.
func (s *Store) expireKeys(tx *buntdb.Tx, keys []string, now int64, pend *pending) uint64 {
	var n uint64
	for _, k := range keys {
		if _, ok := pend.get(k); ok {
			continue // rewritten or deleted by this group
		}
		v, err := tx.Get(k)
		if err != nil {
			continue
		}
		if it, err := decodeItem(v); err == nil && it.expired(now) {
			pend.set(k, &change{del: true})
			s.idx.remove(k)
			n++
		}
	}
	return n
}

// evictToLimit evicts keys until the dataset fits MaxMemory (after a start
// with a smaller limit than the data), logging the evictions as a transaction.
func (s *Store) evictToLimit(now int64, rev uint64, synced int64, pend *pending, buf *[]byte) int {
	_, total := s.idx.totals()
	if s.opts.MaxMemory <= 0 || total <= s.opts.MaxMemory || s.opts.Eviction == NoEviction {
		return 0
	}
	victims := s.idx.victims(s.opts.Eviction, total-s.opts.MaxMemory, now, func(string) bool { return false }, mutant.evictWrong)
	wtx := wal.Tx{Revision: rev, Time: now, Synced: synced}
	for _, k := range victims {
		if _, ok := pend.get(k); ok {
			continue
		}
		pend.set(k, &change{del: true})
		s.idx.remove(k)
		wtx.Mutations = append(wtx.Mutations, wal.Mutation{Type: wal.Delete, Key: k})
	}
	if len(wtx.Mutations) > 0 {
		*buf = wal.AppendTxRecord(*buf, &wtx)
	}
	return len(wtx.Mutations)
}

func (s *Store) enforceLimit() error {
	_, total := s.idx.totals()
	if s.opts.MaxMemory <= 0 || total <= s.opts.MaxMemory || s.opts.Eviction == NoEviction {
		return nil
	}
	_, err := s.submit(&request{evict: true})
	return err
}

// sweepLoop deletes expired keys: they are already invisible to reads at
// their expiry instant; the sweep frees their memory.
func (s *Store) sweepLoop() {
	defer s.bg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := s.opts.Now().UnixNano()
		if next := s.idx.nextExpiry(); next == 0 || next > now {
			continue
		}
		keys := s.idx.expired(now, 4096)
		if len(keys) == 0 {
			continue
		}
		if _, err := s.submit(&request{expire: keys}); errors.Is(err, ErrClosed) {
			return
		}
	}
}

// syncLoop fsyncs the log once a second under SyncEverySec. A failure cannot
// be reported to the callers (they were answered already): it is logged,
// counted, and /readyz says degraded until a later sync succeeds.
func (s *Store) syncLoop() {
	defer s.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if mutant.noFsync {
			continue
		}
		start := time.Now()
		err := s.wlog.Sync(false)
		s.counters.fsyncs.Add(1)
		s.counters.fsyncNanos.Add(int64(time.Since(start)))
		if err != nil {
			s.counters.writeErrors.Add(1)
			s.log.Error("periodic fsync failed", "err", err)
			s.degraded.Store(&degradedErr{classify(err)})
		}
	}
}
