package store

import (
	"fmt"
	"runtime"
	"testing"
)

// TestAccountingTracksHeap writes keys of several value sizes and compares
// the accounted dataset size with the live heap it really took (after a GC).
// The accounting is what --max-memory enforces: it must not undercount the
// heap by much (a limit would then be exceeded) nor overcount it wildly.
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
				if _, err := s.Apply([]Op{{Kind: OpSet, Key: fmt.Sprintf("key%08d", i), Value: val, ContentType: "application/octet-stream"}}); err != nil {
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
