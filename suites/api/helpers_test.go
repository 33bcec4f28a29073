package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
)

// specTimeout bounds every spec of this suite.
const specTimeout = 60 * time.Second

// raw sends a request and returns the status, headers and body.
func raw(ctx context.Context, c *harness.Client, method, path string, body []byte, h http.Header) (int, http.Header, []byte) {
	GinkgoHelper()
	resp, b, err := c.Raw(ctx, method, path, body, h)
	Expect(err).NotTo(HaveOccurred(), "%s %s", method, path)
	return resp.StatusCode, resp.Header, b
}

// expectEnvelope checks that a response is exactly the v1 error envelope
// with this status and code, that its request_id is the X-Request-Id
// header, and that the versioning headers are there. It returns details.
func expectEnvelope(status int, h http.Header, body []byte, wantStatus int, wantCode string) map[string]any {
	GinkgoHelper()
	Expect(status).To(Equal(wantStatus), "status; body %s", body)
	Expect(h.Get("Content-Type")).To(HavePrefix("application/json"))
	Expect(h.Get("X-Api-Version")).To(Equal("v1"))
	Expect(h.Get("X-Request-Id")).NotTo(BeEmpty())
	var top map[string]json.RawMessage
	Expect(json.Unmarshal(body, &top)).To(Succeed(), "body is not JSON: %s", body)
	Expect(top).To(HaveLen(1), "the envelope has exactly one top-level field, error: %s", body)
	var env map[string]any
	Expect(json.Unmarshal(top["error"], &env)).To(Succeed(), "no error object: %s", body)
	Expect(env).To(HaveKey("code"))
	Expect(env).To(HaveKey("message"))
	Expect(env).To(HaveKey("request_id"))
	Expect(env).To(HaveKey("details"))
	Expect(len(env)).To(Equal(4), "error has exactly code, message, request_id, details: %s", body)
	Expect(env["code"]).To(Equal(wantCode), "code; body %s", body)
	Expect(env["message"]).NotTo(BeEmpty())
	Expect(env["request_id"]).To(Equal(h.Get("X-Request-Id")))
	details, ok := env["details"].(map[string]any)
	Expect(ok).To(BeTrue(), "details is an object: %s", body)
	return details
}

// itoa formats a revision.
func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
