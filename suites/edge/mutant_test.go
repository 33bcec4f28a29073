package edge_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/kvchaos/kvchaos/harness/suite"
	"github.com/kvchaos/kvchaos/harness/workload"
)

// startMutant starts the kvmutant build with one deliberate bug switched on.
func startMutant(name string, args ...string) *suite.Env {
	GinkgoHelper()
	return suite.Start(suite.Options{Bin: suite.MutantBin(), Env: []string{"KVSERVER_MUTANT=" + name}, Args: args})
}

// These specs prove the checkers bite: each runs an edge scenario against a
// server broken on purpose and requires the failure, in words a person
// understands.
var _ = Describe("the checkers catch a broken server", Label("edge", "mutant"), func() {
	It("that loses acknowledged writes (lose-writes)", SpecTimeout(2*time.Minute), func(ctx SpecContext) {
		env := startMutant("lose-writes")
		expectCaught(restartScenario(ctx, env), "lose-writes", "lost write")
	})

	It("that serves stale reads (stale-read)", SpecTimeout(2*time.Minute), func(ctx SpecContext) {
		env := startMutant("stale-read")
		expectCaught(registerScenario(ctx, env, 8, 40, workload.Uniform{Prefix: "k", N: 2}, oneKeyMix), "stale-read", "not linearizable")
	})

	It("that applies half a batch after a crash (half-batch)", SpecTimeout(2*time.Minute), func(ctx SpecContext) {
		env := startMutant("half-batch")
		expectCaught(bankScenario(ctx, env), "half-batch", "applied in part")
	})

	It("that resets TTLs on restart (ttl-reset)", SpecTimeout(2*time.Minute), func(ctx SpecContext) {
		env := startMutant("ttl-reset")
		expectCaught(longTTLScenario(ctx, env, 2), "ttl-reset", "reset to its full length")
	})

	It("that evicts the most recently used keys under lru (evict-wrong)", SpecTimeout(3*time.Minute), func(ctx SpecContext) {
		env := startMutant("evict-wrong", "--max-memory", "16MiB", "--eviction", "lru", "--sync", "never")
		expectCaught(evictionScenario(ctx, env, "lru", 16<<20), "evict-wrong", "evicted the wrong keys")
	})
})
