package harness

import (
	"sync"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Clock is a run's monotonic clock and fault timeline. Now is seconds since
// the clock started; fault injectors record their windows with RecordFault,
// and the events end up in the spec's faults.json. A Clock is safe for
// concurrent use; use NewClock, the zero value is not usable.
type Clock struct {
	start time.Time

	mu     sync.Mutex
	faults []artifact.FaultEvent
}

// NewClock starts a run clock now.
func NewClock() *Clock {
	return &Clock{start: time.Now()}
}

// Now is the seconds elapsed since the clock started, read from the
// monotonic clock (wall-clock jumps do not move it).
func (c *Clock) Now() float64 {
	return time.Since(c.start).Seconds()
}

// Start is the moment the clock started.
func (c *Clock) Start() time.Time { return c.start }

// At converts a moment to run-clock seconds.
func (c *Clock) At(t time.Time) float64 { return t.Sub(c.start).Seconds() }

// RecordFault appends a fault window to the timeline. An injector that
// records a window at injection and again at heal (same Name and Start)
// updates the earlier event instead of adding a second one.
func (c *Clock) RecordFault(ev artifact.FaultEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.faults) - 1; i >= 0; i-- {
		if c.faults[i].Name == ev.Name && c.faults[i].Start == ev.Start {
			c.faults[i] = ev
			return
		}
	}
	c.faults = append(c.faults, ev)
}

// Faults returns a copy of the fault timeline so far, in recording order.
func (c *Clock) Faults() []artifact.FaultEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]artifact.FaultEvent(nil), c.faults...)
}
