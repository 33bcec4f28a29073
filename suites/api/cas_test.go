package api_test

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/suite"
)

var _ = Describe("compare-and-set", Label("api", "cas"), func() {
	It("honours If-Match on PUT and DELETE", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		p1, err := c.Put(ctx, "k", []byte("v1"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(p1.Created).To(BeTrue(), "a new key answers 201")
		Expect(p1.Header.Get("ETag")).To(Equal(`"` + itoa(p1.Revision) + `"`))

		p2, err := c.Put(ctx, "k", []byte("v2"), harness.PutOptions{IfMatch: p1.Revision})
		Expect(err).NotTo(HaveOccurred())
		Expect(p2.Created).To(BeFalse(), "an overwrite answers 200")
		Expect(p2.Revision).To(BeNumerically(">", p1.Revision))

		_, err = c.Put(ctx, "k", []byte("v3"), harness.PutOptions{IfMatch: p1.Revision})
		Expect(harness.IsCode(err, "PRECONDITION_FAILED")).To(BeTrue(), "a stale If-Match: %v", err)
		_, err = c.Put(ctx, "absent", []byte("x"), harness.PutOptions{IfMatch: p1.Revision})
		Expect(harness.IsCode(err, "PRECONDITION_FAILED")).To(BeTrue(), "If-Match on an absent key: %v", err)

		_, err = c.Delete(ctx, "k", p1.Revision)
		Expect(harness.IsCode(err, "PRECONDITION_FAILED")).To(BeTrue(), "DELETE with a stale If-Match: %v", err)
		v, err := c.Get(ctx, "k")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(v.Data)).To(Equal("v2"), "a refused CAS changed the value")
		d, err := c.Delete(ctx, "k", p2.Revision)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Deleted).To(BeTrue())
		Expect(d.Revision).To(BeNumerically(">", p2.Revision))
		env.Check(suite.Linearizability())
	})

	It("honours If-None-Match: * on PUT", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		p, err := c.Put(ctx, "k", []byte("first"), harness.PutOptions{IfNoneMatch: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Created).To(BeTrue())
		_, err = c.Put(ctx, "k", []byte("second"), harness.PutOptions{IfNoneMatch: true})
		Expect(harness.IsCode(err, "PRECONDITION_FAILED")).To(BeTrue(), "If-None-Match on an existing key: %v", err)
		v, err := c.Get(ctx, "k")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(v.Data)).To(Equal("first"))
		env.Check(suite.Linearizability())
	})

	It("answers a conditional GET with 304 and serves HEAD without a body", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		p, err := c.Put(ctx, "k", []byte("hello"), harness.PutOptions{ContentType: "text/plain; charset=utf-8"})
		Expect(err).NotTo(HaveOccurred())
		etag := `"` + itoa(p.Revision) + `"`
		status, _, body := raw(ctx, c, http.MethodGet, "/api/v1/kv/k", nil, http.Header{"If-None-Match": {etag}})
		Expect(status).To(Equal(http.StatusNotModified))
		Expect(body).To(BeEmpty())

		h, err := c.Head(ctx, "k")
		Expect(err).NotTo(HaveOccurred())
		Expect(h.Header.Get("ETag")).To(Equal(etag))
		Expect(h.Header.Get("X-Kv-Revision")).To(Equal(itoa(p.Revision)))
		Expect(h.Header.Get("Content-Type")).To(Equal("text/plain; charset=utf-8"), "the stored Content-Type is kept")
		Expect(h.Header.Get("Content-Length")).To(Equal("5"))
		Expect(h.Data).To(BeEmpty())
		Expect(h.Header.Get("X-Kv-Ttl-Ms")).To(BeEmpty(), "no TTL headers for a key without TTL")
	})
})
