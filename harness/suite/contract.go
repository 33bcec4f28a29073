package suite

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/onsi/ginkgo/v2"

	"github.com/kvchaos/kvchaos/harness/contract"
)

// contractState is the suite's API contract, when Contract was called.
var contractState struct {
	path string
	once sync.Once
	v    *contract.Validator
	err  error
}

// Contract makes every spec of the suite validate each response its
// clients receive against the OpenAPI document at path (relative paths are
// taken from the module root, e.g. "docs/openapi.yaml"): a response that
// does not match the document fails the spec, naming the request and what
// did not match. Call it at the suite's top level: var _ = suite.Contract(...).
func Contract(path string) bool {
	if !filepath.IsAbs(path) {
		path = filepath.Join(ModuleRoot(), path)
	}
	contractState.path = path
	return true
}

// contractTransport returns a validating transport for one spec and
// registers the check of its violations at the spec's end, or nil when the
// suite has no contract.
func contractTransport() http.RoundTripper {
	if contractState.path == "" {
		return nil
	}
	contractState.once.Do(func() {
		contractState.v, contractState.err = contract.Load(contractState.path)
	})
	if contractState.err != nil {
		ginkgo.Fail(fmt.Sprintf("load the API contract %s: %v", contractState.path, contractState.err))
	}
	tr := &contract.Transport{Validator: contractState.v, Base: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	ginkgo.DeferCleanup(func() {
		if err := tr.Err(); err != nil {
			ginkgo.Fail(fmt.Sprintf("the server's responses do not match the API contract (%s):\n%v", contractState.path, err))
		}
	})
	return tr
}
