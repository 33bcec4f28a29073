package reliability

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/check"
)

const (
	defaultClients = 256 // KVCHAOS_CLIENTS overrides
	linClients     = 16  // clients on the sampled keys porcupine checks
	linKeys        = 8
	requestBudget  = 5 * time.Second // no request may outlive it
)

// mixed runs clients until ctx ends: the first linClients do gets, puts and
// CAS on the sampled "lin/" keys, the rest gets, puts and deletes on a
// larger key space.
func mixed(ctx context.Context, t *harness.Target, seed *rand.Rand) {
	var wg sync.WaitGroup
	for i := range intensityInt("KVCHAOS_CLIENTS", defaultClients) {
		r := rand.New(rand.NewSource(seed.Int63()))
		c := t.Client().WithTimeout(requestBudget)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				val := []byte(fmt.Sprintf("c%d-n%d", i, n))
				if i < linClients {
					key := fmt.Sprintf("lin/%d", r.Intn(linKeys))
					switch r.Intn(3) {
					case 0:
						_, _ = c.Get(ctx, key)
					case 1:
						_, _ = c.Put(ctx, key, val, harness.PutOptions{})
					default:
						if v, err := c.Get(ctx, key); err == nil {
							_, _ = c.Put(ctx, key, val, harness.PutOptions{IfMatch: v.Revision})
						}
					}
					continue
				}
				key := fmt.Sprintf("load/%d", r.Intn(2000))
				switch r.Intn(4) {
				case 0, 1:
					_, _ = c.Get(ctx, key)
				case 2:
					_, _ = c.Put(ctx, key, val, harness.PutOptions{})
				default:
					_, _ = c.Delete(ctx, key, 0)
				}
			}
		}()
	}
	wg.Wait()
}

var _ = Describe("concurrent access", Label("reliability", "concurrency"), func() {
	DescribeTable("256 clients, mixed ops",
		func(ctx SpecContext, d time.Duration, withFaults bool) {
			d = intensityDuration("KVCHAOS_DURATION", d)
			e := newServer("", "--sync", "always")
			t := e.Target
			start(e)
			clock := t.Clock()
			begin := clock.Now()
			runCtx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			done := make(chan struct{})
			go func() { defer close(done); mixed(runCtx, t, seeded("concurrency")) }()

			var healed float64
			if withFaults {
				// A CPU-starved window, then a paused one, then recovery.
				phase := d / 4
				pause(runCtx, phase)
				Expect(fault.Apply(runCtx, clock, &fault.CPUStarve{Percent: float64(intensityPercent("KVCHAOS_CPU_QUOTA", 10))}, t, phase/2)).To(Succeed())
				pause(runCtx, phase/4)
				Expect(fault.Apply(runCtx, clock, &fault.Pause{}, t, min(phase/2, time.Second))).To(Succeed())
				healed = clock.Now()
			}
			<-done
			end := clock.Now()
			h := t.History().Ops()

			var stalled, serverErrs []artifact.Op
			for _, op := range h {
				if op.Outcome == artifact.OutcomeUnknown && op.Return-op.Call >= requestBudget.Seconds()-0.01 {
					stalled = append(stalled, op)
				}
				if op.Status >= 500 {
					serverErrs = append(serverErrs, op)
				}
			}
			if len(stalled) > 0 {
				dump, _ := t.GoroutineDump(ctx)
				AddReportEntry("goroutine dump (SIGQUIT)", dump)
				Fail(fmt.Sprintf("%d requests outlived the %s deadline (a stall or deadlock); first: %s\nthe server's goroutine dump is attached to the report",
					len(stalled), requestBudget, check.Describe(stalled[0])))
			}
			Expect(serverErrs).To(BeEmpty(), "the server answered 5xx under concurrency, first: %v", describeFirst(serverErrs))

			var lin []artifact.Op
			for _, op := range h {
				if strings.HasPrefix(op.Key, "lin/") {
					lin = append(lin, op)
				}
			}
			res := check.Linearizable(lin, check.LinearizableOptions{Timeout: 60 * time.Second,
				Faults: clock.Faults(), VisualizePath: filepath.Join(e.Dir, artifact.PorcupineFile)})
			expectPass(res, "porcupine on the sampled keys")

			p50, p99, p999, rate := latencies(h, begin, end)
			f := artifact.Figures{"clients": float64(intensityInt("KVCHAOS_CLIENTS", defaultClients)), "ops_per_sec": rate, "p50_ms": p50, "p99_ms": p99, "p999_ms": p999,
				"checked_ops": float64(len(lin))}
			if withFaults {
				// The server is back to normal latency after the heals.
				base50, _, _, _ := latencies(h, begin, begin+(d/4).Seconds())
				after50, after99, _, _ := latencies(h, healed+0.2, end)
				f["p50_ms_before_faults"], f["p50_ms_after_heal"], f["p99_ms_after_heal"] = base50, after50, after99
				Expect(after50).To(BeNumerically("<=", 3*base50+50),
					"p50 latency after the faults healed is %.1f ms, before them %.1f ms: the server did not recover", after50, base50)
			}
			e.Figures(f)
		},
		Entry("for 5s", 5*time.Second, false),
		Entry("for 8s with CPU starvation and a pause", 8*time.Second, true),
		Entry("for 30s", Label("slow"), 30*time.Second, false),
		Entry("for 30s with CPU starvation and a pause", Label("slow"), 30*time.Second, true),
	)
})

func describeFirst(ops []artifact.Op) string {
	if len(ops) == 0 {
		return "none"
	}
	return check.Describe(ops[0])
}
