package reliability

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/suite"
)

const (
	slowFsync   = 40 * time.Millisecond // the delay added to every fsync
	slowWriters = 32
)

// txPerFsync is the group-commit factor over the counters' change between
// two /metrics scrapes: transactions committed per fsync of the log.
func txPerFsync(before, after map[string]float64) float64 {
	fsyncs := after["kvserver_fsyncs_total"] - before["kvserver_fsyncs_total"]
	if fsyncs <= 0 {
		return 0
	}
	return (after["kvserver_commits_total"] - before["kvserver_commits_total"]) / fsyncs
}

// scrape reads the server's /metrics, failing the spec when it cannot.
func scrape(ctx context.Context, t *harness.Target) map[string]float64 {
	GinkgoHelper()
	m, err := t.Client().Metrics(ctx)
	Expect(err).NotTo(HaveOccurred(), "read /metrics")
	return m
}

// readLoop GETs key every 2 ms until ctx ends (each read goes into the
// history). The pace leaves the tracer's time to the writers: a traced
// server stops on every system call.
func readLoop(ctx context.Context, t *harness.Target, key string) (wait func()) {
	c := t.Client().WithTimeout(3 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer tick.Stop()
		for ctx.Err() == nil {
			_, _ = c.Get(ctx, key)
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}()
	return wg.Wait
}

// slowDisk is what one run under slow fsyncs saw.
type slowDisk struct {
	w              *workload
	ss             *fault.SlowSync
	native, slow   float64       // transactions per fsync without and with the fault
	acked, early   []artifact.Op // writes acknowledged under the fault; those faster than one fsync
	stalls         []fault.Stall // the delayed fsyncs
	stallsWithRead int           // stalls during which a whole GET ran
	readsInside    int           // GETs that ran inside a stall
	readP99        float64       // ms, GETs under the fault
	killed         float64       // run clock
	history        []artifact.Op
}

// runSlowDisk drives e's server: slowWriters writers for 0.7 s at the
// disk's own speed, then 2 s with every fsync slowSync longer while one
// reader reads a hot key, then SIGKILL while the writers wait in their
// fsyncs. The fault is healed and the server is down when it returns.
func runSlowDisk(ctx context.Context, e *suite.Env) slowDisk {
	GinkgoHelper()
	t, clock := e.Target, e.Target.Clock()
	r := slowDisk{ss: &fault.SlowSync{Delay: slowFsync}}
	skipUnsupported(r.ss)
	start(e)
	_, err := t.Client().Put(ctx, "slow/hot", []byte("read me"), harness.PutOptions{})
	Expect(err).NotTo(HaveOccurred())
	r.w = newWorkload(t, slowWriters, false, "slowdisk")

	m0 := scrape(ctx, t)
	stop := r.w.run(ctx)
	pause(ctx, 700*time.Millisecond)
	stop()
	r.native = txPerFsync(m0, scrape(ctx, t))

	win, err := fault.Inject(ctx, clock, r.ss, t)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(win.Heal)
	injected := clock.Now()
	m1 := scrape(ctx, t)
	stop = r.w.run(ctx)
	readCtx, stopReads := context.WithCancel(ctx)
	readsDone := readLoop(readCtx, t, "slow/hot")
	pause(ctx, 2*time.Second)
	r.slow = txPerFsync(m1, scrape(ctx, t))

	r.killed = clock.Now()
	_, err = fault.Inject(ctx, clock, fault.Kill{}, t)
	Expect(err).NotTo(HaveOccurred())
	Expect(t.Wait(ctx)).To(Succeed())
	stop()
	stopReads()
	readsDone()
	Expect(win.Heal(ctx)).To(Succeed())
	r.history = t.History().Ops()
	r.stalls = r.ss.Stalls()

	var reads []float64
	for _, op := range r.history {
		if op.Call < injected || op.Return > r.killed || op.Outcome != artifact.OutcomeOK {
			continue
		}
		switch op.Kind {
		case harness.KindPut:
			r.acked = append(r.acked, op)
			if op.Return-op.Call < slowFsync.Seconds() {
				r.early = append(r.early, op)
			}
		case harness.KindGet:
			reads = append(reads, (op.Return-op.Call)*1000)
		}
	}
	sort.Float64s(reads)
	if len(reads) > 0 {
		r.readP99 = reads[min(len(reads)-1, len(reads)*99/100)]
	}
	// A stall runs from the fsync's entry for at least the delay; a
	// millisecond off each end covers the wall clock's mapping.
	margin := time.Millisecond.Seconds()
	for _, st := range r.stalls {
		from, to := clock.At(st.Start)+margin, clock.At(st.Start.Add(slowFsync))-margin
		n := 0
		for _, op := range r.history {
			if op.Kind == harness.KindGet && op.Outcome == artifact.OutcomeOK && op.Call >= from && op.Return <= to {
				n++
			}
		}
		r.readsInside += n
		if n > 0 {
			r.stallsWithRead++
		}
	}
	return r
}

var _ = Describe("slow disk", Label("reliability", "disk", "slow-disk"), func() {
	It("acknowledges a write only after its slow fsync, groups the waiting writers, keeps reads going, and loses nothing on a crash", func(ctx SpecContext) {
		e := newServer("", "--sync", "always")
		r := runSlowDisk(ctx, e)
		Expect(r.ss.Delayed()).To(BeNumerically(">", 0), "strace delayed no fsync: the fault did not happen")

		// Durable acks only: a write is acknowledged after the fsync that
		// covers it, which began after the request was sent and took at
		// least the delay.
		Expect(r.acked).NotTo(BeEmpty(), "no write was acknowledged under the slow disk")
		Expect(r.early).To(BeEmpty(), "%d of %d writes were acknowledged sooner than one fsync takes (%s), so before they were durable; first: %v",
			len(r.early), len(r.acked), slowFsync, describeFirst(r.early))

		// Group commit: writers that queue behind a slow fsync share the
		// next one. A writer acknowledged by one fsync comes back while the
		// next is running and joins the one after, so each fsync can cover
		// at most about half the writers; a server without group commit
		// covers one. The figure at the disk's own speed is recorded but
		// not compared: on a busy machine, where the CPU rather than the
		// disk paces the writers, it already comes near that bound.
		Expect(r.slow).To(BeNumerically(">=", slowWriters/4),
			"%d writers behind %s fsyncs shared them %.1f to an fsync (at the disk's speed: %.1f): group commit does not batch the waiting writers",
			slowWriters, slowFsync, r.slow, r.native)

		// Reads do not wait for fsync: GETs ran from start to end while a
		// thread was held in a delayed fsync.
		Expect(r.stalls).NotTo(BeEmpty(), "strace recorded no delayed call")
		Expect(r.stallsWithRead).To(BeNumerically(">", 0),
			"no read completed while an fsync was held (%d stalls of %s, read p99 %.1f ms): reads wait for fsync", len(r.stalls), slowFsync, r.readP99)

		// Nothing acknowledged is lost across the crash.
		start(e)
		from := e.Target.Clock().Now()
		readAll(ctx, e.Target, append(r.w.written(), "slow/hot"))
		expectPass(e.Run(suite.Durability(from)), fmt.Sprintf("restart after SIGKILL under %s fsyncs", slowFsync))

		e.Figures(artifact.Figures{"fsync_delay_ms": float64(slowFsync.Milliseconds()), "writers": slowWriters,
			"tx_per_fsync_native": r.native, "tx_per_fsync_slow": r.slow, "delayed_fsyncs": float64(r.ss.Delayed()),
			"acked_writes_slow": float64(len(r.acked)), "reads_inside_stalls": float64(r.readsInside),
			"stalls_with_a_read": float64(r.stallsWithRead), "stalls": float64(len(r.stalls)), "read_p99_ms": r.readP99})
	})

	// The planted violation: a server that acknowledges before fsync
	// (kvmutant no-fsync) must fail the durable-ack check above. It needs
	// the kvmutant build (KVCHAOS_MUTANT_BIN, or suite.Build{Mutants:
	// true}) and skips without it.
	It("catches a server that acknowledges writes before fsync (no-fsync mutant)", Label("mutant"), func(ctx SpecContext) {
		e := suite.New(suite.Options{Bin: suite.MutantBin(), Env: []string{"KVSERVER_MUTANT=no-fsync"}, Args: []string{"--sync", "always"}})
		r := runSlowDisk(ctx, e)
		Expect(r.acked).NotTo(BeEmpty(), "the mutant acknowledged no write")
		Expect(r.early).NotTo(BeEmpty(), "the durable-ack check passed a server that never fsyncs (%d writes acknowledged, none faster than %s)", len(r.acked), slowFsync)
		e.Figures(artifact.Figures{"acked_writes_slow": float64(len(r.acked)), "early_acks": float64(len(r.early))})
	})
})
