package fault

import (
	"context"
	"fmt"
	"math/rand"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Restartable is a Target that can be killed and started again on the same
// data dir (the harness's server process).
type Restartable interface {
	Target
	Kill() error
	Restart(ctx context.Context) error
}

// CrashLoop kills the target at seeded random moments and restarts it, N
// times, while the spec's workload runs. Each kill is recorded as an instant
// "kill" event on Recorder (when set) with its restart time in Detail. Rand
// must be set (seed it from the spec's seed); N defaults to 1, the gap between
// kills is drawn uniformly from [MinGap, MaxGap] (defaults 50 ms and 500 ms).
type CrashLoop struct {
	N              int
	MinGap, MaxGap time.Duration
	Rand           *rand.Rand
	Recorder       Recorder

	// Recoveries holds, after Inject, how long each restart took.
	Recoveries []time.Duration
}

var _ Injector = (*CrashLoop)(nil)

// Name returns "crashloop".
func (*CrashLoop) Name() string { return "crashloop" }

// Detail says how many kills were done.
func (c *CrashLoop) Detail() string { return fmt.Sprintf("%d kills", len(c.Recoveries)) }

// Inject runs the loop; t must be Restartable. It returns the first kill or
// restart error, or ctx's error.
func (c *CrashLoop) Inject(ctx context.Context, t Target) error {
	r, ok := t.(Restartable)
	if !ok {
		return fmt.Errorf("crashloop: target %T cannot restart", t)
	}
	if c.Rand == nil {
		return fmt.Errorf("crashloop: no seeded Rand")
	}
	n, lo, hi := c.N, c.MinGap, c.MaxGap
	if n <= 0 {
		n = 1
	}
	if lo <= 0 {
		lo = 50 * time.Millisecond
	}
	if hi < lo {
		hi = max(lo, 500*time.Millisecond)
	}
	c.Recoveries = c.Recoveries[:0]
	for i := range n {
		gap := lo + time.Duration(c.Rand.Int63n(int64(hi-lo)+1))
		timer := time.NewTimer(gap)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("crashloop: %w", ctx.Err())
		case <-timer.C:
		}
		at := now(c.Recorder)
		if err := r.Kill(); err != nil {
			return fmt.Errorf("crashloop kill %d: %w", i+1, err)
		}
		start := time.Now()
		err := r.Restart(ctx)
		took := time.Since(start)
		c.Recoveries = append(c.Recoveries, took)
		if c.Recorder != nil {
			ev := artifact.FaultEvent{Name: "kill", Start: at, End: at,
				Detail: fmt.Sprintf("crashloop kill %d/%d, restart took %s", i+1, n, took.Round(time.Millisecond))}
			if err != nil {
				ev.Error = err.Error()
			}
			c.Recorder.RecordFault(ev)
		}
		if err != nil {
			return fmt.Errorf("crashloop restart %d: %w", i+1, err)
		}
	}
	return nil
}
