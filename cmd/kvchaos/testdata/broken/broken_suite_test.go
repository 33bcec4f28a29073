// Package broken is a throwaway Ginkgo suite that does not compile, on
// purpose: the kvchaos CLI must report it as a failed suite and still run
// the suites after it.
package broken

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
)

func TestBroken(t *testing.T) {
	RunSpecs(t, "Broken Suite")
}

var _ = It("never runs", func() {
	thisDoesNotExist()
})
