package workload

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/kvchaos/kvchaos/harness"
)

// Counter is the lost-update workload: clients increment one key by
// read + compare-and-set (If-Match), retrying on 412, Increments times
// each. The final value must equal the acknowledged increments.
type Counter struct {
	Key        string
	Clients    int
	Increments int
}

// Setup writes 0.
func (w Counter) Setup(ctx context.Context, c *harness.Client) error {
	if _, err := c.Put(ctx, w.Key, []byte("0"), harness.PutOptions{}); err != nil {
		return fmt.Errorf("counter setup: %w", err)
	}
	return nil
}

// Run runs the incrementing clients; it returns the acknowledged
// increments.
func (w Counter) Run(ctx context.Context, clients ClientFactory) int {
	var mu sync.Mutex
	acked := 0
	var wg sync.WaitGroup
	for i := 0; i < w.Clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := clients(i)
			for done := 0; done < w.Increments && ctx.Err() == nil; {
				v, err := c.Get(ctx, w.Key)
				if err != nil {
					done++ // the server is down or failing: count the attempt
					continue
				}
				n, err := strconv.Atoi(string(v.Data))
				if err != nil {
					return
				}
				_, err = c.Put(ctx, w.Key, []byte(strconv.Itoa(n+1)), harness.PutOptions{IfMatch: v.Revision})
				if err == nil {
					done++
					mu.Lock()
					acked++
					mu.Unlock()
				} else if !harness.IsCode(err, "PRECONDITION_FAILED") {
					done++ // unknown or failed: count the attempt, do not retry forever
				}
			}
		}(i)
	}
	wg.Wait()
	return acked
}
