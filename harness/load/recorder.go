package load

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: latencies are recorded in microseconds from 1 µs to
// maxLatencyUs with three significant digits (0.1% resolution).
const maxLatencyUs = 120_000_000 // 2 minutes

// Latency summarises a latency distribution in microseconds. The zero value
// means no operation was recorded.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
}

// Interval is one slice of a run's time series. T is the end of the slice in
// seconds since the measured part of the run began.
type Interval struct {
	T         float64 `json:"t"`
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50       float64 `json:"p50_us"`
	P99       float64 `json:"p99_us"`
}

// recorder collects latencies into a whole-run histogram and a series of
// per-interval histograms. It is safe for concurrent use; at the rates a
// loopback HTTP server reaches (well under a million ops/s) one mutex costs
// nothing measurable next to a request.
type recorder struct {
	start    time.Time
	interval time.Duration

	mu      sync.Mutex
	all     *hdrhistogram.Histogram
	cur     *hdrhistogram.Histogram
	curIdx  int
	curErrs int64
	errors  int64
	series  []Interval
	first   string // first error's text
}

func newRecorder(start time.Time, interval time.Duration) *recorder {
	return &recorder{
		start:    start,
		interval: interval,
		all:      hdrhistogram.New(1, maxLatencyUs, 3),
		cur:      hdrhistogram.New(1, maxLatencyUs, 2),
	}
}

// record adds one operation that ended at end and took lat (measured from
// its intended start in open loop). A failed operation counts in the error
// totals, not in the latency histograms.
func (r *recorder) record(end time.Time, lat time.Duration, err error) {
	idx := int(end.Sub(r.start) / r.interval)
	us := lat.Microseconds()
	if us < 1 {
		us = 1
	}
	if us > maxLatencyUs {
		us = maxLatencyUs
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for idx > r.curIdx {
		r.flush()
	}
	if err != nil {
		r.errors++
		r.curErrs++
		if r.first == "" {
			r.first = err.Error()
		}
		return
	}
	_ = r.all.RecordValue(us) // cannot fail: us is clamped to the bounds
	_ = r.cur.RecordValue(us)
}

// flush closes the current interval. r.mu must be held.
func (r *recorder) flush() {
	secs := r.interval.Seconds()
	n := r.cur.TotalCount()
	iv := Interval{
		T:         float64(r.curIdx+1) * secs,
		Ops:       n,
		Errors:    r.curErrs,
		OpsPerSec: float64(n) / secs,
	}
	if n > 0 {
		iv.P50 = float64(r.cur.ValueAtQuantile(50))
		iv.P99 = float64(r.cur.ValueAtQuantile(99))
	}
	r.series = append(r.series, iv)
	r.cur.Reset()
	r.curErrs = 0
	r.curIdx++
}

// finish closes the interval in progress (when it holds anything) and
// returns the totals.
func (r *recorder) finish() (ok, errs int64, lat Latency, series []Interval, first string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur.TotalCount() > 0 || r.curErrs > 0 {
		r.flush()
	}
	return r.all.TotalCount(), r.errors, summarize(r.all), r.series, r.first
}

// summarize reads the percentiles of h.
func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		P50:  float64(h.ValueAtQuantile(50)),
		P90:  float64(h.ValueAtQuantile(90)),
		P99:  float64(h.ValueAtQuantile(99)),
		P999: float64(h.ValueAtQuantile(99.9)),
		Max:  float64(h.Max()),
		Mean: h.Mean(),
	}
}
