package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClosedLoopCountsEveryCall(t *testing.T) {
	tests := []struct {
		name      string
		clients   int
		failEvery int64
	}{
		{"one client", 1, 0},
		{"eight clients", 8, 0},
		{"every third fails", 4, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			seen := sync.Map{}
			op := func(_ context.Context, w int, seq int64) error {
				calls.Add(1)
				if w < 0 || w >= tc.clients {
					t.Errorf("worker %d out of range", w)
				}
				if _, dup := seen.LoadOrStore(seq, true); dup {
					t.Errorf("seq %d given twice", seq)
				}
				if tc.failEvery > 0 && seq%tc.failEvery == 0 {
					return errors.New("planted failure")
				}
				return nil
			}
			res, err := Run(context.Background(), Config{Clients: tc.clients, Duration: 50 * time.Millisecond}, op)
			if err != nil {
				t.Fatal(err)
			}
			if res.Mode != "closed" || res.Clients != tc.clients {
				t.Errorf("mode %q clients %d", res.Mode, res.Clients)
			}
			if got := res.Ops + res.Errors; got != calls.Load() || got == 0 {
				t.Errorf("ops %d + errors %d, want %d calls", res.Ops, res.Errors, calls.Load())
			}
			if tc.failEvery > 0 && (res.Errors == 0 || res.FirstError != "planted failure") {
				t.Errorf("errors %d first %q", res.Errors, res.FirstError)
			}
			if tc.failEvery == 0 && res.Errors != 0 {
				t.Errorf("errors %d", res.Errors)
			}
			var sum int64
			for _, iv := range res.Series {
				sum += iv.Ops
			}
			if sum != res.Ops {
				t.Errorf("series sums to %d ops, want %d", sum, res.Ops)
			}
		})
	}
}

// TestClosedLoopRunsEveryClientOnce: a client that starts only after the
// run's end (a busy machine; here a run already over) still runs one
// operation, so a point is never empty.
func TestClosedLoopRunsEveryClientOnce(t *testing.T) {
	var calls atomic.Int64
	op := func(context.Context, int, int64) error {
		time.Sleep(5 * time.Millisecond) // longer than the whole run
		calls.Add(1)
		return nil
	}
	res, err := Run(context.Background(), Config{Clients: 4, Duration: time.Nanosecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 4 || calls.Load() != 4 || res.OpsPerSec <= 0 {
		t.Fatalf("ops %d, calls %d, %.0f/s; want one op per client", res.Ops, calls.Load(), res.OpsPerSec)
	}
}

func TestOpenLoopSendsTheSchedule(t *testing.T) {
	var calls atomic.Int64
	op := func(context.Context, int, int64) error { calls.Add(1); return nil }
	res, err := Run(context.Background(), Config{Clients: 4, Rate: 2000, Duration: 250 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "open" {
		t.Errorf("mode %q", res.Mode)
	}
	// 2000/s for 0.25 s: exactly 500 slots, each sent once.
	if res.Ops != 500 || calls.Load() != 500 || res.Missed != 0 {
		t.Errorf("ops %d calls %d missed %d, want 500 500 0", res.Ops, calls.Load(), res.Missed)
	}
}

// TestOpenLoopCorrectsCoordinatedOmission plants one stall in a fake slow
// server: a closed loop sees a single slow request, an open loop charges the
// stall to every request that should have been sent during it.
func TestOpenLoopCorrectsCoordinatedOmission(t *testing.T) {
	const stall = 150 * time.Millisecond
	newOp := func() Op {
		var once sync.Once
		return func(context.Context, int, int64) error {
			once.Do(func() { time.Sleep(stall) })
			return nil
		}
	}
	closed, err := Run(context.Background(), Config{Clients: 1, Duration: 400 * time.Millisecond}, newOp())
	if err != nil {
		t.Fatal(err)
	}
	open, err := Run(context.Background(), Config{Clients: 1, Rate: 1000, Duration: 400 * time.Millisecond}, newOp())
	if err != nil {
		t.Fatal(err)
	}
	if closed.Latency.Max < float64(stall.Microseconds()) {
		t.Errorf("closed loop max %.0f µs misses the stall", closed.Latency.Max)
	}
	if closed.Latency.P90 > 20_000 {
		t.Errorf("closed loop p90 %.0f µs: expected one slow op only", closed.Latency.P90)
	}
	// About 150 of the 400 slots fall in the stall, waiting up to 150 ms.
	if open.Latency.P90 < 20_000 {
		t.Errorf("open loop p90 %.0f µs: the stall was not charged to the queued requests", open.Latency.P90)
	}
	if open.Ops != 400 {
		t.Errorf("open loop ops %d, want 400", open.Ops)
	}
}

func TestOpenLoopCountsMissedSlots(t *testing.T) {
	// A target that takes 100 ms per op, asked for 1000/s over 100 ms with
	// one worker and 50 ms of grace: most slots can never start.
	op := func(ctx context.Context, _ int, _ int64) error {
		time.Sleep(100 * time.Millisecond)
		return nil
	}
	res, err := Run(context.Background(), Config{Clients: 1, Rate: 1000, Duration: 100 * time.Millisecond, Grace: 50 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops+res.Missed != 100 || res.Missed < 90 {
		t.Errorf("ops %d missed %d, want 100 in all and most missed", res.Ops, res.Missed)
	}
}

func TestRecorderPercentiles(t *testing.T) {
	start := time.Unix(1000, 0)
	r := newRecorder(start, time.Second)
	// 1..1000 µs, one each, in the first interval; one error in the second.
	for i := 1; i <= 1000; i++ {
		r.record(start.Add(time.Millisecond), time.Duration(i)*time.Microsecond, nil)
	}
	r.record(start.Add(1500*time.Millisecond), time.Millisecond, errors.New("boom"))
	ok, errs, lat, series, first := r.finish()
	if ok != 1000 || errs != 1 || first != "boom" {
		t.Fatalf("ok %d errs %d first %q", ok, errs, first)
	}
	within := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.99 || got > want*1.01 {
			t.Errorf("%s = %v, want %v ±1%%", name, got, want)
		}
	}
	within("p50", lat.P50, 500)
	within("p90", lat.P90, 900)
	within("p99", lat.P99, 990)
	within("max", lat.Max, 1000)
	within("mean", lat.Mean, 500.5)
	if len(series) != 2 || series[0].Ops != 1000 || series[1].Errors != 1 || series[1].Ops != 0 {
		t.Errorf("series %+v", series)
	}
	if series[0].T != 1 || series[0].OpsPerSec != 1000 {
		t.Errorf("first interval %+v", series[0])
	}
}

func TestExchange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "nope", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c := NewHTTPClient(2, time.Second)
	tests := []struct {
		path   string
		status int
	}{{"/good", 0}, {"/bad", 503}}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			err := Exchange(c, req)
			var se *StatusError
			switch {
			case tc.status == 0 && err != nil:
				t.Errorf("err %v", err)
			case tc.status != 0 && (!errors.As(err, &se) || se.Status != tc.status):
				t.Errorf("err %v, want status %d", err, tc.status)
			}
		})
	}
}
