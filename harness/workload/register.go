package workload

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kvchaos/kvchaos/harness"
)

// Mix weighs the operations of a register workload; the zero value is
// reads 50, puts 30, CAS 10, deletes 5, batches 5.
type Mix struct {
	Get, Put, CAS, Delete, Batch int
}

func (m Mix) orDefault() Mix {
	if m == (Mix{}) {
		return Mix{Get: 50, Put: 30, CAS: 10, Delete: 5, Batch: 5}
	}
	return m
}

// Register is a workload of single-key reads and writes over a key
// distribution, checked afterwards with porcupine. Each client does Ops
// operations (or runs until Duration, when set).
type Register struct {
	Clients  int
	Ops      int
	Duration time.Duration
	Keys     Keys
	// MinValue and MaxValue bound value sizes (default 8..64 bytes).
	MinValue, MaxValue int
	Mix                Mix
}

// ClientFactory returns the client of worker i (one per worker, so each
// gets its own lane in the history).
type ClientFactory func(i int) *harness.Client

// Run runs the workload until every client is done or ctx ends. Errors
// from the server are part of the history, not of Run's result.
func (w Register) Run(ctx context.Context, s *Streams, clients ClientFactory) {
	mix := w.Mix.orDefault()
	total := mix.Get + mix.Put + mix.CAS + mix.Delete + mix.Batch
	lo, hi := w.MinValue, w.MaxValue
	if hi == 0 {
		lo, hi = 8, 64
	}
	var deadline time.Time
	if w.Duration > 0 {
		deadline = time.Now().Add(w.Duration)
	}
	var wg sync.WaitGroup
	for i := 0; i < w.Clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := clients(i)
			cs := s.Client(i)
			for n := 0; (w.Ops == 0 || n < w.Ops) && ctx.Err() == nil; n++ {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				key := w.Keys.Next(cs.Keys)
				val := Value(cs.Values, fmt.Sprintf("c%d-%d-", i, n), Between(cs.Values, lo, hi))
				switch x := cs.Ops.IntN(total); {
				case x < mix.Get:
					_, _ = c.Get(ctx, key)
				case x < mix.Get+mix.Put:
					_, _ = c.Put(ctx, key, val, harness.PutOptions{})
				case x < mix.Get+mix.Put+mix.CAS:
					cas(ctx, c, key, val)
				case x < mix.Get+mix.Put+mix.CAS+mix.Delete:
					_, _ = c.Delete(ctx, key, 0)
				default:
					key2 := w.Keys.Next(cs.Keys)
					val2 := Value(cs.Values, fmt.Sprintf("c%d-%d-b-", i, n), Between(cs.Values, lo, hi))
					_, _ = c.Batch(ctx, []harness.BatchOp{harness.Set(key, val), harness.GetOp(key2), harness.Set(key2, val2)})
				}
			}
		}(i)
	}
	wg.Wait()
}

// cas reads key and writes val only if it has not changed since.
func cas(ctx context.Context, c *harness.Client, key string, val []byte) {
	v, err := c.Get(ctx, key)
	switch {
	case err == nil:
		_, _ = c.Put(ctx, key, val, harness.PutOptions{IfMatch: v.Revision})
	case harness.IsNotFound(err):
		_, _ = c.Put(ctx, key, val, harness.PutOptions{IfNoneMatch: true})
	}
}
