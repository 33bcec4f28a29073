// Package alpha is a throwaway Ginkgo suite for the kvchaos CLI's tests: a
// spec that passes under faults, one that fails when the target binary
// exits non-zero, one that skips, and a suite setup node.
package alpha

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/cmd/kvchaos/testdata/suites/synth"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

func TestAlpha(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Alpha Suite")
}

var _ = BeforeSuite(func() {
	GinkgoWriter.Println("alpha setup")
})

var _ = Describe("store", Label("fault"), func() {
	It("survives kills under load", Label("kill"), func() {
		crashes, _ := strconv.Atoi(os.Getenv("KVCHAOS_CRASHES"))
		if crashes == 0 {
			crashes = 2
		}
		var faults []artifact.FaultEvent
		for i := range crashes {
			at := 1 + float64(i)*7/float64(crashes)
			faults = append(faults, artifact.FaultEvent{Name: "kill", Start: at, End: at, Detail: "SIGKILL"})
		}
		faults = append(faults, artifact.FaultEvent{Name: "pause", Start: 5, End: 6.2, Detail: "SIGSTOP 1.2s"})
		synth.Record(synth.Evidence{Seconds: 9, Faults: faults, ServerLog: "listening on 127.0.0.1:40000\n"})
	})

	It("keeps acknowledged writes", Label("durability"), func() {
		bin := os.Getenv("KVCHAOS_SERVER_BIN")
		if bin == "" {
			bin = "true"
		}
		out, err := exec.Command(bin).CombinedOutput()
		log := "listening on 127.0.0.1:40001\n" + string(out)
		synth.Record(synth.Evidence{Seconds: 4, ServerLog: log, Failed: err != nil,
			Faults: []artifact.FaultEvent{{Name: "power-loss", Start: 2, End: 2.5}}})
		if err != nil {
			Fail(fmt.Sprintf("target %s lost 3 acknowledged writes (keys k1, k7, k9): %v", bin, err))
		}
	})

	It("mounts a FUSE data dir", Label("powerloss"), func() {
		Skip("no /dev/fuse on this machine")
	})
})
