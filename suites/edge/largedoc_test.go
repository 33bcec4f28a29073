package edge_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/suite"
	"github.com/kvchaos/kvchaos/harness/workload"
)

// largeDocs writes one value per size (in parallel when parallel) and
// checks every value's sha256 after the write, after a clean restart and
// after a SIGKILL. It reports the server's peak RSS against the bytes
// stored.
func largeDocs(ctx context.Context, env *suite.Env, sizes []int, parallel bool) problems {
	var p problems
	c := env.Client().WithTimeout(2 * time.Minute)
	want := map[string]harness.ValueRef{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stored := 0
	for i, size := range sizes {
		key := fmt.Sprintf("doc-%d-%dMiB", i, size/mib)
		val := workload.Value(workload.Derive(env.Seed, workload.StreamValues, uint64(i)), key+"-", size)
		stored += size
		want[key] = harness.RefOf(val)
		put := func() {
			defer GinkgoRecover()
			_, err := c.Put(ctx, key, val, harness.PutOptions{})
			if err != nil {
				mu.Lock()
				p.addf("put %s (%d bytes): %v", key, size, err)
				mu.Unlock()
			}
		}
		if parallel {
			wg.Add(1)
			go func() { defer wg.Done(); put() }()
		} else {
			put()
		}
	}
	wg.Wait()
	peak, _ := harness.PeakRSS(env.Target.Pid())
	env.Figure("stored_bytes", float64(stored))
	env.Figure("rss_hwm_bytes", float64(peak))
	env.Figure("rss_hwm_per_stored_byte", float64(peak)/float64(stored))

	verify := func(when string) {
		for key, ref := range want {
			v, err := c.Get(ctx, key)
			switch {
			case err != nil:
				p.addf("%s: get %s: %v", when, key, err)
			case harness.RefOf(v.Data) != ref:
				p.addf("%s: %s has %s, want %s", when, key, harness.RefOf(v.Data), ref)
			}
		}
	}
	verify("right after the write")
	env.Restart()
	verify("after a clean restart (SIGTERM)")
	crashAt := env.Clock.Now()
	env.Crash()
	verify("after SIGKILL and restart")
	p.addResult(env.Run(suite.Integrity()))
	p.addResult(env.Run(suite.Durability(crashAt)))
	return p
}

var _ = Describe("large documents", Label("edge", "large-doc"), func() {
	It("keep 1, 8 and 16 MiB values byte for byte across a restart and a SIGKILL", SpecTimeout(3*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(largeDocs(ctx, env, []int{1 * mib, 8 * mib, 16 * mib}, false))
	})

	It("keep several large values written in parallel", SpecTimeout(3*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(largeDocs(ctx, env, []int{8 * mib, 8 * mib, 4 * mib, 4 * mib, 1 * mib, 1 * mib}, true))
	})

	It("refuse a value one byte over --max-value-size with 413 without buffering it", SpecTimeout(time.Minute), func(ctx SpecContext) {
		const limit = 8 * mib
		env := suite.Start(suite.Options{Args: []string{"--max-value-size", fmt.Sprint(limit)}})
		c := env.Client()
		before, err := harness.PeakRSS(env.Target.Pid())
		Expect(err).NotTo(HaveOccurred())
		body := bytes.Repeat([]byte("x"), limit+1)
		for i := 0; i < 3; i++ {
			resp, b, err := c.Raw(ctx, http.MethodPut, "/api/v1/kv/too-big", body, nil)
			if err == nil {
				Expect(resp.StatusCode).To(Equal(http.StatusRequestEntityTooLarge), "body %s", b)
				Expect(harness.DecodeAPIError(resp.StatusCode, b).Code).To(Equal("PAYLOAD_TOO_LARGE"))
			} else {
				// A server may close the connection after refusing a body
				// it will not read; the refusal must still have been sent.
				Expect(err).To(MatchError(ContainSubstring("reset")), "the 413 never arrived")
			}
		}
		after, err := harness.PeakRSS(env.Target.Pid())
		Expect(err).NotTo(HaveOccurred())
		env.Figure("rss_hwm_growth_bytes", float64(after)-float64(before))
		Expect(after-before).To(BeNumerically("<", uint64(limit)/2),
			"the server's peak RSS grew by %d bytes while refusing %d-byte bodies: it buffered them", after-before, len(body))
		_, err = c.Get(ctx, "too-big")
		Expect(harness.IsNotFound(err)).To(BeTrue(), "a refused value was stored")

		By("a value exactly at the limit is accepted")
		_, err = c.Put(ctx, "at-limit", body[:limit], harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred())
	})
})
