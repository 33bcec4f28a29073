package workload

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/kvchaos/kvchaos/harness"
)

// Bank is the atomicity workload: N accounts whose balances always sum to
// N × Initial. Each transfer reads every account in one batch (a snapshot
// the atomicity checker sums), then moves a random amount between two
// accounts with one batch guarded by check ops on both revisions, so a
// concurrent transfer makes it fail (409) rather than lose money.
type Bank struct {
	Accounts int
	Initial  int64
	Clients  int
	// Transfers per client (or until Duration, when set).
	Transfers int
	Duration  time.Duration
	Prefix    string
}

// Names lists the account keys.
func (b Bank) Names() []string {
	p := b.Prefix
	if p == "" {
		p = "acct-"
	}
	return names(p, b.Accounts)
}

// Total is the invariant sum.
func (b Bank) Total() int64 { return int64(b.Accounts) * b.Initial }

// Setup creates the accounts in one batch.
func (b Bank) Setup(ctx context.Context, c *harness.Client) error {
	var ops []harness.BatchOp
	for _, a := range b.Names() {
		ops = append(ops, harness.Set(a, []byte(strconv.FormatInt(b.Initial, 10))))
	}
	if _, err := c.Batch(ctx, ops); err != nil {
		return fmt.Errorf("bank setup: %w", err)
	}
	return nil
}

// Snapshot reads every account in one batch (recorded for the checker).
func (b Bank) Snapshot(ctx context.Context, c *harness.Client) (*harness.BatchReply, error) {
	var ops []harness.BatchOp
	for _, a := range b.Names() {
		ops = append(ops, harness.GetOp(a))
	}
	return c.Batch(ctx, ops)
}

// Run runs the transfer clients until done or ctx ends.
func (b Bank) Run(ctx context.Context, s *Streams, clients ClientFactory) {
	accts := b.Names()
	var deadline time.Time
	if b.Duration > 0 {
		deadline = time.Now().Add(b.Duration)
	}
	var wg sync.WaitGroup
	for i := 0; i < b.Clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := clients(i)
			cs := s.Client(i)
			for n := 0; (b.Transfers == 0 || n < b.Transfers) && ctx.Err() == nil; n++ {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				snap, err := b.Snapshot(ctx, c)
				if err != nil || len(snap.Results) != len(accts) {
					continue
				}
				from, to := cs.Keys.IntN(len(accts)), cs.Keys.IntN(len(accts)-1)
				if to >= from {
					to++
				}
				fr, tr := snap.Results[from], snap.Results[to]
				fb, err1 := strconv.ParseInt(string(fr.Data), 10, 64)
				tb, err2 := strconv.ParseInt(string(tr.Data), 10, 64)
				if err1 != nil || err2 != nil || !fr.Found || !tr.Found || fb == 0 {
					continue
				}
				amt := 1 + cs.Values.Int64N(fb)
				_, _ = c.Batch(ctx, []harness.BatchOp{
					harness.CheckRev(accts[from], fr.Revision),
					harness.CheckRev(accts[to], tr.Revision),
					harness.Set(accts[from], []byte(strconv.FormatInt(fb-amt, 10))),
					harness.Set(accts[to], []byte(strconv.FormatInt(tb+amt, 10))),
				})
			}
		}(i)
	}
	wg.Wait()
}
