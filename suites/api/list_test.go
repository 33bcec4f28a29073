package api_test

import (
	"fmt"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/suite"
)

var _ = Describe("listing keys", Label("api", "list"), func() {
	It("lists keys in order, by prefix, page by page", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{})
		c := env.Client()
		var want []string
		for i := 0; i < 25; i++ {
			k := fmt.Sprintf("user/%02d", (i*7)%25) // written out of order
			_, err := c.Put(ctx, k, []byte(k), harness.PutOptions{})
			Expect(err).NotTo(HaveOccurred())
			want = append(want, k)
		}
		for _, k := range []string{"other/1", "user", "users/x"} {
			_, err := c.Put(ctx, k, []byte("z"), harness.PutOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		_, err := c.Put(ctx, "user/ttl", []byte("t"), harness.PutOptions{TTL: "1h"})
		Expect(err).NotTo(HaveOccurred())
		want = append(want, "user/ttl")
		sort.Strings(want)

		var got []string
		after, pages := "", 0
		for {
			page, err := c.List(ctx, harness.ListOptions{Prefix: "user/", After: after, Limit: 10})
			Expect(err).NotTo(HaveOccurred())
			pages++
			Expect(len(page.Keys)).To(BeNumerically("<=", 10))
			for _, e := range page.Keys {
				got = append(got, e.Key)
				Expect(e.Size).To(BeNumerically(">", 0))
				Expect(e.Revision).To(BeNumerically(">", 0))
				if e.Key == "user/ttl" {
					Expect(e.ExpiresAt).NotTo(BeNil(), "a key with TTL lists its expires_at")
				} else {
					Expect(e.ExpiresAt).To(BeNil())
				}
			}
			if page.NextAfter == nil {
				break
			}
			after = *page.NextAfter
			Expect(pages).To(BeNumerically("<", 10), "pagination does not end")
		}
		Expect(got).To(Equal(want), "every key with the prefix, in order, exactly once")
		Expect(pages).To(Equal(3))

		all, err := c.ListAll(ctx, "", 1000)
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(HaveLen(len(want) + 3))
	})
})
