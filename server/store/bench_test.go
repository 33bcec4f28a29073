package store

import (
	"bytes"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
)

// The store's hot paths, for benchstat:
//
//	go test -run '^$' -bench . -benchmem ./server/store
//
// The data directory is b.TempDir() (on the machine's temp filesystem: fsync
// costs nothing on tmpfs, so compare SyncAlways figures on a real disk).

func benchOpen(b *testing.B, mod ...func(*Options)) *Store {
	b.Helper()
	o := Options{Dir: b.TempDir()}
	for _, m := range mod {
		m(&o)
	}
	s, err := Open(o)
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func withSync(p SyncPolicy) func(*Options) { return func(o *Options) { o.Sync = p } }

var benchPolicies = []SyncPolicy{SyncAlways, SyncEverySec, SyncNever}

func BenchmarkGet(b *testing.B) {
	s := benchOpen(b, withSync(SyncNever))
	val := bytes.Repeat([]byte("v"), 100)
	for i := range 1000 {
		if _, err := s.Apply([]Op{{Kind: OpSet, Key: "k" + strconv.Itoa(i), Value: val}}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("hot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Get("k1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Get("k" + strconv.Itoa(int(n.Add(1)%1000))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkPut is one writer: every put waits for its own commit (and, under
// SyncAlways, its own fsync).
func BenchmarkPut(b *testing.B) {
	for _, p := range benchPolicies {
		for _, size := range []int{100, 4 << 10} {
			b.Run(fmt.Sprintf("%s/%dB", p, size), func(b *testing.B) {
				s := benchOpen(b, withSync(p))
				val := bytes.Repeat([]byte("v"), size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					if _, err := s.Apply([]Op{{Kind: OpSet, Key: "k" + strconv.Itoa(i%10000), Value: val}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPutParallel runs 64 writers per CPU-ish (RunParallel with
// parallelism 32) so group commit has transactions to share a write and an
// fsync; maxgroup=1 turns grouping off for comparison. It reports the
// transactions per fsync the store achieved.
func BenchmarkPutParallel(b *testing.B) {
	cases := []struct {
		policy   SyncPolicy
		maxGroup int
	}{{SyncAlways, 0}, {SyncAlways, 1}, {SyncEverySec, 0}, {SyncNever, 0}}
	for _, c := range cases {
		name := string(c.policy)
		if c.maxGroup == 1 {
			name += "/maxgroup=1"
		}
		b.Run(name, func(b *testing.B) {
			s := benchOpen(b, withSync(c.policy), func(o *Options) { o.MaxGroup = c.maxGroup })
			val := bytes.Repeat([]byte("v"), 100)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ReportAllocs()
			before := s.Stats()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := "k" + strconv.Itoa(int(n.Add(1)%10000))
					if _, err := s.Apply([]Op{{Kind: OpSet, Key: k, Value: val}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			after := s.Stats()
			if f := after.Fsyncs - before.Fsyncs; c.policy == SyncAlways && f > 0 {
				b.ReportMetric(float64(after.Commits-before.Commits)/float64(f), "tx/fsync")
			}
			if g := after.Groups - before.Groups; g > 0 {
				b.ReportMetric(float64(after.Commits-before.Commits)/float64(g), "tx/group")
			}
		})
	}
}

// BenchmarkBatch commits 10-op batches of 100 B sets.
func BenchmarkBatch(b *testing.B) {
	for _, p := range []SyncPolicy{SyncAlways, SyncNever} {
		b.Run(string(p), func(b *testing.B) {
			s := benchOpen(b, withSync(p))
			val := bytes.Repeat([]byte("v"), 100)
			ops := make([]Op, 10)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for j := range ops {
					i++
					ops[j] = Op{Kind: OpSet, Key: "k" + strconv.Itoa(i%10000), Value: val}
				}
				if _, err := s.Apply(ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecover measures Open on a data dir of 100,000 keys in the log.
func BenchmarkRecover(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(Options{Dir: dir, Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	val := bytes.Repeat([]byte("v"), 100)
	ops := make([]Op, 1000)
	for i := range 100 {
		for j := range ops {
			ops[j] = Op{Kind: OpSet, Key: "k" + strconv.Itoa(i*1000+j), Value: val}
		}
		if _, err := s.Apply(ops); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(Options{Dir: dir, Sync: SyncNever})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
