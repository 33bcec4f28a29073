package api_test

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/suite"
)

var _ = Describe("auth", Label("api", "auth"), func() {
	It("requires the bearer token on every route but /healthz when set", SpecTimeout(specTimeout), func(ctx SpecContext) {
		const token = "s3cret-kvchaos"
		env := suite.Start(suite.Options{Args: []string{"--auth-token", token}, AuthToken: token})
		c := env.Client()
		_, err := c.Put(ctx, "k", []byte("v"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred(), "the right token works")

		anon := harness.NewClient(harness.ClientConfig{Endpoint: env.Target})
		wrong := harness.NewClient(harness.ClientConfig{Endpoint: env.Target, AuthToken: "nope"})
		for _, cl := range []*harness.Client{anon, wrong} {
			for _, r := range []struct{ method, path string }{
				{"GET", "/api/v1/kv/k"}, {"PUT", "/api/v1/kv/k"}, {"DELETE", "/api/v1/kv/k"}, {"GET", "/api/v1/kv"},
				{"POST", "/api/v1/kv/batch"}, {"GET", "/api/v1/version"}, {"GET", "/metrics"}, {"GET", "/readyz"},
			} {
				status, h, body := raw(ctx, cl, r.method, r.path, []byte("{}"), nil)
				expectEnvelope(status, h, body, http.StatusUnauthorized, "UNAUTHORIZED")
			}
		}
		status, _, _ := raw(ctx, anon, "GET", "/healthz", nil, nil)
		Expect(status).To(Equal(http.StatusOK), "/healthz needs no token")
		v, err := c.Get(ctx, "k")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(v.Data)).To(Equal("v"), "refused requests changed nothing")
	})

	It("needs no token when none is set", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		anon := harness.NewClient(harness.ClientConfig{Endpoint: env.Target})
		_, err := anon.Put(ctx, "k", []byte("v"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred())
		withToken := harness.NewClient(harness.ClientConfig{Endpoint: env.Target, AuthToken: "whatever"})
		_, err = withToken.Get(ctx, "k")
		Expect(err).NotTo(HaveOccurred(), "a token the server does not expect is ignored")
		status, _, body := raw(ctx, anon, "GET", "/healthz", nil, nil)
		Expect(status).To(Equal(200))
		Expect(string(body)).To(MatchJSON(`{"status":"ok"}`))
		status, _, body = raw(ctx, anon, "GET", "/readyz", nil, nil)
		Expect(status).To(Equal(200))
		Expect(string(body)).To(MatchJSON(`{"status":"ready"}`))
	})
})
