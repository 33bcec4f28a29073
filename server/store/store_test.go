package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/server/wal"
)

func open(t testing.TB, dir string, mod ...func(*Options)) *Store {
	t.Helper()
	o := Options{Dir: dir}
	for _, m := range mod {
		m(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *Store, key, val string, ops ...func(*Op)) TxResult {
	t.Helper()
	op := Op{Kind: OpSet, Key: key, Value: []byte(val), ContentType: "text/plain"}
	for _, f := range ops {
		f(&op)
	}
	res, err := s.Apply([]Op{op})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return res
}

func mustGet(t *testing.T, s *Store, key, want string) Entry {
	t.Helper()
	e, err := s.Get(key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if string(e.Value) != want {
		t.Fatalf("get %s = %q, want %q", key, e.Value, want)
	}
	return e
}

func mustAbsent(t *testing.T, s *Store, key string) {
	t.Helper()
	if _, err := s.Get(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get %s: err %v, want ErrNotFound", key, err)
	}
}

func TestPutGetDeleteRevisions(t *testing.T) {
	s := open(t, t.TempDir())
	r1 := put(t, s, "a", "1")
	if r1.Revision != 1 || !r1.Results[0].Created {
		t.Fatalf("first put: %+v", r1)
	}
	r2 := put(t, s, "a", "2")
	if r2.Revision != 2 || r2.Results[0].Created {
		t.Fatalf("overwrite: %+v", r2)
	}
	e := mustGet(t, s, "a", "2")
	if e.Revision != 2 || e.ContentType != "text/plain" || e.Size != 1 {
		t.Fatalf("entry %+v", e.Meta)
	}
	res, err := s.Apply([]Op{{Kind: OpDelete, Key: "a", MustExist: true}})
	if err != nil || res.Revision != 3 || !res.Results[0].Deleted {
		t.Fatalf("delete: %+v %v", res, err)
	}
	mustAbsent(t, s, "a")
	if _, err := s.Apply([]Op{{Kind: OpDelete, Key: "a", MustExist: true}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete absent: %v", err)
	}
	if s.Stats().Revision != 3 {
		t.Fatalf("failed delete moved the revision: %d", s.Stats().Revision)
	}
}

func TestConditions(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "k", "v")
	var ce *ConditionError
	_, err := s.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte("x"), IfAbsent: true}})
	if !errors.As(err, &ce) || ce.OpIndex != 0 {
		t.Fatalf("If-None-Match on existing: %v", err)
	}
	_, err = s.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte("x"), IfRevision: 7}})
	if !errors.As(err, &ce) {
		t.Fatalf("If-Match wrong revision: %v", err)
	}
	if _, err := s.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte("x"), IfRevision: 1}}); err != nil {
		t.Fatalf("If-Match right revision: %v", err)
	}
	_, err = s.Apply([]Op{{Kind: OpSet, Key: "nope", Value: []byte("x"), IfRevision: 1}})
	if !errors.As(err, &ce) {
		t.Fatalf("If-Match on absent: %v", err)
	}
}

func TestBatchAllOrNothing(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "a", "1")
	ops := []Op{
		{Kind: OpSet, Key: "b", Value: []byte("2")},
		{Kind: OpGet, Key: "b"},
		{Kind: OpDelete, Key: "a"},
		{Kind: OpCheck, Key: "a", IfRevision: 1}, // a was deleted by op 2
	}
	_, err := s.Apply(ops)
	var ce *ConditionError
	if !errors.As(err, &ce) || ce.OpIndex != 3 {
		t.Fatalf("want condition failure at op 3, got %v", err)
	}
	mustAbsent(t, s, "b")
	mustGet(t, s, "a", "1")
	if s.Stats().Revision != 1 {
		t.Fatalf("rejected batch moved the revision")
	}
	ops = ops[:3]
	res, err := s.Apply(append(ops, Op{Kind: OpCheck, Key: "a", IfAbsent: true}, Op{Kind: OpDelete, Key: "zz"}))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Results[1].Found || string(res.Results[1].Entry.Value) != "2" || res.Results[4].Deleted {
		t.Fatalf("results %+v", res.Results)
	}
	if res.Revision != 2 {
		t.Fatalf("batch revision %d", res.Revision)
	}
	if e := mustGet(t, s, "b", "2"); e.Revision != 2 {
		t.Fatalf("b revision %d", e.Revision)
	}
}

func TestList(t *testing.T) {
	s := open(t, t.TempDir())
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1", "a"} {
		put(t, s, k, k)
	}
	keys := func(ms []Meta) (out []string) {
		for _, m := range ms {
			out = append(out, m.Key)
		}
		return out
	}
	got, next, _ := s.List("a/", "", 2)
	if fmt.Sprint(keys(got)) != "[a/1 a/2]" || next != "a/2" {
		t.Fatalf("page 1: %v %q", keys(got), next)
	}
	got, next, _ = s.List("a/", next, 2)
	if fmt.Sprint(keys(got)) != "[a/3]" || next != "" {
		t.Fatalf("page 2: %v %q", keys(got), next)
	}
	got, _, _ = s.List("", "", 0)
	if fmt.Sprint(keys(got)) != "[a a/1 a/2 a/3 b/1]" {
		t.Fatalf("all: %v", keys(got))
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "a", "1", func(o *Op) { o.TTL = time.Hour })
	put(t, s, "b", "2")
	s.Apply([]Op{{Kind: OpDelete, Key: "b"}, {Kind: OpSet, Key: "c", Value: []byte{0, 255}, ContentType: "application/octet-stream"}})
	before, _ := s.Get("a")
	s.Close()

	s = open(t, dir)
	e := mustGet(t, s, "a", "1")
	if !e.ExpiresAt.Equal(before.ExpiresAt) {
		t.Fatalf("TTL changed across restart: %v -> %v (sub-second precision must survive)", before.ExpiresAt, e.ExpiresAt)
	}
	mustAbsent(t, s, "b")
	if e := mustGet(t, s, "c", "\x00\xff"); e.Revision != 3 || e.ContentType != "application/octet-stream" {
		t.Fatalf("c: %+v", e.Meta)
	}
	if r := put(t, s, "d", "4"); r.Revision != 4 {
		t.Fatalf("revision after restart %d, want 4", r.Revision)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
}

func TestTTLExpiresAtTheInstant(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := open(t, t.TempDir(), func(o *Options) { o.Now = clock })
	put(t, s, "k", "v", func(o *Op) { o.TTL = 1500 * time.Millisecond })
	mu.Lock()
	now = now.Add(1499 * time.Millisecond)
	mu.Unlock()
	mustGet(t, s, "k", "v")
	mu.Lock()
	now = now.Add(time.Millisecond)
	mu.Unlock()
	mustAbsent(t, s, "k")
	if got, _, _ := s.List("", "", 0); len(got) != 0 {
		t.Fatalf("expired key listed: %v", got)
	}
	// The sweeper frees it.
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Keys != 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired key never swept")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Stats().Expirations != 1 {
		t.Fatalf("expirations %d", s.Stats().Expirations)
	}
}

func segmentPath(t *testing.T, dir string) string {
	t.Helper()
	segs, _, err := wal.Files(dir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	return segs[len(segs)-1].Path
}

// TestTornTailEveryCut writes three transactions (the last a batch), then cuts
// the log at every byte of the last record: each start must succeed with the
// first two transactions and none of the batch.
func TestTornTailEveryCut(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "a", "1")
	put(t, s, "b", "2")
	seg := segmentPath(t, dir)
	st, _ := os.Stat(seg)
	twoEnd := st.Size()
	s.Apply([]Op{{Kind: OpSet, Key: "x", Value: []byte("X")}, {Kind: OpSet, Key: "y", Value: []byte("Y")}, {Kind: OpDelete, Key: "a"}})
	s.Close()
	full, _ := os.ReadFile(seg)
	for cut := twoEnd; cut < int64(len(full)); cut++ {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, filepath.Base(seg)), full[:cut], 0o644)
		s, err := Open(Options{Dir: d})
		if err != nil {
			t.Fatalf("cut %d: open: %v", cut, err)
		}
		if _, err := s.Get("x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("cut %d: half a batch visible", cut)
		}
		mustGet(t, s, "a", "1")
		if s.Stats().Revision != 2 {
			t.Fatalf("cut %d: revision %d", cut, s.Stats().Revision)
		}
		if r := put(t, s, "z", "after"); r.Revision != 3 {
			t.Fatalf("cut %d: next revision %d", cut, r.Revision)
		}
		s.Close()
		s = open(t, d)
		mustGet(t, s, "z", "after")
		s.Close()
	}
}

func TestCorruptMiddleRefusedThenRepaired(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 10 {
		put(t, s, fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	s.Close()
	seg := segmentPath(t, dir)
	data, _ := os.ReadFile(seg)
	data[len(data)/3] ^= 0x40
	os.WriteFile(seg, data, 0o644)
	_, err := Open(Options{Dir: dir})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open corrupt: %v", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(seg)) {
		t.Fatalf("error does not name the file: %v", err)
	}
	var out bytes.Buffer
	if err := Check(dir, &out); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("check: %v", err)
	}
	if err := Repair(dir, &out); err != nil {
		t.Fatalf("repair: %v\n%s", err, out.String())
	}
	s = open(t, dir)
	mustGet(t, s, "k0", "v0")
	if r := put(t, s, "new", "x"); r.Revision != 11 {
		t.Fatalf("revision went backwards after repair: %d\n%s", r.Revision, out.String())
	}
}

func TestSnapshotCompactsAndRecovers(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, func(o *Options) { o.CompactMinBytes = 16 << 10 })
	val := bytes.Repeat([]byte("v"), 512)
	for i := range 400 {
		put(t, s, fmt.Sprint("k", i%20), string(val)+fmt.Sprint(i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Snapshots == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot; stats %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	put(t, s, "after", "snap")
	s.Close()
	segs, snaps, _ := wal.Files(dir)
	if len(snaps) != 1 {
		t.Fatalf("snapshots %v", snaps)
	}
	var total int64
	for _, sg := range segs {
		st, _ := os.Stat(sg.Path)
		total += st.Size()
	}
	if total > 64<<10 {
		t.Fatalf("log not compacted: %d bytes in %d segments", total, len(segs))
	}
	s = open(t, dir)
	for i := 380; i < 400; i++ {
		mustGet(t, s, fmt.Sprint("k", i%20), string(val)+fmt.Sprint(i))
	}
	mustGet(t, s, "after", "snap")
	if s.Stats().Revision != 401 {
		t.Fatalf("revision %d", s.Stats().Revision)
	}
}

func TestEvictionPolicies(t *testing.T) {
	const limit = 64 << 10
	val := string(bytes.Repeat([]byte("x"), 1000))
	for _, policy := range []EvictionPolicy{LRU, LFU} {
		t.Run(string(policy), func(t *testing.T) {
			s := open(t, t.TempDir(), func(o *Options) { o.MaxMemory = limit; o.Eviction = policy })
			hot := []string{"hot0", "hot1", "hot2", "hot3", "hot4"}
			for _, k := range hot {
				put(t, s, k, val)
			}
			for i := range 300 {
				put(t, s, fmt.Sprint("cold", i), val)
				for _, k := range hot {
					if i%3 == 0 {
						mustGet(t, s, k, val)
					}
				}
				if st := s.Stats(); st.DatasetBytes > limit {
					t.Fatalf("dataset %d over limit %d", st.DatasetBytes, limit)
				}
			}
			for _, k := range hot {
				mustGet(t, s, k, val)
			}
			if s.Stats().Evictions == 0 {
				t.Fatal("no evictions counted")
			}
		})
	}
	t.Run("noeviction", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir, func(o *Options) { o.MaxMemory = limit })
		var stored []string
		for i := range 300 {
			k := fmt.Sprint("k", i)
			_, err := s.Apply([]Op{{Kind: OpSet, Key: k, Value: []byte(val)}})
			if errors.Is(err, ErrMemoryLimit) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, k)
		}
		if len(stored) == 300 || len(stored) == 0 {
			t.Fatalf("stored %d", len(stored))
		}
		for _, k := range stored {
			mustGet(t, s, k, val)
		}
		if _, err := s.Apply([]Op{{Kind: OpDelete, Key: stored[0]}}); err != nil {
			t.Fatalf("delete at the limit: %v", err)
		}
	})
	t.Run("evictions survive restart", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir, func(o *Options) { o.MaxMemory = limit; o.Eviction = LRU })
		for i := range 200 {
			put(t, s, fmt.Sprint("k", i), val)
		}
		keys := s.Stats().Keys
		s.Close()
		s = open(t, dir, func(o *Options) { o.MaxMemory = limit; o.Eviction = LRU })
		if st := s.Stats(); st.Keys != keys || st.DatasetBytes > limit {
			t.Fatalf("after restart %d keys (%d bytes), before %d", st.Keys, st.DatasetBytes, keys)
		}
		mustAbsent(t, s, "k0")
	})
}

// TestConcurrentWritersGroupCommit runs many writers under SyncAlways and
// checks every acknowledged write after a restart, and that fsyncs were
// shared.
func TestConcurrentWritersGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const writers, each = 32, 40
	var wg sync.WaitGroup
	revs := make(chan uint64, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res, err := s.Apply([]Op{{Kind: OpSet, Key: fmt.Sprintf("w%d/%d", w, i), Value: []byte(fmt.Sprint(i))}})
				if err != nil {
					t.Error(err)
					return
				}
				revs <- res.Revision
			}
		}()
	}
	wg.Wait()
	close(revs)
	var all []uint64
	for r := range revs {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for i, r := range all {
		if r != uint64(i+1) {
			t.Fatalf("revisions not unique and dense at %d: %d", i, r)
		}
	}
	st := s.Stats()
	if st.Fsyncs >= st.Commits {
		t.Logf("no fsync was shared (fsyncs %d, commits %d): fine on a fast disk, but unusual", st.Fsyncs, st.Commits)
	}
	s.Close()
	s = open(t, dir)
	for w := range writers {
		for i := range each {
			mustGet(t, s, fmt.Sprintf("w%d/%d", w, i), fmt.Sprint(i))
		}
	}
}

func TestClosedStore(t *testing.T) {
	s := open(t, t.TempDir())
	s.Close()
	if _, err := s.Apply([]Op{{Kind: OpSet, Key: "k"}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("apply after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// TestOutOfOrderWritebackRecovers opens a log whose unsynced tail has a hole
// followed by records that reached the disk (a power loss mid-writeback): the
// store starts, keeps what was before the hole, and keeps the revision counter
// above the dropped records.
func TestOutOfOrderWritebackRecovers(t *testing.T) {
	dir := t.TempDir()
	var file []byte
	for i := uint64(1); i <= 4; i++ {
		tx := wal.Tx{Revision: i, Time: 1, Synced: 0, Mutations: []wal.Mutation{{Type: wal.Set, Key: fmt.Sprint("k", i), Value: []byte("v")}}}
		rec := wal.AppendTxRecord(nil, &tx)
		if i == 2 {
			rec = make([]byte, len(rec)) // the page that never reached the disk
		}
		file = append(file, rec...)
	}
	os.WriteFile(filepath.Join(dir, wal.SegmentName(1)), file, 0o644)
	s := open(t, dir)
	mustGet(t, s, "k1", "v")
	mustAbsent(t, s, "k3")
	if r := put(t, s, "next", "x"); r.Revision != 5 {
		t.Fatalf("revision %d after dropping records up to 4", r.Revision)
	}
	// The raised revision survives the next restart too (it is logged).
	s.Close()
	s = open(t, dir)
	if r := put(t, s, "again", "x"); r.Revision != 6 {
		t.Fatalf("revision %d after a second restart, want 6", r.Revision)
	}
}

// TestForgedRecordInAValue: a stored value may contain bytes that look like
// a log record. When the record holding it is torn, recovery must not take
// the forged record's revision (here the largest there is) for a real one.
func TestForgedRecordInAValue(t *testing.T) {
	dir := t.TempDir()
	forged := wal.AppendTxRecord(nil, &wal.Tx{Revision: 1<<64 - 1, Mutations: []wal.Mutation{{Type: wal.Set, Key: "evil", Value: []byte("x")}}})
	first := wal.AppendTxRecord(nil, &wal.Tx{Revision: 1, Mutations: []wal.Mutation{{Type: wal.Set, Key: "k1", Value: []byte("v")}}})
	carrier := wal.AppendTxRecord(nil, &wal.Tx{Revision: 2, Synced: int64(len(first)), Mutations: []wal.Mutation{{Type: wal.Set, Key: "k2", Value: forged}}})
	carrier[16] ^= 0xff // torn: its checksum no longer matches
	os.WriteFile(filepath.Join(dir, wal.SegmentName(1)), append(first, carrier...), 0o644)
	s := open(t, dir)
	mustGet(t, s, "k1", "v")
	mustAbsent(t, s, "k2")
	mustAbsent(t, s, "evil")
	if r := put(t, s, "next", "x"); r.Revision < 2 || r.Revision > 100 {
		t.Fatalf("revision %d after a torn record carrying a forged one", r.Revision)
	}
}
