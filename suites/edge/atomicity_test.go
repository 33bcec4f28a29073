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

// bankScenario runs guarded transfers between accounts, kills the server,
// restarts it and takes a snapshot: every snapshot, before and after the
// crash, must sum to the total (no batch applied in part).
func bankScenario(ctx context.Context, env *suite.Env) problems {
	var p problems
	b := workload.Bank{Accounts: 8, Initial: 100, Clients: 4, Transfers: 25}
	if err := b.Setup(ctx, env.Client()); err != nil {
		p.addf("%v", err)
		return p
	}
	b.Run(ctx, env.Streams, env.Clients())
	env.Crash()
	if _, err := b.Snapshot(ctx, env.Client()); err != nil {
		p.addf("snapshot after the restart: %v", err)
	}
	p.addResult(env.Run(artifact.CheckSpec{Name: check.NameAtomicity, Keys: b.Names(), Total: b.Total()}))
	return p
}

// restartScenario writes and overwrites keys, kills the server, restarts
// it and reads every key back: every acknowledged write must be there.
func restartScenario(ctx context.Context, env *suite.Env) problems {
	var p problems
	c := env.Client()
	vals := workload.Derive(env.Seed, workload.StreamValues, 0)
	for i := 0; i < 60; i++ {
		key := fmt.Sprintf("k%02d", i%40)
		if _, err := c.Put(ctx, key, workload.Value(vals, fmt.Sprintf("%s-%d-", key, i), 100), harness.PutOptions{}); err != nil {
			p.addf("put %s: %v", key, err)
		}
	}
	from := env.Clock.Now()
	env.Crash()
	for i := 0; i < 40; i++ {
		_, _ = c.Get(ctx, fmt.Sprintf("k%02d", i))
	}
	p.addResult(env.Run(suite.Durability(from)))
	p.addResult(env.Run(suite.Integrity()))
	return p
}

var _ = Describe("batches and restarts", Label("edge", "atomicity"), func() {
	It("keep the bank total across concurrent transfers and a SIGKILL", SpecTimeout(2*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(bankScenario(ctx, env))
	})

	It("keep every acknowledged write across a SIGKILL", SpecTimeout(2*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(restartScenario(ctx, env))
	})
})
