package store

import (
	"fmt"
	"runtime"
	"testing"
)

// TestAccountingTracksHeap writes keys of several value sizes and compares
// the accounted dataset size with the live heap it really took (after a GC).
// The accounting is what --max-memory enforces: it must not undercount the
// heap by much (a limit would then be exceeded) nor overcount it wildly. It
// is calibrated at a million keys after churn (see KeyOverhead), so on these
// fresh, smaller data sets it counts a little more than the live heap.
func TestAccountingTracksHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few hundred MiB")
	}
	for _, tt := range []struct{ value, keys int }{{10, 100000}, {100, 100000}, {1000, 50000}, {100000, 400}} {
		t.Run(fmt.Sprint(tt.value, "B"), func(t *testing.T) {
			s := open(t, t.TempDir(), func(o *Options) { o.Sync = SyncNever })
			val := make([]byte, tt.value)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range tt.keys {
				if _, err := s.Apply([]Op{{Kind: OpSet, Key: fmt.Sprintf("key%08d", i), Value: val}}); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			ratio := float64(s.Stats().DatasetBytes) / heap
			t.Logf("%d-byte values: heap %.0f B/key, accounted %.0f B/key (accounted/heap %.2f)",
				tt.value, heap/float64(tt.keys), float64(s.Stats().DatasetBytes)/float64(tt.keys), ratio)
			if ratio < 0.85 || ratio > 1.25 {
				t.Fatalf("accounting is %.2f of the live heap; recalibrate KeyOverhead / allocSize", ratio)
			}
		})
	}
}

// BenchmarkAccountingAtScale fills a million keys of 100 B, overwrites a
// fifth of them at random (freeing slots all over the heap, as a running
// server does), and reports the accounted size against the live heap and
// against the heap in use (live data plus the free slots in partly used
// spans: what RSS holds). KeyOverhead is calibrated on these figures:
//
//	go test -run '^$' -bench AccountingAtScale -benchtime 1x ./server/store
func BenchmarkAccountingAtScale(b *testing.B) {
	const keys = 1_000_000
	for b.Loop() {
		s := open(b, b.TempDir(), func(o *Options) { o.Sync = SyncNever })
		val := make([]byte, 100)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		batch := make([]Op, 0, 1000)
		flush := func() {
			if _, err := s.Apply(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		for i := range keys {
			batch = append(batch, Op{Kind: OpSet, Key: fmt.Sprintf("key%08d", i), Value: val})
			if len(batch) == cap(batch) {
				flush()
			}
		}
		for i := range keys / 5 {
			batch = append(batch, Op{Kind: OpSet, Key: fmt.Sprintf("key%08d", (i*7919)%keys), Value: val})
			if len(batch) == cap(batch) {
				flush()
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		acc := float64(s.Stats().DatasetBytes)
		b.ReportMetric(acc/float64(after.HeapAlloc-before.HeapAlloc), "accounted/live")
		b.ReportMetric(acc/float64(after.HeapInuse-before.HeapInuse), "accounted/inuse")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/keys, "inuse-B/key")
		b.ReportMetric(acc/keys, "accounted-B/key")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
