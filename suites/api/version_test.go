package api_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness/suite"
)

var _ = Describe("the version endpoint", Label("api"), func() {
	It("reports every field, the build metadata and the versioning headers", SpecTimeout(specTimeout), func(ctx SpecContext) {
		env := suite.Start(suite.Options{Args: []string{"--sync", "everysec"}})
		c := env.Client()

		v, h, err := c.Version(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(h.Get("X-Api-Version")).To(Equal("v1"))
		Expect(h.Get("X-Request-Id")).NotTo(BeEmpty())
		Expect(h.Get("Content-Type")).To(HavePrefix("application/json"))

		Expect(v).To(HaveKeyWithValue("name", "kvserver"))
		Expect(v).To(HaveKeyWithValue("api_versions", ConsistOf("v1")))
		for _, f := range []string{"version", "commit", "build_time", "go_version", "platform", "started_at"} {
			Expect(v).To(HaveKeyWithValue(f, Not(BeEmpty())), "field %s", f)
		}
		Expect(v).To(HaveKeyWithValue("uptime_seconds", BeNumerically(">=", 0)))
		started, err := time.Parse(time.RFC3339Nano, v["started_at"].(string))
		Expect(err).NotTo(HaveOccurred(), "started_at is RFC 3339")
		Expect(time.Since(started)).To(BeNumerically("<", time.Minute))
		Expect(v).To(HaveKey("storage"))
		storage := v["storage"].(map[string]any)
		Expect(storage).To(HaveKeyWithValue("engine", "buntdb"))
		Expect(storage).To(HaveKeyWithValue("engine_version", Not(BeEmpty())))
		Expect(storage).To(HaveKeyWithValue("sync", "everysec"), "storage.sync reports --sync")

		if version, commit, built, goVersion := suite.BuildInfo(); version != "" {
			By("the -ldflags build metadata the suite stamped comes back")
			Expect(v).To(HaveKeyWithValue("version", version))
			Expect(v).To(HaveKeyWithValue("commit", commit))
			Expect(v).To(HaveKeyWithValue("build_time", built))
			Expect(v).To(HaveKeyWithValue("go_version", goVersion))
		}

		By("a client's X-Request-Id is echoed")
		_, h2, _ := raw(ctx, c, http.MethodGet, "/api/v1/version", nil, http.Header{"X-Request-Id": {"kvchaos-req-42"}})
		Expect(h2.Get("X-Request-Id")).To(Equal("kvchaos-req-42"))

		By("uptime rises")
		v2, _, err := c.Version(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(v2["uptime_seconds"].(float64)).To(BeNumerically(">=", v["uptime_seconds"].(float64)))
	})
})
