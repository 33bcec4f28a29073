// Package api_test is the v1 API conformance suite: version, the error
// envelope on every error path, batch semantics, CAS, listing and auth,
// checked over HTTP against any kvserver-compatible binary.
package api_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness/suite"
)

func TestAPI(t *testing.T) {
	RegisterFailHandler(suite.Fail)
	RunSpecs(t, "api")
}

var _ = suite.Setup("api", suite.Build{})

// Every response a spec of this suite receives is checked against the
// published API contract.
var _ = suite.Contract("docs/openapi.yaml")
