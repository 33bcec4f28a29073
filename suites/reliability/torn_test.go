package reliability

import (
	"context"
	"fmt"
	"os"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/suite"
)

// The torn-batch sweep: bank transfers are logged, the server is killed,
// and its newest log file is cut at every tornStep-th byte of its last
// tornSpan bytes, each cut on a fresh copy. A crash can stop a write at
// any byte, so every cut is a state the disk could hold, and in each the
// bank must hold all its accounts and its total, or none of them: a
// transfer applied in part is a torn batch.
const (
	tornTransfers = 12
	tornSpan      = 1024
	tornStep      = 7
)

var _ = Describe("torn batches", Label("crash", "torn"), func() {
	It("applies a batch cut at any byte of the log's tail whole or not at all", func(ctx SpecContext) {
		r := tornBatchSweep(ctx, newServer("", "--sync", "always"))
		Expect(r.partial).To(BeEmpty(), "transfers applied in part after %d of %d cuts", len(r.partial), r.cuts)
	})

	// The planted violation: a server that logs each change of a batch as a
	// record of its own (kvmutant split-batch) must fail the sweep. It needs
	// the kvmutant build and skips without it.
	It("catches a server that logs a batch in several records (split-batch mutant)", Label("mutant"), func(ctx SpecContext) {
		e := suite.New(suite.Options{Bin: suite.MutantBin(), Env: []string{"KVSERVER_MUTANT=split-batch"}, Args: []string{"--sync", "always"}})
		r := tornBatchSweep(ctx, e)
		Expect(r.partial).NotTo(BeEmpty(), "the sweep passed a server that splits batches (%d cuts)", r.cuts)
	})
})

// sweepResult is what a torn-batch sweep found.
type sweepResult struct {
	cuts    int
	partial []string // the cuts after which a transfer was applied in part
}

func tornBatchSweep(ctx context.Context, e *suite.Env) sweepResult {
	GinkgoHelper()
	t := e.Target
	start(e)
	openBank(ctx, t)
	c, rnd := t.Client(), seeded("torn-batches")
	for range tornTransfers {
		transfer(ctx, c, rnd)
	}
	_, err := fault.Inject(ctx, t.Clock(), fault.Kill{}, t)
	Expect(err).NotTo(HaveOccurred())
	Expect(t.Wait(ctx)).To(Succeed())
	// SetDataDir removes the target's own temp dir: keep a copy first.
	pristine := GinkgoT().TempDir()
	Expect(os.CopyFS(pristine, os.DirFS(t.DataDir()))).To(Succeed())

	var res sweepResult
	span := int64(tornSpan)
	for back := int64(1); back <= span; back += tornStep {
		dir := GinkgoT().TempDir()
		Expect(os.CopyFS(dir, os.DirFS(pristine))).To(Succeed())
		t.SetDataDir(dir)
		tw := &fault.TornWrite{Back: back}
		_, err := fault.Inject(ctx, t.Clock(), tw, t)
		Expect(err).NotTo(HaveOccurred())
		span = min(span, tw.Size) // a log shorter than the span: sweep all of it
		res.cuts++
		Expect(t.Start(ctx)).To(Succeed(), "the server did not start after: %s", tw.Detail())
		present, sum, err := bankState(ctx, t.Client())
		Expect(err).NotTo(HaveOccurred(), "read the bank after: %s", tw.Detail())
		if present > 0 && (present != accountCount || sum != bankTotal) {
			res.partial = append(res.partial, fmt.Sprintf("%s: %d of %d accounts, total %d of %d", tw.Detail(), present, accountCount, sum, bankTotal))
		}
		Expect(t.Stop(ctx)).To(Succeed())
	}
	Expect(res.cuts).To(BeNumerically(">", 10), "the log was too short to sweep")
	for _, p := range res.partial {
		fmt.Fprintln(GinkgoWriter, "applied in part:", p)
	}
	e.Figures(artifact.Figures{"cuts": float64(res.cuts), "partial_batches": float64(len(res.partial))})
	return res
}

// bankState reads every account in one batch (an atomic snapshot) and
// returns how many exist and their sum.
func bankState(ctx context.Context, c *harness.Client) (present, sum int, err error) {
	reply, err := snapshot(ctx, c)
	if err != nil {
		return 0, 0, err
	}
	for _, res := range reply.Results {
		if res.Found {
			n, _ := strconv.Atoi(string(res.Data))
			sum += n
			present++
		}
	}
	return present, sum, nil
}
