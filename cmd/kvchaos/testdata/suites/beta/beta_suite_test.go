// Package beta is a second throwaway Ginkgo suite for the kvchaos CLI's
// tests: one quick passing spec without a workload.
package beta

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestBeta(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Beta Suite")
}

var _ = Describe("api", Label("api"), func() {
	It("answers the version endpoint", func() {
		Expect(1 + 1).To(Equal(2))
	})
})
