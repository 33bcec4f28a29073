package edge_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/check"
	"github.com/kvchaos/kvchaos/harness/suite"
)

// ttlTolerance is how far a reported remaining TTL may be from the truth.
const ttlTolerance = time.Second

// longTTLs are the high TTLs the issue names.
var longTTLs = []struct {
	arg string
	d   time.Duration
}{
	{"25h", 25 * time.Hour},
	{"48h", 48 * time.Hour},
	{"720h", 30 * 24 * time.Hour},  // 30 d
	{"87660h", 87660 * time.Hour},  // 10 y of 365.25 d
	{"90000", 90000 * time.Second}, // whole seconds
	{"36h30m15s", 36*time.Hour + 30*time.Minute + 15*time.Second},
}

// ttlWrite is one key written with a TTL: the write's call and return on
// the monotonic clock bound the moment the TTL started.
type ttlWrite struct {
	key       string
	ttl       time.Duration
	call, ret time.Time
}

// checkRemaining reads every key and checks X-Kv-Ttl-Ms against the truth:
// TTL minus the real time since the write, within ttlTolerance, and
// X-Kv-Expires-At against the wall clock.
func checkRemaining(ctx context.Context, c *harness.Client, writes []ttlWrite, when string, p *problems) {
	for _, w := range writes {
		call := time.Now()
		v, err := c.Get(ctx, w.key)
		ret := time.Now()
		if err != nil {
			p.addf("%s: key %s (ttl %s) is gone: %v", when, w.key, w.ttl, err)
			continue
		}
		// The truth lies in [ttl - (ret - w.call), ttl - (call - w.ret)].
		lo := w.ttl - ret.Sub(w.call) - ttlTolerance
		hi := w.ttl - call.Sub(w.ret) + ttlTolerance
		if v.TTL < lo || v.TTL > hi {
			p.addf("%s: key %s (ttl %s written %.1fs ago) reports %s remaining, want %s ± %s%s",
				when, w.key, w.ttl, call.Sub(w.ret).Seconds(), v.TTL, (w.ttl - call.Sub(w.ret)).Round(time.Millisecond), ttlTolerance, resetHint(v.TTL, w.ttl))
		}
		exp := w.call.Add(w.ttl)
		if v.ExpiresAt.IsZero() || v.ExpiresAt.Before(exp.Add(-ttlTolerance)) || v.ExpiresAt.After(w.ret.Add(w.ttl).Add(ttlTolerance)) {
			p.addf("%s: key %s reports X-Kv-Expires-At %s, want about %s", when, w.key, v.ExpiresAt.Format(time.RFC3339Nano), exp.Format(time.RFC3339Nano))
		}
	}
}

// resetHint explains a remaining TTL that looks restarted from its full length.
func resetHint(got, ttl time.Duration) string {
	if got > ttl-ttlTolerance {
		return " (the TTL was reset to its full length)"
	}
	return ""
}

// longTTLScenario writes the long TTLs, lets real time pass, and checks the
// remaining TTLs right away, after a SIGTERM restart and after a SIGKILL
// restart. restarts > 1 repeats the restarts (alternating), for the slow
// profile.
func longTTLScenario(ctx context.Context, env *suite.Env, restarts int) problems {
	var p problems
	c := env.Client()
	var writes []ttlWrite
	for i, t := range longTTLs {
		w := ttlWrite{key: fmt.Sprintf("ttl-%d-%s", i, t.arg), ttl: t.d, call: time.Now()}
		_, err := c.Put(ctx, w.key, []byte(t.arg), harness.PutOptions{TTL: t.arg})
		w.ret = time.Now()
		if err != nil {
			p.addf("put %s with ttl %s: %v", w.key, t.arg, err)
			continue
		}
		writes = append(writes, w)
	}
	checkRemaining(ctx, c, writes, "right after the write", &p)
	for i := 0; i < restarts; i++ {
		// Real time has to pass for a TTL reset to show: the remaining TTL
		// after a restart must be shorter by the time since the write.
		time.Sleep(2*ttlTolerance + 500*time.Millisecond)
		if i%2 == 0 {
			env.Restart()
			checkRemaining(ctx, c, writes, fmt.Sprintf("after SIGTERM restart %d", i+1), &p)
		} else {
			env.Crash()
			checkRemaining(ctx, c, writes, fmt.Sprintf("after SIGKILL restart %d", i+1), &p)
		}
	}
	// The TTL checker judges the same from the history, so kvchaos recheck
	// can judge the saved run too.
	p.addResult(env.Run(artifact.CheckSpec{Name: check.NameTTL}))
	return p
}

var _ = Describe("high TTLs", Label("edge", "ttl"), func() {
	It("report the remaining TTL within 1s of the truth after the write, a SIGTERM restart and a SIGKILL restart", SpecTimeout(2*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(longTTLScenario(ctx, env, 2))
	})

	It("keep a 10-year TTL exact across many restarts", Label("slow"), SpecTimeout(5*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(longTTLScenario(ctx, env, 12))
	})

	DescribeTable("refuse overflowing and nonsense TTLs with 400 INVALID_TTL and store nothing",
		func(ctx SpecContext, ttl string) {
			env := suite.Start(suite.Options{Args: []string{"--max-ttl", "87660h"}})
			c := env.Client()
			_, err := c.Put(ctx, "k", []byte("v"), harness.PutOptions{TTL: ttl})
			ae, ok := harness.AsAPIError(err)
			Expect(ok).To(BeTrue(), "ttl=%q was accepted (err %v)", ttl, err)
			Expect(ae.Status).To(Equal(http.StatusBadRequest))
			Expect(ae.Code).To(Equal("INVALID_TTL"))
			_, err = c.Get(ctx, "k")
			Expect(harness.IsNotFound(err)).To(BeTrue(), "ttl=%q: the refused write stored the key", ttl)
			_, err = c.Batch(ctx, []harness.BatchOp{{Op: harness.BatchSet, Key: "b", Value: []byte("v"), TTL: ttl}})
			Expect(harness.IsCode(err, "INVALID_BATCH")).To(BeTrue(), "a batch set with ttl=%q: %v", ttl, err)
			keys, err := c.ListAll(ctx, "", 10)
			Expect(err).NotTo(HaveOccurred())
			Expect(keys).To(BeEmpty())
		},
		Entry("zero", SpecTimeout(time.Minute), "0"),
		Entry("zero duration", SpecTimeout(time.Minute), "0s"),
		Entry("negative", SpecTimeout(time.Minute), "-1s"),
		Entry("negative seconds", SpecTimeout(time.Minute), "-5"),
		Entry("int64 overflow in ns", SpecTimeout(time.Minute), "9223372036854775808ns"),
		Entry("huge float", SpecTimeout(time.Minute), "1e30"),
		Entry("huge whole seconds", SpecTimeout(time.Minute), "99999999999999999999"),
		Entry("garbage", SpecTimeout(time.Minute), "abc"),
		Entry("over --max-ttl", SpecTimeout(time.Minute), "87661h"),
	)

	It("expire short TTLs on time: present just before the deadline, gone within 50 ms after it", SpecTimeout(time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		for _, ttl := range []time.Duration{1500 * time.Millisecond, 700 * time.Millisecond} {
			call := time.Now()
			_, err := c.Put(ctx, "short", []byte("v"), harness.PutOptions{TTL: ttl.String()})
			ret := time.Now()
			Expect(err).NotTo(HaveOccurred())

			// The deadline lies in [call+ttl, ret+ttl].
			waitUntil(ctx, call.Add(ttl-150*time.Millisecond))
			gCall := time.Now()
			_, err = c.Get(ctx, "short")
			if gRet := time.Now(); gRet.Before(call.Add(ttl)) {
				Expect(err).NotTo(HaveOccurred(), "ttl %s: gone %s before its deadline", ttl, call.Add(ttl).Sub(gRet))
			} else {
				AddReportEntry("inconclusive early read", fmt.Sprintf("ttl %s: the read [%s] ended after the deadline", ttl, gRet.Sub(gCall)))
			}

			waitUntil(ctx, ret.Add(ttl+50*time.Millisecond))
			_, err = c.Get(ctx, "short")
			Expect(harness.IsNotFound(err)).To(BeTrue(), "ttl %s: still there 50 ms after its deadline (err %v)", ttl, err)
		}
		m, err := c.Metrics(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(m["kvserver_expirations_total"]).To(BeNumerically(">=", 0))
	})
})

// waitUntil blocks until t (or the spec's context ends). Real time passing
// is what a TTL spec tests, so this is a timer, not a stand-in for an event.
func waitUntil(ctx context.Context, t time.Time) {
	select {
	case <-time.After(time.Until(t)):
	case <-ctx.Done():
	}
}
