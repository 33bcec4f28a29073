package harness

import (
	"context"
	"testing"
	"time"
)

func TestSamplerSeesTheProcess(t *testing.T) {
	tg := newFakeTarget(t, TargetConfig{})
	if err := tg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := StartSampler(tg, tg.Clock(), 10*time.Millisecond)
	c := tg.Client()
	for i := 0; i < 50; i++ {
		if _, err := c.Put(context.Background(), "k", make([]byte, 64<<10), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The puts may all finish within one interval (a quiet machine) or
	// the sampler's goroutine may not have run yet (a busy one): wait for
	// a second sample instead of assuming the puts took long enough.
	for deadline := time.Now().Add(10 * time.Second); len(s.Samples()) < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // polling the sampler's series: it has no event to wait on
	}
	samples := s.Stop()
	if len(samples) < 2 {
		t.Fatalf("%d samples", len(samples))
	}
	last := samples[len(samples)-1]
	if last.RSS < 1<<20 || last.Threads < 1 || last.FDs < 3 {
		t.Fatalf("implausible sample %+v", last)
	}
	peak, err := PeakRSS(tg.Pid())
	if err != nil || peak < last.RSS {
		t.Fatalf("peak rss %d (%v) below a sampled rss %d", peak, err, last.RSS)
	}
	f := ResourceFigures(samples)
	if f["rss_peak_bytes"] < f["rss_p50_bytes"] || f["rss_peak_bytes"] == 0 {
		t.Fatalf("figures %v", f)
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 50, 0},
		{"max", []float64{3, 1, 2}, 100, 3},
		{"median", []float64{5, 1, 4, 2, 3}, 50, 3},
		{"p99 of 100", seq(100), 99, 99},
		{"p0", []float64{2, 1}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.xs, tt.p); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func seq(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	return xs
}
