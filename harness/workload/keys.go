package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Keys chooses keys. Implementations must be safe to share between clients
// (the randomness comes from the caller's stream).
type Keys interface {
	Next(r *rand.Rand) string
	// All lists every key the distribution can return.
	All() []string
}

// Single always returns one key.
type Single string

// Next returns the key.
func (s Single) Next(*rand.Rand) string { return string(s) }

// All returns the key.
func (s Single) All() []string { return []string{string(s)} }

// Uniform picks one of N keys "<Prefix><i>" with equal probability.
type Uniform struct {
	Prefix string
	N      int
}

// Next picks a key.
func (u Uniform) Next(r *rand.Rand) string { return fmt.Sprintf("%s%d", u.Prefix, r.IntN(u.N)) }

// All lists the N keys.
func (u Uniform) All() []string { return names(u.Prefix, u.N) }

// Zipf picks one of N keys with a zipfian skew (key 0 the hottest); S > 1
// is the exponent (1.1 is a mild skew, 2 a strong one).
type Zipf struct {
	Prefix string
	N      int
	S      float64
}

// Next picks a key by inverse transform over the zipf weights.
func (z Zipf) Next(r *rand.Rand) string {
	s := z.S
	if s <= 1 {
		s = 1.1
	}
	// Sample with rejection-free inversion on a precomputable CDF would
	// need state; N is small in practice, so walk the weights.
	var total float64
	for i := 1; i <= z.N; i++ {
		total += 1 / math.Pow(float64(i), s)
	}
	x := r.Float64() * total
	for i := 1; i <= z.N; i++ {
		x -= 1 / math.Pow(float64(i), s)
		if x <= 0 {
			return fmt.Sprintf("%s%d", z.Prefix, i-1)
		}
	}
	return fmt.Sprintf("%s%d", z.Prefix, z.N-1)
}

// All lists the N keys.
func (z Zipf) All() []string { return names(z.Prefix, z.N) }

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// Value returns a value of n bytes that starts with a unique tag (so every
// write in a history is distinguishable) and is filled from r.
func Value(r *rand.Rand, tag string, n int) []byte {
	b := make([]byte, max(n, len(tag)))
	copy(b, tag)
	for i := len(tag); i < len(b); i++ {
		b[i] = byte('a' + r.IntN(26))
	}
	return b
}

// Between returns a size in [lo, hi].
func Between(r *rand.Rand, lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}
