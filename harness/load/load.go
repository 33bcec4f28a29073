// Package load is a lean load generator: it calls an operation from many
// goroutines for a while and reports throughput, an HDR latency histogram
// (github.com/HdrHistogram/hdrhistogram-go) and a per-interval series.
//
// Two modes:
//
//   - Closed loop (Config.Rate == 0): Clients workers each run one operation
//     after another. Throughput is what the target sustains at that
//     concurrency; latency is measured from each operation's actual start.
//   - Open loop (Config.Rate > 0): operations are scheduled at a fixed
//     arrival rate, the i-th at start + i/Rate, and up to Clients of them run
//     at once. Latency is measured from the intended send time, not the
//     actual one, so a stall of the target shows up in every operation that
//     should have been sent during it (no coordinated omission: the
//     generator does not politely wait for a slow server and then report
//     only one slow request). Operations that could not even start within
//     Config.Grace after the run's end are counted as Missed.
//
// The operation is any function (an HTTP request, usually); load knows
// nothing of what it does, so the same generator measures kvserver and the
// net/http baseline alike.
package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Op performs one operation. worker is the goroutine's index (0..Clients-1)
// and seq a number unique within the run; a non-nil error counts the
// operation as failed.
type Op func(ctx context.Context, worker int, seq int64) error

// Config says how to drive an Op. The zero value of each field picks the
// default named on it.
type Config struct {
	// Clients is the number of workers: the concurrency in closed loop, the
	// most operations in flight in open loop. Default 1.
	Clients int
	// Rate, when > 0, selects open loop at Rate operations per second.
	Rate float64
	// Duration is the measured part of the run. Default 1s.
	Duration time.Duration
	// Warmup runs the same load first without recording it. Default none.
	Warmup time.Duration
	// Interval is the width of one slice of the series. Default 100ms.
	Interval time.Duration
	// Grace bounds, in open loop, how long after Duration scheduled but
	// late operations may still start. Default Duration (at least 1s).
	Grace time.Duration
}

func (c Config) withDefaults() Config {
	if c.Clients <= 0 {
		c.Clients = 1
	}
	if c.Duration <= 0 {
		c.Duration = time.Second
	}
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Grace <= 0 {
		c.Grace = max(c.Duration, time.Second)
	}
	return c
}

// Result is the outcome of one run. Its JSON form is part of kvchaos
// bench's bench.json.
type Result struct {
	// Mode is "closed" or "open".
	Mode    string  `json:"mode"`
	Clients int     `json:"clients"`
	Rate    float64 `json:"rate,omitempty"`
	// Ops counts the operations that succeeded, Errors those that failed,
	// Missed (open loop) those that never started (see Config.Grace).
	Ops    int64 `json:"ops"`
	Errors int64 `json:"errors"`
	Missed int64 `json:"missed,omitempty"`
	// Seconds is the measured time: from the start until the last
	// operation ended.
	Seconds float64 `json:"seconds"`
	// OpsPerSec is Ops / Seconds.
	OpsPerSec float64 `json:"ops_per_sec"`
	// Latency is over the successful operations.
	Latency    Latency    `json:"latency"`
	Series     []Interval `json:"series,omitempty"`
	FirstError string     `json:"first_error,omitempty"`
}

// Run drives op as cfg says and returns what it measured. A cancelled
// context stops the run early; the result so far is returned with the
// context's error.
func Run(ctx context.Context, cfg Config, op Op) (Result, error) {
	cfg = cfg.withDefaults()
	if op == nil {
		return Result{}, errors.New("load: no operation")
	}
	var seq atomic.Int64
	if cfg.Warmup > 0 {
		warm := cfg
		warm.Duration = cfg.Warmup
		drive(ctx, warm, op, &seq, nil, time.Now())
	}
	start := time.Now()
	rec := newRecorder(start, cfg.Interval)
	missed, last := drive(ctx, cfg, op, &seq, rec, start)
	ok, errs, lat, series, first := rec.finish()
	res := Result{
		Mode: "closed", Clients: cfg.Clients, Rate: cfg.Rate,
		Ops: ok, Errors: errs, Missed: missed,
		Seconds: last.Sub(start).Seconds(), Latency: lat, Series: series, FirstError: first,
	}
	if cfg.Rate > 0 {
		res.Mode = "open"
	}
	if res.Seconds > 0 {
		res.OpsPerSec = float64(ok) / res.Seconds
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("load: %w", err)
	}
	return res, nil
}

// drive runs the workers until the run ends and returns the open-loop
// operations that never started and when the last operation ended. rec nil
// discards the measurements (warm-up).
func drive(ctx context.Context, cfg Config, op Op, seq *atomic.Int64, rec *recorder, start time.Time) (missed int64, last time.Time) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		nMissed atomic.Int64
	)
	last = start
	end := start.Add(cfg.Duration)
	var next atomic.Int64 // open loop: the next schedule slot
	total := int64(cfg.Duration.Seconds() * cfg.Rate)
	hardEnd := end.Add(cfg.Grace)
	for w := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine time.Time
			if cfg.Rate > 0 {
				mine = openWorker(ctx, cfg, op, w, seq, rec, start, hardEnd, total, &next, &nMissed)
			} else {
				mine = closedWorker(ctx, op, w, seq, rec, end)
			}
			mu.Lock()
			if mine.After(last) {
				last = mine
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return nMissed.Load(), last
}

// closedWorker runs operations back to back until end, and at least one:
// on a machine so busy that a client starts only after end, the point is
// slow (its Seconds stretch past Duration), not empty.
func closedWorker(ctx context.Context, op Op, w int, seq *atomic.Int64, rec *recorder, end time.Time) time.Time {
	var last time.Time
	for n := 0; ctx.Err() == nil; n++ {
		began := time.Now()
		if n > 0 && !began.Before(end) {
			break
		}
		err := op(ctx, w, seq.Add(1)-1)
		last = time.Now()
		if rec != nil {
			rec.record(last, last.Sub(began), err)
		}
	}
	return last
}

// openWorker takes the next schedule slot whenever it is free, waits for
// the slot's intended time if it is still ahead, and measures from that
// intended time.
func openWorker(ctx context.Context, cfg Config, op Op, w int, seq *atomic.Int64, rec *recorder,
	start, hardEnd time.Time, total int64, next, missed *atomic.Int64) time.Time {
	var last time.Time
	period := float64(time.Second) / cfg.Rate
	for ctx.Err() == nil {
		i := next.Add(1) - 1
		if i >= total {
			break
		}
		intended := start.Add(time.Duration(float64(i) * period))
		if d := time.Until(intended); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return last
			case <-t.C:
			}
		}
		if time.Now().After(hardEnd) {
			missed.Add(1)
			continue
		}
		err := op(ctx, w, seq.Add(1)-1)
		last = time.Now()
		if rec != nil {
			rec.record(last, last.Sub(intended), err)
		}
	}
	return last
}
