package api_test

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/suite"
)

var _ = Describe("batches", Label("api", "batch"), func() {
	It("apply every op atomically at one revision", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		_, err := c.Put(ctx, "gone", []byte("x"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred())

		r, err := c.Batch(ctx, []harness.BatchOp{
			harness.Set("a", []byte("1")), harness.Set("b", []byte("2")), harness.Del("gone"), harness.Del("never-was"), harness.CheckAbsent("c"),
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Results).To(HaveLen(5))
		Expect(r.Results[0].Created).To(BeTrue())
		Expect(r.Results[2].Deleted).To(BeTrue())
		Expect(r.Results[3].Deleted).To(BeFalse(), "a batch delete of an absent key is not an error")
		for _, k := range []string{"a", "b"} {
			v, err := c.Get(ctx, k)
			Expect(err).NotTo(HaveOccurred())
			Expect(v.Revision).To(Equal(r.Revision), "every write of a batch has the batch's revision")
		}
		_, err = c.Get(ctx, "gone")
		Expect(harness.IsNotFound(err)).To(BeTrue())
		env.Check(suite.Linearizability())
	})

	It("roll back the whole batch when the check at the last op fails", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		p, err := c.Put(ctx, "guard", []byte("g1"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = c.Put(ctx, "old", []byte("before"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred())
		before := revision(ctx, c)

		_, err = c.Batch(ctx, []harness.BatchOp{
			harness.Set("new", []byte("n")), harness.Set("old", []byte("after")), harness.Del("guard"),
			harness.CheckRev("guard", p.Revision+100),
		})
		ae, ok := harness.AsAPIError(err)
		Expect(ok).To(BeTrue(), "want a 409, got %v", err)
		Expect(ae.Status).To(Equal(http.StatusConflict))
		Expect(ae.Code).To(Equal("BATCH_CONDITION_FAILED"))
		Expect(ae.Details).To(HaveKeyWithValue("op_index", BeNumerically("==", 3)))

		By("nothing of the batch is visible, and the revision did not move")
		_, err = c.Get(ctx, "new")
		Expect(harness.IsNotFound(err)).To(BeTrue(), "the set before the failed check was applied")
		v, err := c.Get(ctx, "old")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(v.Data)).To(Equal("before"))
		_, err = c.Get(ctx, "guard")
		Expect(err).NotTo(HaveOccurred(), "the delete before the failed check was applied")
		Expect(revision(ctx, c)).To(Equal(before))
		env.Check(suite.Linearizability())
	})

	It("validate every op before applying any", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		body := `{"ops":[{"op":"set","key":"a","value":"1"},{"op":"set","key":"b","value":"2"},{"op":"set","key":"c","value":"3","ttl":"-5s"}]}`
		status, h, b := raw(ctx, c, http.MethodPost, "/api/v1/kv/batch", []byte(body), nil)
		d := expectEnvelope(status, h, b, 400, "INVALID_BATCH")
		Expect(d).To(HaveKeyWithValue("op_index", BeNumerically("==", 2)))
		for _, k := range []string{"a", "b", "c"} {
			_, err := c.Get(ctx, k)
			Expect(harness.IsNotFound(err)).To(BeTrue(), "%s was written by an invalid batch", k)
		}
	})

	It("let a get see the earlier ops of the same batch", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		_, err := c.Put(ctx, "k", []byte("old"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred())
		r, err := c.Batch(ctx, []harness.BatchOp{
			harness.GetOp("k"), harness.Set("k", []byte("new")), harness.GetOp("k"), harness.Del("k"), harness.GetOp("k"),
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(r.Results[0].Data)).To(Equal("old"))
		Expect(string(r.Results[2].Data)).To(Equal("new"))
		Expect(r.Results[2].Revision).To(Equal(r.Revision))
		Expect(r.Results[4].Found).To(BeFalse())
		env.Check(suite.Linearizability())
	})

	It("enforce --max-batch-ops and accept a batch at the limit", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{Args: []string{"--max-batch-ops", "10"}})
		c := env.Client()
		ops := func(n int) []harness.BatchOp {
			var out []harness.BatchOp
			for i := 0; i < n; i++ {
				out = append(out, harness.Set(fmt.Sprintf("k%02d", i), []byte("v")))
			}
			return out
		}
		_, err := c.Batch(ctx, ops(10))
		Expect(err).NotTo(HaveOccurred())
		_, err = c.Batch(ctx, ops(11))
		ae, ok := harness.AsAPIError(err)
		Expect(ok).To(BeTrue(), "11 ops over a limit of 10: %v", err)
		Expect(ae.Status).To(Equal(http.StatusRequestEntityTooLarge))
		Expect(ae.Code).To(Equal("PAYLOAD_TOO_LARGE"))
	})

	It("carry binary values as value_base64 and text as value", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		bin := []byte{0, 0xff, 0xfe, '\n', 7}
		_, err := c.Batch(ctx, []harness.BatchOp{harness.Set("bin", bin)})
		Expect(err).NotTo(HaveOccurred())
		v, err := c.Get(ctx, "bin")
		Expect(err).NotTo(HaveOccurred())
		Expect(v.Data).To(Equal(bin))
		status, _, b := raw(ctx, c, http.MethodPost, "/api/v1/kv/batch", []byte(`{"ops":[{"op":"set","key":"t","value":"héllo"},{"op":"get","key":"t"}]}`), nil)
		Expect(status).To(Equal(200))
		Expect(string(b)).To(ContainSubstring(`"value":"héllo"`))
		Expect(strings.Count(string(b), `"op"`)).To(Equal(2))
	})
})

// revision is the store's revision from /metrics.
func revision(ctx SpecContext, c *harness.Client) float64 {
	GinkgoHelper()
	m, err := c.Metrics(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(m).To(HaveKey("kvserver_revision"))
	return m["kvserver_revision"]
}
