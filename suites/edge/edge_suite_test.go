// Package edge_test is the suite of the four edge cases kvchaos was asked
// for: large documents, very long (and nonsense) TTLs, many clients on one
// key, and eviction under a memory limit. Specs labelled "mutant" run the
// same scenarios against deliberately broken servers (a kvmutant build) and
// require the checkers to say what broke.
package edge_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness/suite"
)

func TestEdge(t *testing.T) {
	RegisterFailHandler(suite.Fail)
	RunSpecs(t, "edge")
}

var _ = suite.Setup("edge", suite.Build{Mutants: true, Race: true})
