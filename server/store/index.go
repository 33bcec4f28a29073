package store

import (
	"container/heap"
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// KeyOverhead is the number of bytes accounted per key on top of the
// allocations of its key and its item (value, content type, header): what
// buntdb's item and b-tree slot and this package's index entry cost, so
// that --max-memory tracks what the process really holds. It is calibrated
// at scale, where a server at its limit lives: at a million keys the index's
// map sits just past a doubling (half its slots empty) and overwrites leave
// free slots in partly used spans the allocator reuses only slowly. There,
// live heap is 340 B per 100-byte key and the heap in use 350 B on a server
// at its limit (kvchaos bench's memory section; BenchmarkAccountingAtScale
// shows the live figure), against 320 B with 176 here, the live heap of a
// fresh fill; so 32 bytes more. On a small, fresh data set this overcounts
// by up to 14% (TestAccountingTracksHeap).
const KeyOverhead = 208

// itemHeader bounds the bytes encodeItem adds to a value and content type.
const itemHeader = 1 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen16

// accountedSize is what one key counts against MaxMemory: its key's and its
// item's allocations, rounded up as Go's allocator rounds them, plus
// KeyOverhead.
func accountedSize(key string, valueLen int, contentType string) int64 {
	return int64(allocSize(len(key)) + allocSize(itemHeader+valueLen+len(contentType)) + KeyOverhead)
}

// allocSize approximates the bytes Go's allocator hands out for an n-byte
// object: small objects go to size classes spaced at most an eighth of a
// power of two apart, large ones take whole 8 KiB pages.
func allocSize(n int) int {
	switch {
	case n <= 16:
		return 16
	case n > 32<<10:
		return (n + 8191) &^ 8191
	}
	step := max(1<<(bits.Len(uint(n-1))-1)/8, 16)
	return (n + step - 1) / step * step
}

// LFU counter parameters, as Redis's: a new key starts at lfuInit, each access
// raises the logarithmic counter with probability 1/((c-lfuInit)*lfuLogFactor+1),
// and the counter decays by one per lfuDecayNanos without access.
const (
	lfuInit       = 5
	lfuLogFactor  = 10
	lfuDecayNanos = int64(60e9)
	evictSamples  = 16
)

// keyInfo is the index's view of one live key. It holds no pointer but its
// key (the same string buntdb holds): the index's recency list links slots,
// not pointers, so a million keys cost the garbage collector a million
// strings to look at rather than a million objects and their links.
type keyInfo struct {
	key        string
	size       int64
	expiresAt  int64 // unix nanos, 0 = none
	lastAccess int64 // unix nanos of the last access (LFU decay, tie break)
	prev, next int32 // slots of the neighbours in the recency list; 0 is its head
	pos        int32 // position in index.live
	freq       uint8
}

// chunkBits sizes the chunks keyInfos live in: 4096 per chunk (224 KiB).
// Chunks never move, so a *keyInfo stays valid while the index grows, and
// are never freed: like a Go map, the index keeps the room of its largest
// key count (56 bytes per key) after mass deletes, and reuses it.
const chunkBits = 12

// index tracks every live key's accounted size, recency (an exact LRU list),
// frequency (a Redis-style decaying LFU counter) and expiry. The store's
// committer is its only writer of keys; readers touch keys concurrently.
type index struct {
	mu     sync.Mutex
	m      map[string]int32 // key → slot
	chunks []*[1 << chunkBits]keyInfo
	// slot 0 is the recency list's sentinel: its next is the most recent
	// key, its prev the least recent.
	slots int32   // slots handed out so far, the sentinel included
	free  []int32 // slots of removed keys, reused first
	live  []int32 // the slots in use, for random sampling (LFU)
	total int64
	exps  expHeap
	rng   *rand.Rand
	// tracksAccess is false when no eviction policy will ever look at
	// recency or frequency (no memory limit, or noeviction).
	tracksAccess bool
}

func newIndex(seed uint64, tracksAccess bool) *index {
	ix := &index{m: make(map[string]int32), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tracksAccess: tracksAccess}
	ix.alloc() // the sentinel, slot 0, linked to itself
	return ix
}

// at returns the keyInfo in slot i.
func (ix *index) at(i int32) *keyInfo { return &ix.chunks[i>>chunkBits][i&(1<<chunkBits-1)] }

// alloc returns a free slot, zeroed.
func (ix *index) alloc() int32 {
	if n := len(ix.free); n > 0 {
		i := ix.free[n-1]
		ix.free = ix.free[:n-1]
		*ix.at(i) = keyInfo{}
		return i
	}
	i := ix.slots
	if int(i>>chunkBits) == len(ix.chunks) {
		ix.chunks = append(ix.chunks, new([1 << chunkBits]keyInfo))
	}
	ix.slots++
	return i
}

func (ix *index) unlink(i int32) {
	k := ix.at(i)
	ix.at(k.prev).next, ix.at(k.next).prev = k.next, k.prev
	k.prev, k.next = 0, 0
}

func (ix *index) pushFront(i int32) {
	head := ix.at(0)
	k := ix.at(i)
	k.prev, k.next = 0, head.next
	ix.at(head.next).prev = i
	head.next = i
}

// put records key as written now with the given size and expiry.
func (ix *index) put(key string, size, expiresAt, now int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.m[key]
	var k *keyInfo
	if ok {
		k = ix.at(i)
		ix.total -= k.size
		ix.unlink(i)
	} else {
		if len(ix.live) >= math.MaxInt32-1 {
			panic("store: more than 2^31 keys")
		}
		i = ix.alloc()
		k = ix.at(i)
		k.key, k.freq, k.pos = key, lfuInit, int32(len(ix.live))
		ix.m[key] = i
		ix.live = append(ix.live, i)
	}
	k.size, k.lastAccess = size, now
	ix.total += size
	ix.pushFront(i)
	if expiresAt != k.expiresAt && expiresAt != 0 {
		heap.Push(&ix.exps, expItem{at: expiresAt, key: key})
	}
	k.expiresAt = expiresAt
	if len(ix.exps) > 2*len(ix.m)+1024 {
		ix.rebuildExpiries()
	}
}

// rebuildExpiries drops stale heap items (keys since rewritten or deleted).
func (ix *index) rebuildExpiries() {
	ix.exps = ix.exps[:0]
	for _, i := range ix.live {
		if k := ix.at(i); k.expiresAt != 0 {
			ix.exps = append(ix.exps, expItem{at: k.expiresAt, key: k.key})
		}
	}
	heap.Init(&ix.exps)
}

// remove forgets key.
func (ix *index) remove(key string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.m[key]
	if !ok {
		return
	}
	k := ix.at(i)
	ix.total -= k.size
	ix.unlink(i)
	last := ix.live[len(ix.live)-1]
	ix.live[k.pos] = last
	ix.at(last).pos = k.pos
	ix.live = ix.live[:len(ix.live)-1]
	delete(ix.m, key)
	*k = keyInfo{} // drop the key string
	ix.free = append(ix.free, i)
}

// touch records a read of key. Without an eviction policy nothing reads
// recency or frequency, so reads skip the index's lock entirely.
func (ix *index) touch(key string, now int64) {
	if !ix.tracksAccess {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.m[key]
	if !ok {
		return
	}
	ix.unlink(i)
	ix.pushFront(i)
	k := ix.at(i)
	k.freq = lfuDecay(k.freq, k.lastAccess, now)
	if k.freq < 255 {
		base := float64(int(k.freq) - lfuInit)
		if base < 0 {
			base = 0
		}
		if ix.rng.Float64() < 1/(base*lfuLogFactor+1) {
			k.freq++
		}
	}
	k.lastAccess = now
}

func lfuDecay(freq uint8, last, now int64) uint8 {
	periods := (now - last) / lfuDecayNanos
	if periods <= 0 {
		return freq
	}
	if periods >= int64(freq) {
		return 0
	}
	return freq - uint8(periods)
}

// sizeOf returns key's accounted size, if the key is indexed.
func (ix *index) sizeOf(key string) (int64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.m[key]
	if !ok {
		return 0, false
	}
	return ix.at(i).size, true
}

func (ix *index) totals() (keys int, bytes int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.m), ix.total
}

// victims chooses keys to evict, by policy, until at least need bytes are
// freed, skipping keys for which skip is true. Keys already expired go first.
// It returns nil when not enough can be freed. The caller removes them.
func (ix *index) victims(policy EvictionPolicy, need int64, now int64, skip func(string) bool, mostRecent bool) []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var out []string
	chosen := make(map[int32]bool)
	take := func(i int32) {
		k := ix.at(i)
		chosen[i] = true
		out = append(out, k.key)
		need -= k.size
	}
	for _, e := range ix.exps {
		if need <= 0 || e.at > now {
			break // heap order is only partial: good enough for a head start
		}
		if i, ok := ix.m[e.key]; ok && ix.at(i).expiresAt == e.at && !chosen[i] && !skip(e.key) {
			take(i)
		}
	}
	switch policy {
	case LRU:
		step := func(i int32) int32 { return ix.at(i).prev }
		start := ix.at(0).prev
		if mostRecent { // the evict-wrong mutant
			step, start = func(i int32) int32 { return ix.at(i).next }, ix.at(0).next
		}
		for i := start; need > 0 && i != 0; i = step(i) {
			if !chosen[i] && !skip(ix.at(i).key) {
				take(i)
			}
		}
	case LFU:
		for need > 0 && len(chosen) < len(ix.live) {
			best, bestFreq := int32(-1), uint8(0)
			for range evictSamples {
				i := ix.live[ix.rng.IntN(len(ix.live))]
				k := ix.at(i)
				if chosen[i] || skip(k.key) {
					continue
				}
				f := lfuDecay(k.freq, k.lastAccess, now)
				if best < 0 || f < bestFreq || (f == bestFreq && k.lastAccess < ix.at(best).lastAccess) {
					best, bestFreq = i, f
				}
			}
			if best < 0 {
				// Samples all excluded: fall back to a scan.
				for _, i := range ix.live {
					if !chosen[i] && !skip(ix.at(i).key) {
						best = i
						break
					}
				}
				if best < 0 {
					break
				}
			}
			take(best)
		}
	}
	if need > 0 {
		return nil
	}
	return out
}

// expired returns up to limit keys whose expiry is at or before now.
func (ix *index) expired(now int64, limit int) []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var out []string
	for len(ix.exps) > 0 && len(out) < limit {
		e := ix.exps[0]
		if e.at > now {
			break
		}
		heap.Pop(&ix.exps)
		if i, ok := ix.m[e.key]; ok && ix.at(i).expiresAt == e.at {
			out = append(out, e.key)
		}
	}
	return out
}

// nextExpiry is the earliest pending expiry (0 when none).
func (ix *index) nextExpiry() int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.exps) == 0 {
		return 0
	}
	return ix.exps[0].at
}

type expItem struct {
	at  int64
	key string
}

// expHeap is a min-heap of expiries; stale items (key rewritten or deleted)
// are skipped when popped.
type expHeap []expItem

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(expItem)) }
func (h *expHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
