package store

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestIndexAgainstModel runs random puts, removes and touches on the index
// and on a plain model (a map and a recency-ordered slice), and checks after
// every step that both agree on sizes and totals, and that LRU eviction
// picks keys least recent first, so that slot reuse and the slot-linked
// recency list cannot drift from what they stand for.
func TestIndexAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ix := newIndex(1, true)
	sizes := map[string]int64{}
	var recency []string // least recent first
	moveToBack := func(key string) {
		if i := slices.Index(recency, key); i >= 0 {
			recency = slices.Delete(recency, i, i+1)
		}
		recency = append(recency, key)
	}
	for step := range 20000 {
		key := "k" + strconv.Itoa(r.IntN(300))
		switch op := r.IntN(10); {
		case op < 5:
			size := int64(1 + r.IntN(100))
			ix.put(key, size, 0, int64(step))
			sizes[key] = size
			moveToBack(key)
		case op < 8:
			ix.remove(key)
			delete(sizes, key)
			if i := slices.Index(recency, key); i >= 0 {
				recency = slices.Delete(recency, i, i+1)
			}
		default:
			ix.touch(key, int64(step))
			if _, ok := sizes[key]; ok {
				moveToBack(key)
			}
		}
		var total int64
		for _, s := range sizes {
			total += s
		}
		if n, b := ix.totals(); n != len(sizes) || b != total {
			t.Fatalf("step %d: index has %d keys, %d bytes; model %d, %d", step, n, b, len(sizes), total)
		}
		if got, ok := ix.sizeOf(key); ok != (sizes[key] > 0) || got != sizes[key] {
			t.Fatalf("step %d: sizeOf(%s) = %d, %v; model %d", step, key, got, ok, sizes[key])
		}
		if step%500 == 0 && len(recency) > 0 {
			want := recency[:min(5, len(recency))]
			var need int64
			for _, k := range want {
				need += sizes[k]
			}
			got := ix.victims(LRU, need, int64(step), func(string) bool { return false }, false)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: LRU victims %v, want %v", step, got, want)
			}
		}
	}
	if len(ix.live)+len(ix.free)+1 != int(ix.slots) {
		t.Fatalf("slots leak: %d live + %d free + sentinel != %d handed out", len(ix.live), len(ix.free), ix.slots)
	}
}
