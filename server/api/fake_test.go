package api

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kvchaos/kvchaos/server/store"
)

// fakeStore is a small in-memory Store for handler tests: it follows the
// store's contract (conditions, revisions, TTLs, all-or-nothing) and can be
// told to fail every write, to report itself degraded, or to panic.
type fakeStore struct {
	mu       sync.Mutex
	data     map[string]store.Entry
	rev      uint64
	applyErr error // returned by Apply when set
	degraded error
	panicMsg string // Get panics with it when set
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore { return &fakeStore{data: map[string]store.Entry{}} }

func (f *fakeStore) live(m map[string]store.Entry, key string) (store.Entry, bool) {
	e, ok := m[key]
	if ok && !e.ExpiresAt.IsZero() && !time.Now().Before(e.ExpiresAt) {
		return store.Entry{}, false
	}
	return e, ok
}

func (f *fakeStore) Get(key string) (store.Entry, error) {
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.live(f.data, key)
	if !ok {
		return store.Entry{}, store.ErrNotFound
	}
	return e, nil
}

func (f *fakeStore) Head(key string) (store.Meta, error) {
	e, err := f.Get(key)
	return e.Meta, err
}

func (f *fakeStore) List(prefix, after string, limit int) ([]store.Meta, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.data {
		if _, ok := f.live(f.data, k); ok && strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	next := ""
	if len(keys) > limit {
		keys = keys[:limit]
		next = keys[limit-1]
	}
	out := make([]store.Meta, len(keys))
	for i, k := range keys {
		out[i] = f.data[k].Meta
	}
	return out, next, nil
}

func (f *fakeStore) Apply(ops []store.Op) (store.TxResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applyErr != nil {
		return store.TxResult{}, f.applyErr
	}
	next := make(map[string]store.Entry, len(f.data))
	for k, v := range f.data {
		next[k] = v
	}
	rev := f.rev + 1
	res := store.TxResult{Revision: rev, Results: make([]store.OpResult, len(ops))}
	wrote := false
	for i, op := range ops {
		cur, exists := f.live(next, op.Key)
		r := store.OpResult{Kind: op.Kind, Key: op.Key}
		if exists {
			m := cur.Meta
			r.Meta = &m
		}
		switch {
		case op.IfRevision != 0 && (!exists || cur.Revision != op.IfRevision):
			return store.TxResult{}, &store.ConditionError{OpIndex: i, Key: op.Key, Reason: fmt.Sprintf("want revision %d", op.IfRevision)}
		case op.IfAbsent && exists:
			return store.TxResult{}, &store.ConditionError{OpIndex: i, Key: op.Key, Reason: "key exists"}
		}
		switch op.Kind {
		case store.OpSet:
			e := store.Entry{Meta: store.Meta{Key: op.Key, Size: len(op.Value), Revision: rev, ContentType: op.ContentType}, Value: op.Value}
			if op.TTL > 0 {
				e.ExpiresAt = time.Now().Add(op.TTL)
			}
			next[op.Key], wrote = e, true
			r.Created, r.Meta = !exists, &e.Meta
		case store.OpDelete:
			if !exists && op.MustExist {
				return store.TxResult{}, store.ErrNotFound
			}
			delete(next, op.Key)
			r.Deleted, wrote = exists, wrote || exists
		case store.OpGet:
			if exists {
				e := cur
				r.Found, r.Entry = true, &e
			}
		case store.OpCheck:
		default:
			return store.TxResult{}, errors.New("bad op")
		}
		res.Results[i] = r
	}
	if wrote {
		f.data, f.rev = next, rev
	} else {
		res.Revision = f.rev
	}
	return res, nil
}

func (f *fakeStore) Stats() store.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return store.Stats{Keys: len(f.data), Revision: f.rev, Degraded: f.degraded}
}
