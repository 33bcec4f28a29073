// Package hang is a throwaway Ginkgo suite for the kvchaos CLI's interrupt
// test: its spec blocks until interrupted, and its cleanup leaves a mark.
package hang

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestHang(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Hang Suite")
}

var _ = It("waits to be interrupted", func(ctx SpecContext) {
	dir := os.Getenv("KVCHAOS_ARTIFACTS_DIR")
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	DeferCleanup(func() {
		Expect(os.WriteFile(filepath.Join(dir, "cleaned-up"), nil, 0o644)).To(Succeed())
	})
	Expect(os.WriteFile(filepath.Join(dir, "started"), nil, 0o644)).To(Succeed())
	<-ctx.Done()
})
