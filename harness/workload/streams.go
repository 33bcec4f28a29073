// Package workload generates seeded client traffic against a Target: which
// keys, which values, which operations, and when faults strike. Every choice
// comes from one seed (GinkgoRandomSeed, so `ginkgo --seed N` replays it),
// split into independent streams so that adding one draw to a stream does
// not shift the others, and split again per client so concurrent clients
// stay reproducible.
package workload

import (
	"math/rand/v2"
)

// Stream names: each gets its own generator derived from the seed.
const (
	StreamKeys   = 1
	StreamValues = 2
	StreamOps    = 3
	StreamFaults = 4
)

// Streams are the independent random streams of one seed. Use NewStreams;
// each *rand.Rand is for one goroutine.
type Streams struct {
	Seed   int64
	Keys   *rand.Rand
	Values *rand.Rand
	Ops    *rand.Rand
	Faults *rand.Rand
}

// NewStreams derives the four streams of seed.
func NewStreams(seed int64) *Streams {
	return &Streams{
		Seed:   seed,
		Keys:   Derive(seed, StreamKeys, 0),
		Values: Derive(seed, StreamValues, 0),
		Ops:    Derive(seed, StreamOps, 0),
		Faults: Derive(seed, StreamFaults, 0),
	}
}

// Client returns the streams of client i (the fault stream is shared
// through the parent: faults are scheduled once, not per client).
func (s *Streams) Client(i int) *Streams {
	return &Streams{
		Seed:   s.Seed,
		Keys:   Derive(s.Seed, StreamKeys, uint64(i)+1),
		Values: Derive(s.Seed, StreamValues, uint64(i)+1),
		Ops:    Derive(s.Seed, StreamOps, uint64(i)+1),
		Faults: s.Faults,
	}
}

// Derive returns the generator of (seed, stream, sub): PCG seeded with two
// splitmix64 mixes, so near seeds give unrelated streams.
func Derive(seed int64, stream, sub uint64) *rand.Rand {
	a := splitmix(uint64(seed) ^ splitmix(stream))
	b := splitmix(a ^ splitmix(sub+0x9e3779b97f4a7c15))
	return rand.New(rand.NewPCG(a, b))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
