package api_test

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/suite"
)

// errorCase is one error path: a request and the status and code it must
// get, with an optional check of the details.
type errorCase struct {
	method, path string
	body         []byte
	header       http.Header
	status       int
	code         string
	details      func(map[string]any)
}

var _ = Describe("the error envelope", Label("api"), func() {
	DescribeTable("every error path answers with the envelope",
		func(ctx SpecContext, tc errorCase) {
			env := suite.Start(suite.Options{Args: []string{"--max-value-size", "1KiB", "--max-body-size", "4KiB", "--max-ttl", "48h"}})
			c := env.Client()
			_, err := c.Put(ctx, "present", []byte("v"), harness.PutOptions{})
			Expect(err).NotTo(HaveOccurred())

			status, h, body := raw(ctx, c, tc.method, tc.path, tc.body, tc.header)
			details := expectEnvelope(status, h, body, tc.status, tc.code)
			if tc.details != nil {
				tc.details(details)
			}
			if tc.method == http.MethodPut || tc.method == http.MethodPost {
				By("nothing was stored by a refused write")
				keys, err := c.ListAll(ctx, "", 100)
				Expect(err).NotTo(HaveOccurred())
				Expect(keys).To(HaveLen(1), "only the key written before remains: %v", keys)
			}
		},
		Entry("unknown key", SpecTimeout(specTimeout), errorCase{method: "GET", path: "/api/v1/kv/absent", status: 404, code: "KEY_NOT_FOUND"}),
		Entry("delete of an unknown key", SpecTimeout(specTimeout), errorCase{method: "DELETE", path: "/api/v1/kv/absent", status: 404, code: "KEY_NOT_FOUND"}),
		Entry("unknown route", SpecTimeout(specTimeout), errorCase{method: "GET", path: "/no/such/route", status: 404, code: "ROUTE_NOT_FOUND"}),
		Entry("unknown route under v1", SpecTimeout(specTimeout), errorCase{method: "GET", path: "/api/v1/nothing", status: 404, code: "ROUTE_NOT_FOUND"}),
		Entry("wrong method", SpecTimeout(specTimeout), errorCase{method: "PATCH", path: "/api/v1/kv/present", status: 405, code: "METHOD_NOT_ALLOWED"}),
		Entry("wrong method on the key list", SpecTimeout(specTimeout), errorCase{method: "DELETE", path: "/api/v1/kv", status: 405, code: "METHOD_NOT_ALLOWED"}),
		Entry("unknown API version", SpecTimeout(specTimeout), errorCase{method: "GET", path: "/api/v2/kv/present", status: 404, code: "UNSUPPORTED_API_VERSION",
			details: func(d map[string]any) { Expect(d).To(HaveKeyWithValue("supported", ConsistOf("v1"))) }}),
		Entry("key over 1024 bytes", SpecTimeout(specTimeout), errorCase{method: "PUT", path: "/api/v1/kv/" + strings.Repeat("k", 1025), body: []byte("v"), status: 400, code: "INVALID_KEY"}),
		Entry("key that is not UTF-8", SpecTimeout(specTimeout), errorCase{method: "PUT", path: "/api/v1/kv/%ff%fe", body: []byte("v"), status: 400, code: "INVALID_KEY"}),
		Entry("ttl that is garbage", SpecTimeout(specTimeout), errorCase{method: "PUT", path: "/api/v1/kv/k?ttl=abc", body: []byte("v"), status: 400, code: "INVALID_TTL"}),
		Entry("ttl of zero", SpecTimeout(specTimeout), errorCase{method: "PUT", path: "/api/v1/kv/k?ttl=0", body: []byte("v"), status: 400, code: "INVALID_TTL"}),
		Entry("ttl over --max-ttl", SpecTimeout(specTimeout), errorCase{method: "PUT", path: "/api/v1/kv/k?ttl=49h", body: []byte("v"), status: 400, code: "INVALID_TTL"}),
		Entry("body over --max-value-size", SpecTimeout(specTimeout), errorCase{method: "PUT", path: "/api/v1/kv/k", body: make([]byte, 1025), status: 413, code: "PAYLOAD_TOO_LARGE"}),
		Entry("batch that is not JSON", SpecTimeout(specTimeout), errorCase{method: "POST", path: "/api/v1/kv/batch", body: []byte(`{"ops":[`), status: 400, code: "INVALID_BATCH"}),
		Entry("batch with an unknown op", SpecTimeout(specTimeout), errorCase{method: "POST", path: "/api/v1/kv/batch",
			body: []byte(`{"ops":[{"op":"set","key":"a","value":"1"},{"op":"frobnicate","key":"b"}]}`), status: 400, code: "INVALID_BATCH",
			details: func(d map[string]any) {
				Expect(d).To(HaveKeyWithValue("op_index", BeNumerically("==", 1)))
				Expect(d).To(HaveKeyWithValue("reason", Not(BeEmpty())))
			}}),
		Entry("batch with no ops", SpecTimeout(specTimeout), errorCase{method: "POST", path: "/api/v1/kv/batch", body: []byte(`{"ops":[]}`), status: 400, code: "INVALID_BATCH"}),
		Entry("batch over the body limit", SpecTimeout(specTimeout), errorCase{method: "POST", path: "/api/v1/kv/batch",
			body: []byte(`{"ops":[{"op":"set","key":"a","value":"` + strings.Repeat("x", 5000) + `"}]}`), status: 413, code: "PAYLOAD_TOO_LARGE"}),
		Entry("If-Match on a changed key", SpecTimeout(specTimeout), errorCase{method: "PUT", path: "/api/v1/kv/present", body: []byte("w"),
			header: http.Header{"If-Match": {`"999"`}}, status: 412, code: "PRECONDITION_FAILED"}),
		Entry("a failed batch check", SpecTimeout(specTimeout), errorCase{method: "POST", path: "/api/v1/kv/batch",
			body: []byte(`{"ops":[{"op":"set","key":"a","value":"1"},{"op":"check","key":"present","exists":false}]}`), status: 409, code: "BATCH_CONDITION_FAILED",
			details: func(d map[string]any) { Expect(d).To(HaveKeyWithValue("op_index", BeNumerically("==", 1))) }}),
	)
})
