package edge_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/check"
	"github.com/kvchaos/kvchaos/harness/suite"
	"github.com/kvchaos/kvchaos/harness/workload"
)

// evictionValue is the size of every value the eviction specs write.
const evictionValue = 32 << 10

// evictionScenario writes 3× the memory limit under a policy while keeping
// a hot set in use (recently read for lru, often read for lfu), then checks
// what the issue asks: the accounted dataset never exceeds the limit, the
// hot set survives (≥ 95%), every evicted key is a clean 404 and every
// survivor has its exact bytes; noeviction answers 507 MEMORY_LIMIT and
// loses nothing.
func evictionScenario(ctx context.Context, env *suite.Env, policy string, limit int64) problems {
	var p problems
	c := env.Client()
	capacity := int(limit / evictionValue)
	hot := make([]string, capacity/10)
	vals := workload.Derive(env.Seed, workload.StreamValues, 0)
	put := func(key string) error {
		_, err := c.Put(ctx, key, workload.Value(vals, key+"-", evictionValue), harness.PutOptions{})
		return err
	}
	for i := range hot {
		hot[i] = fmt.Sprintf("hot-%04d", i)
		if err := put(hot[i]); err != nil {
			p.addf("write hot key %s: %v", hot[i], err)
			return p
		}
	}
	touchHot := func(times int) {
		for range times {
			for _, k := range hot {
				if _, err := c.Get(ctx, k); err != nil && !harness.IsNotFound(err) {
					p.addf("read hot key %s: %v", k, err)
				}
			}
		}
	}
	if policy == "lfu" {
		touchHot(20)
	}
	maxDataset, refused := 0.0, 0
	scrape := func() {
		m, err := c.Metrics(ctx)
		if err != nil {
			p.addf("scrape /metrics: %v", err)
			return
		}
		d := m["kvserver_dataset_bytes"]
		maxDataset = max(maxDataset, d)
		if d > float64(limit) {
			p.addf("the accounted dataset is %.0f bytes, over --max-memory %d", d, limit)
		}
	}
	fills := 3 * capacity
	for i := 0; i < fills && ctx.Err() == nil; i++ {
		err := put(fmt.Sprintf("fill-%05d", i))
		switch {
		case err == nil:
		case policy == "noeviction" && harness.IsCode(err, "MEMORY_LIMIT"):
			refused++
		default:
			p.addf("write fill-%05d under %s: %v", i, policy, err)
			return p
		}
		if i%50 == 0 {
			scrape()
			switch policy {
			case "lru":
				touchHot(1)
			case "lfu":
				if i%200 == 0 {
					touchHot(1)
				}
			}
		}
	}
	scrape()
	from := env.Clock.Now()

	By("reading every key written: evicted keys are clean 404s, survivors exact")
	survivors, hotAlive := 0, 0
	written := append(append([]string(nil), hot...), make([]string, 0, fills)...)
	for i := 0; i < fills; i++ {
		written = append(written, fmt.Sprintf("fill-%05d", i))
	}
	for i, k := range written {
		_, err := c.Get(ctx, k)
		switch {
		case err == nil:
			survivors++
			if i < len(hot) {
				hotAlive++
			}
		case harness.IsNotFound(err):
		default:
			p.addf("read %s after the fill: %v (an evicted key must be a clean 404)", k, err)
		}
	}
	p.addResult(env.Run(suite.Integrity()))
	// The eviction checker sees from the history what it can (survivors
	// exact and current, clean 404s, nothing lost under noeviction, the
	// hot set kept), so kvchaos recheck can judge the saved run too.
	p.addResult(env.Run(artifact.CheckSpec{Name: check.NameEviction, Keys: hot, From: from}))
	m, err := c.Metrics(ctx)
	if err != nil {
		p.addf("scrape /metrics: %v", err)
	}
	evictions := m["kvserver_evictions_total"]
	peak, _ := harness.PeakRSS(env.Target.Pid())
	env.Figures(map[string]float64{
		"max_memory_bytes": float64(limit), "dataset_peak_bytes": maxDataset, "survivors": float64(survivors),
		"hot_survival_ratio": float64(hotAlive) / float64(len(hot)), "evictions": evictions, "refused_writes": float64(refused),
		"rss_hwm_bytes": float64(peak), "rss_hwm_per_limit": float64(peak) / float64(limit),
	})
	if peak > uint64(4*limit+256<<20) {
		p.addf("the server's peak RSS %d MiB is unbounded for a %d MiB limit", peak>>20, limit>>20)
	}
	switch policy {
	case "noeviction":
		p.addResult(env.Run(suite.Durability(from)))
		if refused == 0 {
			p.addf("noeviction accepted 3× its memory limit: no write got 507 MEMORY_LIMIT")
		}
		if evictions != 0 {
			p.addf("noeviction evicted %.0f keys", evictions)
		}
		By("deletes still work at the limit and make room")
		if _, err := c.Delete(ctx, hot[0], 0); err != nil {
			p.addf("delete at the memory limit: %v", err)
		} else if err := put("after-delete"); err != nil {
			p.addf("a write after freeing a key's room: %v", err)
		}
	default:
		if evictions == 0 {
			p.addf("%s wrote 3× its limit without evicting anything", policy)
		}
		if float64(hotAlive) < 0.95*float64(len(hot)) {
			p.addf("%s evicted the wrong keys: only %d of %d hot keys (%.0f%%) survived, want at least 95%%",
				policy, hotAlive, len(hot), 100*float64(hotAlive)/float64(len(hot)))
		}
	}
	return p
}

var _ = Describe("eviction under memory pressure", Label("edge", "eviction"), func() {
	for _, policy := range []string{"lru", "lfu", "noeviction"} {
		It(fmt.Sprintf("keeps the dataset under --max-memory 16MiB with %s while writing 3× the limit", policy), SpecTimeout(3*time.Minute), func(ctx SpecContext) {
			env := suite.Start(suite.Options{Args: []string{"--max-memory", "16MiB", "--eviction", policy, "--sync", "never"}})
			expectNone(evictionScenario(ctx, env, policy, 16<<20))
		})
		It(fmt.Sprintf("keeps the dataset under --max-memory 64MiB with %s while writing 3× the limit", policy), Label("slow"), SpecTimeout(6*time.Minute), func(ctx SpecContext) {
			env := suite.Start(suite.Options{Args: []string{"--max-memory", "64MiB", "--eviction", policy, "--sync", "never"}})
			expectNone(evictionScenario(ctx, env, policy, 64<<20))
		})
	}
})
