package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/suite"
)

// limited returns a server whose process enters a memory cgroup with the
// given limit as soon as it exists.
func limited(ctx context.Context, m *fault.MemoryLimit, args ...string) *suite.Env {
	GinkgoHelper()
	skipUnsupported(m)
	e := newServer("", args...)
	t := e.Target
	var mu sync.Mutex
	var win *fault.Window
	t.SetAfterStart(func(pid int) error {
		mu.Lock()
		defer mu.Unlock()
		if err := win.Heal(ctx); err != nil { // the previous process's window
			return err
		}
		w, err := fault.Inject(ctx, t.Clock(), m, pidTarget{pid: pid, dir: t.DataDir()})
		win = w
		return err
	})
	DeferCleanup(func(ctx SpecContext) {
		mu.Lock()
		defer mu.Unlock()
		Expect(win.Heal(ctx)).To(Succeed())
	})
	return e
}

// flood writes unique 64 KiB values from 8 clients until total bytes were
// sent or the server is gone, and returns the statuses of the failures.
func flood(ctx context.Context, t *harness.Target, total int64) map[string]int {
	var sent atomic.Int64
	var mu sync.Mutex
	fails := map[string]int{}
	var wg sync.WaitGroup
	val := bytes.Repeat([]byte("m"), 64<<10)
	for i := range 8 {
		c := t.Client().WithTimeout(10 * time.Second)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; sent.Add(int64(len(val))) <= total && ctx.Err() == nil && t.Running(); n++ {
				_, err := c.Put(ctx, fmt.Sprintf("m/%d/%d", i, n), val, harness.PutOptions{})
				if err != nil {
					status, code := statusOf(err)
					mu.Lock()
					fails[fmt.Sprintf("%d %s", status, code)]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return fails
}

// peakRSS reads VmHWM of pid in bytes.
func peakRSS(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

var _ = Describe("memory limit", Label("reliability", "memory"), func() {
	DescribeTable("stays under a 128 MiB cgroup limit with --max-memory below it, under heavy writes",
		func(ctx SpecContext, maxMemory string, bytes int64) {
			m := &fault.MemoryLimit{Limit: intensityBytes("KVCHAOS_MEMORY_LIMITS", 128<<20)}
			e := limited(ctx, m, "--max-memory", maxMemory, "--eviction", "lru", "--sync", "always")
			t := e.Target
			start(e)
			from := t.Clock().Now()
			fails := flood(ctx, t, 3*bytes)
			to := t.Clock().Now()
			rss := peakRSS(t.Pid())
			Expect(t.Running()).To(BeTrue(), "the server died under the memory limit: %s", t.ExitDescription())
			oom, err := m.OOMKills()
			Expect(err).NotTo(HaveOccurred())
			Expect(oom).To(BeZero(), "the cgroup OOM killer fired %d times although --max-memory is below the limit", oom)
			for status := range fails {
				Expect(status).To(HavePrefix(strconv.Itoa(http.StatusInsufficientStorage)), "writes under memory pressure failed with %v (want only 507)", fails)
			}
			p50, p99, _, rate := latencies(t.History().Ops(), from, to)
			e.Figures(artifact.Figures{"rss_peak_bytes": rss, "rss_peak_per_max_memory": rss / float64(bytes),
				"cgroup_limit_bytes": float64(m.Limit), "p50_ms": p50, "p99_ms": p99, "ops_per_sec": rate})
			Expect(rss).To(BeNumerically("<", float64(m.Limit)), "peak RSS over the cgroup limit")
		},
		Entry("--max-memory 24MiB", "24MiB", int64(24<<20)),
		// Regression: kvserver set its Go soft memory limit from
		// --max-memory alone (160 MiB here) without looking at the cgroup's
		// limit, and was OOM-killed within a second. It now caps the soft
		// limit at 3/4 of the cgroup's, re-read every 50 ms.
		Entry("--max-memory 48MiB", "48MiB", int64(48<<20)),
	)

	It("reports the OOM kill of a server whose --max-memory is unlimited under a 96 MiB cgroup", func(ctx SpecContext) {
		m := &fault.MemoryLimit{Limit: 96 << 20}
		e := limited(ctx, m, "--sync", "never")
		t := e.Target
		start(e)
		fails := flood(ctx, t, 512<<20)
		Eventually(t.Done()).WithTimeout(30*time.Second).Should(BeClosed(),
			"the server kept running with 512 MiB written under a 96 MiB limit and no --max-memory (failures: %v)", fails)
		oom, err := m.OOMKills()
		Expect(err).NotTo(HaveOccurred())
		Expect(t.ExitSignal()).To(Equal(syscall.SIGKILL), "the server died, but not by SIGKILL: %s", t.ExitDescription())
		Expect(oom).To(BeNumerically(">=", 1), "the server was SIGKILLed but the cgroup counted no OOM kill")
		AddReportEntry("oom", fmt.Sprintf("OOM-killed by the cgroup (limit %d bytes): %s, oom_kill=%d", m.Limit, t.ExitDescription(), oom))
		e.Figures(artifact.Figures{"oom_kills": float64(oom), "cgroup_limit_bytes": float64(m.Limit)})
	})
})
