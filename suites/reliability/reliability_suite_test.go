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
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness/check"
	"github.com/kvchaos/kvchaos/harness/suite"
)

func TestReliability(t *testing.T) {
	RegisterFailHandler(suite.Fail)
	RunSpecs(t, "reliability")
}

var _ = suite.Setup("reliability", suite.Build{Mutants: true})

// Nothing may outlive a spec: no server, mount, cgroup or tracer. The
// bootstrap owns the suite's teardown node, so the check runs after every
// spec instead: registered first, this cleanup runs last, after the spec's
// own cleanups (heal, teardown, server kill). Processes are matched by the
// spec's own owner tag (the bootstrap sets KVCHAOS_OWNER to the spec's id),
// so specs running in parallel (`ginkgo -p`) or other suites running beside
// this one (`go test ./...`) are not mistaken for leftovers; mounts and
// cgroups carry no owner, so they are checked when this suite runs alone.
var _ = BeforeEach(func() {
	DeferCleanup(func() {
		id := suite.SpecID(CurrentSpecReport().FullText())
		cfg, _ := GinkgoConfiguration()
		serial := cfg.ParallelTotal == 1
		Eventually(func() []string {
			var left []string
			for _, l := range fault.Leftovers() {
				switch {
				case strings.Contains(l, "=faulttest"):
					// the fault package's own test victims
				case strings.HasPrefix(l, "process "):
					// servers carry the spec's id; tracers and memory
					// hogs the fault package starts carry their kind
					if strings.Contains(l, id) || (serial && (strings.Contains(l, "=ioerror)") || strings.Contains(l, "=slowsync)") || strings.Contains(l, "=memory-hog)"))) {
						left = append(left, l)
					}
				case serial:
					left = append(left, l)
				}
			}
			return left
		}).WithTimeout(10*time.Second).Should(BeEmpty(), "the spec left these behind (remove them with `kvchaos cleanup`)")
	})
})

// seeded returns a random stream for one purpose, derived from the suite's
// seed, so adding draws to one stream does not shift another.
func seeded(stream string) *rand.Rand {
	h := int64(0)
	for _, c := range stream {
		h = h*31 + int64(c)
	}
	return rand.New(rand.NewSource(GinkgoRandomSeed() ^ h))
}

// newServer prepares the spec's server (not started) with args; dataDir ""
// means a fresh temp dir. The suite bootstrap kills it after the spec, saves
// the evidence and keeps the data dir when the spec failed.
func newServer(dataDir string, args ...string) *suite.Env {
	GinkgoHelper()
	return suite.New(suite.Options{Args: args, DataDir: dataDir})
}

// start starts the server and returns how long it took to be ready.
func start(e *suite.Env) time.Duration {
	GinkgoHelper()
	began := time.Now()
	e.Start()
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
		Fail(fmt.Sprintf("%s: %s\nre-run just this spec:\n  %s", when, res.String(), suite.Repro()))
	}
}

// pidTarget is a fault.Target for a pid the harness just started.
type pidTarget struct {
	pid int
	dir string
}

func (p pidTarget) Pid() int        { return p.pid }
func (p pidTarget) DataDir() string { return p.dir }
