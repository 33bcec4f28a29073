package store

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
)

// TestIndexAgainstModel runs random puts (some with expiries), removes and
// touches on the index and on a plain model, over more keys than one chunk
// of slots holds, and checks after every step that both agree on sizes and
// totals; every 500 steps, that the expired keys are exactly the model's
// and that LRU eviction picks keys least recent first. Slot reuse, chunk
// growth and the slot-linked recency list cannot drift from what they
// stand for.
func TestIndexAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ix := newIndex(1, true)
	type entry struct {
		size, exp int64
		used      int // model clock of the last put or touch
	}
	model := map[string]*entry{}
	clock := 0
	keySpace := 3 << chunkBits // enough live keys to cross chunk boundaries
	for step := 1; step <= 30000; step++ {
		now := int64(step)
		key := "k" + strconv.Itoa(r.IntN(keySpace))
		clock++
		switch op := r.IntN(10); {
		case op < 6:
			size, exp := int64(1+r.IntN(100)), int64(0)
			if r.IntN(4) == 0 {
				exp = now + int64(1+r.IntN(2000))
			}
			ix.put(key, size, exp, now)
			model[key] = &entry{size: size, exp: exp, used: clock}
		case op < 8:
			ix.remove(key)
			delete(model, key)
		default:
			ix.touch(key, now)
			if e, ok := model[key]; ok {
				e.used = clock
			}
		}
		var total int64
		for _, e := range model {
			total += e.size
		}
		if n, b := ix.totals(); n != len(model) || b != total {
			t.Fatalf("step %d: index has %d keys, %d bytes; model %d, %d", step, n, b, len(model), total)
		}
		got, ok := ix.sizeOf(key)
		if e := model[key]; ok != (e != nil) || (e != nil && got != e.size) {
			t.Fatalf("step %d: sizeOf(%s) = %d, %v; model %+v", step, key, got, ok, e)
		}
		if step%500 != 0 {
			continue
		}
		// Expiry: the store deletes what expired reports.
		var wantExpired []string
		for k, e := range model {
			if e.exp != 0 && e.exp <= now {
				wantExpired = append(wantExpired, k)
			}
		}
		gotExpired := ix.expired(now, 1<<30)
		sort.Strings(wantExpired)
		sort.Strings(gotExpired)
		if !slices.Equal(gotExpired, wantExpired) {
			t.Fatalf("step %d: expired %v, want %v", step, gotExpired, wantExpired)
		}
		for _, k := range gotExpired {
			ix.remove(k)
			delete(model, k)
		}
		// LRU: the least recently used keys, oldest first.
		keys := make([]string, 0, len(model))
		for k := range model {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return model[keys[i]].used < model[keys[j]].used })
		want := keys[:min(5, len(keys))]
		var need int64
		for _, k := range want {
			need += model[k].size
		}
		if len(want) > 0 {
			if got := ix.victims(LRU, need, now, func(string) bool { return false }, false); !slices.Equal(got, want) {
				t.Fatalf("step %d: LRU victims %v, want %v", step, got, want)
			}
		}
	}
	if ix.slots <= 1<<chunkBits {
		t.Fatalf("only %d slots handed out: the test never crossed a chunk", ix.slots)
	}
	if len(ix.live)+len(ix.free)+1 != int(ix.slots) {
		t.Fatalf("slots leak: %d live + %d free + sentinel != %d handed out", len(ix.live), len(ix.free), ix.slots)
	}
}
