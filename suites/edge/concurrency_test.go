package edge_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/check"
	"github.com/kvchaos/kvchaos/harness/suite"
	"github.com/kvchaos/kvchaos/harness/workload"
)

// registerScenario runs clients reading and writing keys and checks the
// history with porcupine. On one key with 64 clients the mix has no
// deletes: a delete makes the key's revision unknown to its readers, and
// with dozens of deletes in flight at once porcupine's search explodes
// (it would report the check inconclusive, which fails the spec).
func registerScenario(ctx context.Context, env *suite.Env, clients, ops int, keys workload.Keys, mix workload.Mix) problems {
	var p problems
	w := workload.Register{Clients: clients, Ops: ops, Keys: keys, Mix: mix}
	w.Run(ctx, env.Streams, env.Clients())
	p.addResult(env.Run(artifact.CheckSpec{Name: check.NameLinearizable, TimeoutSeconds: 60}))
	p.addResult(env.Run(suite.Integrity()))
	return p
}

// counterScenario increments one counter by CAS from many clients: the
// final value must equal the acknowledged increments (no lost update).
func counterScenario(ctx context.Context, env *suite.Env, clients, increments int) problems {
	var p problems
	w := workload.Counter{Key: "counter", Clients: clients, Increments: increments}
	if err := w.Setup(ctx, env.Client()); err != nil {
		p.addf("%v", err)
		return p
	}
	acked := w.Run(ctx, env.Clients())
	from := env.Clock.Now()
	if _, err := env.Client().Get(ctx, w.Key); err != nil {
		p.addf("final read of the counter: %v", err)
	}
	env.Figure("increments_acked", float64(acked))
	p.addResult(env.Run(artifact.CheckSpec{Name: check.NameCounter, Keys: []string{w.Key}, From: from}))
	p.addResult(env.Run(suite.Linearizability()))
	return p
}

// oneKeyMix is the op mix of the one-key specs: reads, blind writes and
// compare-and-set, no deletes.
var oneKeyMix = workload.Mix{Get: 50, Put: 35, CAS: 15}

var _ = Describe("concurrent writes to one key", Label("edge", "concurrency"), func() {
	It("stay linearizable with 64 clients writing and reading one key", SpecTimeout(3*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(registerScenario(ctx, env, 64, 20, workload.Single("hot"), oneKeyMix))
	})

	It("stay linearizable with 16 clients over 8 keys with deletes and batches", SpecTimeout(3*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(registerScenario(ctx, env, 16, 40, workload.Zipf{Prefix: "k", N: 8, S: 1.2}, workload.Mix{Get: 40, Put: 25, CAS: 15, Delete: 10, Batch: 10}))
	})

	It("lose no CAS increment from many clients", SpecTimeout(3*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		expectNone(counterScenario(ctx, env, 16, 10))
	})

	It("show no data race in a -race build of the server", Label("race"), SpecTimeout(4*time.Minute), func(ctx SpecContext) {
		env := suite.Start(suite.Options{Bin: suite.RaceBin()})
		var p problems
		p = append(p, registerScenario(ctx, env, 64, 10, workload.Single("hot"), oneKeyMix)...)
		p = append(p, counterScenario(ctx, env, 8, 5)...)
		expectNone(p)
		// The spec's cleanup fails it if the server printed a data race.
	})
})
