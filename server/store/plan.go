package store

import (
	"errors"
	"fmt"
	"math"

	"github.com/tidwall/buntdb"

	"github.com/kvchaos/kvchaos/server/wal"
)

// planner runs one transaction's ops against an overlay on top of the
// buntdb transaction, so that conditions see the ops before them and nothing
// touches buntdb until every condition of the transaction has held.
type planner struct {
	s    *Store
	tx   *buntdb.Tx // a read transaction: buntdb is changed only after the log write
	pend *pending   // changes of earlier transactions of the same group (nil when read-only)
	now  int64
	rev  uint64 // the revision this transaction commits at
	// synced is the log's fsynced offset when the group was formed; the
	// record carries it so recovery can tell a torn tail from damage.
	synced int64

	overlay map[string]*pstate
	order   []string // changed keys, in first-change order
	victims []string // keys evicted to make room
}

// pstate is a key's state as the transaction sees it.
type pstate struct {
	exists  bool
	it      item
	value   []byte // the new value of a set (it.value is empty then)
	changed bool
}

func (p *planner) state(key string) (*pstate, error) {
	if st, ok := p.overlay[key]; ok {
		return st, nil
	}
	var (
		it  item
		ok  bool
		err error
	)
	if c, inGroup := p.pend.get(key); inGroup {
		if !c.del {
			it, err = decodeItem(c.v)
			ok = err == nil && !it.expired(p.now)
		}
	} else {
		it, ok, err = p.s.lookup(p.tx, key, p.now)
	}
	if err != nil {
		return nil, err
	}
	st := &pstate{exists: ok, it: it}
	if p.overlay == nil {
		p.overlay = make(map[string]*pstate)
	}
	p.overlay[key] = st
	return st, nil
}

func (st *pstate) meta(key string) *Meta {
	if !st.exists {
		return nil
	}
	m := st.it.meta(key)
	if st.changed {
		m.Size = len(st.value)
	}
	return &m
}

// condition checks an op's IfRevision / IfAbsent against st.
func condition(i int, op *Op, st *pstate) error {
	switch {
	case op.IfAbsent && st.exists:
		return &ConditionError{OpIndex: i, Key: op.Key, Reason: fmt.Sprintf("key exists at revision %d", st.it.rev)}
	case op.IfRevision != 0 && !st.exists:
		return &ConditionError{OpIndex: i, Key: op.Key, Reason: fmt.Sprintf("expected revision %d, key does not exist", op.IfRevision)}
	case op.IfRevision != 0 && st.it.rev != op.IfRevision:
		return &ConditionError{OpIndex: i, Key: op.Key, Reason: fmt.Sprintf("expected revision %d, found %d", op.IfRevision, st.it.rev)}
	}
	return nil
}

// run evaluates ops in order. It fails on the first condition that does not
// hold; the overlay then holds changes that must not be applied.
func (p *planner) run(ops []Op) (TxResult, error) {
	res := TxResult{Revision: p.rev, Results: make([]OpResult, len(ops))}
	for i := range ops {
		op := &ops[i]
		st, err := p.state(op.Key)
		if err != nil {
			return TxResult{}, err
		}
		if err := condition(i, op, st); err != nil {
			return TxResult{}, err
		}
		r := OpResult{Kind: op.Kind, Key: op.Key}
		switch op.Kind {
		case OpGet:
			r.Found = st.exists
			if st.exists {
				val := bytesOf(st.it.value)
				if st.changed {
					val = st.value
				}
				r.Entry = &Entry{Meta: *st.meta(op.Key), Value: val}
				r.Meta = &r.Entry.Meta
			}
		case OpCheck:
			r.Found = st.exists
			r.Meta = st.meta(op.Key)
		case OpSet:
			r.Created = !st.exists
			exp := int64(0)
			if op.TTL > 0 {
				exp = p.now + int64(op.TTL)
				if exp < p.now {
					exp = math.MaxInt64
				}
			}
			p.markChanged(op.Key, st)
			st.exists, st.value = true, op.Value
			st.it = item{rev: p.rev, expiresAt: exp, contentType: op.ContentType}
			r.Meta = st.meta(op.Key)
		case OpDelete:
			if !st.exists {
				if op.MustExist {
					return TxResult{}, ErrNotFound
				}
				break
			}
			r.Meta = st.meta(op.Key)
			r.Deleted = true
			p.markChanged(op.Key, st)
			st.exists, st.value, st.it = false, nil, item{}
		default:
			return TxResult{}, fmt.Errorf("store: unknown op kind %q", op.Kind)
		}
		res.Results[i] = r
	}
	return res, nil
}

func (p *planner) markChanged(key string, st *pstate) {
	if !st.changed {
		st.changed = true
		p.order = append(p.order, key)
	}
}

// fitMemory checks the transaction against MaxMemory and, with an eviction
// policy, chooses the keys to evict (never keys the transaction touches).
func (p *planner) fitMemory() error {
	max := p.s.opts.MaxMemory
	if max <= 0 {
		return nil
	}
	var delta int64
	for _, k := range p.order {
		st := p.overlay[k]
		old, _ := p.s.idx.sizeOf(k)
		if st.exists {
			delta += accountedSize(k, len(st.value), st.it.contentType) - old
		} else {
			delta -= old
		}
	}
	_, total := p.s.idx.totals()
	if delta <= 0 || total+delta <= max {
		return nil
	}
	if p.s.opts.Eviction == NoEviction {
		return fmt.Errorf("%w: dataset %d bytes + %d would exceed --max-memory %d", ErrMemoryLimit, total, delta, max)
	}
	skip := func(k string) bool { _, ok := p.overlay[k]; return ok }
	p.victims = p.s.idx.victims(p.s.opts.Eviction, total+delta-max, p.now, skip, mutant.evictWrong)
	if p.victims == nil {
		return fmt.Errorf("%w: %d bytes do not fit in --max-memory %d even after evicting every other key", ErrMemoryLimit, delta, max)
	}
	return nil
}

// pending holds the final state of every key a group of transactions
// changes. It is written to buntdb in one short write transaction after the
// group's log write (and fsync) succeeded, so readers never wait behind an
// fsync and never see a change that is not yet durable.
type pending struct {
	keys map[string]*change
}

type change struct {
	del bool
	v   string // encoded item, when !del
}

func (pd *pending) get(key string) (*change, bool) {
	if pd == nil {
		return nil, false
	}
	c, ok := pd.keys[key]
	return c, ok
}

func (pd *pending) set(key string, c *change) {
	if pd.keys == nil {
		pd.keys = make(map[string]*change)
	}
	pd.keys[key] = c
}

// write applies the pending changes to buntdb.
func (pd *pending) write(tx *buntdb.Tx) error {
	for k, c := range pd.keys {
		if c.del {
			if _, err := tx.Delete(k); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
				return err
			}
			continue
		}
		if _, _, err := tx.Set(k, c.v, nil); err != nil {
			return err
		}
	}
	return nil
}

// apply adds the planned changes and evictions to the group's pending set
// and to the index.
func (p *planner) apply() {
	for _, k := range p.order {
		st := p.overlay[k]
		if mutant.staleRead {
			if old, ok, _ := p.s.lookup(p.tx, k, p.now); ok {
				p.s.mutantPrev.Store(k, old)
			}
		}
		if !st.exists {
			p.pend.set(k, &change{del: true})
			p.s.idx.remove(k)
			continue
		}
		p.pend.set(k, &change{v: encodeItem(st.it.rev, st.it.expiresAt, st.it.contentType, st.value)})
		p.s.idx.put(k, accountedSize(k, len(st.value), st.it.contentType), st.it.expiresAt, p.now)
	}
	for _, k := range p.victims {
		p.pend.set(k, &change{del: true})
		p.s.idx.remove(k)
	}
}

// appendRecord appends the transaction's log record to buf.
func (p *planner) appendRecord(buf []byte) []byte {
	tx := wal.Tx{Revision: p.rev, Time: p.now, Synced: p.synced, Mutations: make([]wal.Mutation, 0, len(p.order)+len(p.victims))}
	for _, k := range p.order {
		st := p.overlay[k]
		if st.exists {
			tx.Mutations = append(tx.Mutations, wal.Mutation{Type: wal.Set, Key: k, Value: st.value,
				ContentType: st.it.contentType, ExpiresAt: st.it.expiresAt})
		} else {
			tx.Mutations = append(tx.Mutations, wal.Mutation{Type: wal.Delete, Key: k})
		}
	}
	for _, k := range p.victims {
		tx.Mutations = append(tx.Mutations, wal.Mutation{Type: wal.Delete, Key: k})
	}
	if mutant.loseWrites {
		return buf
	}
	if mutant.halfBatch && len(tx.Mutations) > 1 {
		tx.Mutations = tx.Mutations[:len(tx.Mutations)/2]
	}
	if mutant.splitBatch && len(tx.Mutations) > 1 {
		// One record per change, all at the transaction's revision: a
		// crash between two of them leaves the transaction in part.
		for _, mu := range tx.Mutations {
			one := tx
			one.Mutations = []wal.Mutation{mu}
			buf = wal.AppendTxRecord(buf, &one)
		}
		return buf
	}
	return wal.AppendTxRecord(buf, &tx)
}
