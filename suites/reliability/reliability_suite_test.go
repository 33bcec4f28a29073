// Package reliability is the Ginkgo suite of kvchaos's four reliability
// areas: crash recovery (SIGKILL, power loss, torn and corrupt files), disk
// exhaustion and I/O errors, memory limits, and concurrent access under CPU
// starvation and pauses. It drives the server as a black box through the
// harness and injects real faults through package fault.
//
// Run it with `ginkgo ./suites/reliability` (add --label-filter='!slow' for
// the quick profile); KVCHAOS_SERVER_BIN points it at another server binary.
package reliability

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/check"
)

func TestReliability(t *testing.T) {
	// Every failure message ends with the command that re-runs just it.
	RegisterFailHandler(func(message string, callerSkip ...int) {
		skip := 1
		if len(callerSkip) > 0 {
			skip += callerSkip[0]
		}
		Fail(message+"\n\nre-run: "+repro(), skip)
	})
	RunSpecs(t, "Reliability Suite")
}

// serverBin is the kvserver binary every spec runs.
var serverBin string

var _ = SynchronizedBeforeSuite(func() []byte {
	if bin := os.Getenv("KVCHAOS_SERVER_BIN"); bin != "" {
		return []byte(bin)
	}
	bin, err := gexec.Build("github.com/kvchaos/kvchaos/cmd/kvserver")
	Expect(err).NotTo(HaveOccurred(), "build cmd/kvserver")
	return []byte(bin)
}, func(bin []byte) {
	serverBin = string(bin)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
	// Nothing may outlive the suite: no server, mount, cgroup or tracer.
	// (The fault package's own tests mark their victims "faulttest"; they
	// may run beside this suite under `go test ./...`.)
	Eventually(func() []string {
		var left []string
		for _, l := range fault.Leftovers() {
			if !strings.Contains(l, "=faulttest") {
				left = append(left, l)
			}
		}
		return left
	}).WithTimeout(20*time.Second).Should(BeEmpty(), "the suite left these behind (remove them with `kvchaos cleanup`)")
})

// repro is the command that re-runs just the current spec.
func repro() string {
	return fmt.Sprintf("ginkgo --seed %d --focus %q ./suites/reliability", GinkgoRandomSeed(),
		strings.ReplaceAll(CurrentSpecReport().FullText(), `"`, `.`))
}

// seeded returns a random stream for one purpose, derived from the suite's
// seed, so adding draws to one stream does not shift another.
func seeded(stream string) *rand.Rand {
	h := int64(0)
	for _, c := range stream {
		h = h*31 + int64(c)
	}
	return rand.New(rand.NewSource(GinkgoRandomSeed() ^ h))
}

// newServer prepares a target with args; dataDir "" means a temp dir. The
// target is killed and cleaned up after the spec (its data dir is kept when
// the spec failed), and its log is attached on failure.
func newServer(dataDir string, args ...string) *harness.Target {
	GinkgoHelper()
	t, err := harness.NewTarget(harness.TargetConfig{
		Bin:     serverBin,
		Args:    args,
		Env:     []string{fault.OwnerEnv + "=reliability"},
		DataDir: dataDir,
		Log:     GinkgoWriter,
	})
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry(artifact.EntryRepro, repro(), ReportEntryVisibilityNever)
	DeferCleanup(func() {
		failed := CurrentSpecReport().Failed()
		if failed {
			AddReportEntry("server log tail", t.LogTail(80))
			AddReportEntry("data dir", t.DataDir())
		}
		Expect(t.Cleanup(failed)).To(Succeed())
	})
	return t
}

// start starts t and returns how long it took to be ready.
func start(ctx context.Context, t *harness.Target) time.Duration {
	GinkgoHelper()
	began := time.Now()
	Expect(t.Start(ctx)).To(Succeed(), "the server did not start")
	return time.Since(began)
}

// setup prepares a fault's data dir before the server starts and tears it
// down after the spec (after the server is gone: cleanups run last-in,
// first-out, so call it before newServer).
func setup(ctx context.Context, p fault.Preparer) string {
	GinkgoHelper()
	skipUnsupported(p.(fault.Injector))
	dir, err := p.Setup(ctx)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { Expect(p.Teardown(ctx)).To(Succeed()) })
	return dir
}

// skipUnsupported skips the spec, with the reason, when this machine cannot
// inject inj.
func skipUnsupported(inj fault.Injector) {
	if err := fault.Probe(inj); err != nil {
		Skip(err.Error())
	}
}

// expectPass fails the spec with every violation of res, in plain words,
// and the re-run command.
func expectPass(res check.Result, when string) {
	GinkgoHelper()
	if !res.OK() {
		Fail(fmt.Sprintf("%s: %s\nre-run: %s", when, res.String(), repro()))
	}
}

// figures adds the spec's key numbers to the report.
func figures(f artifact.Figures) {
	AddReportEntry(artifact.EntryFigures, f)
}

// pidTarget is a fault.Target for a pid the harness just started.
type pidTarget struct {
	pid int
	dir string
}

func (p pidTarget) Pid() int        { return p.pid }
func (p pidTarget) DataDir() string { return p.dir }
