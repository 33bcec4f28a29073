package reliability

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/suite"
)

// statusOf returns the HTTP status and code of a client error (0, "" for
// a transport error).
func statusOf(err error) (int, string) {
	if ae, ok := harness.AsAPIError(err); ok {
		return ae.Status, ae.Code
	}
	return 0, ""
}

var _ = Describe("disk exhaustion", Label("reliability", "disk"), func() {
	It("answers 507 DISK_FULL on a full disk, keeps reads, and writes again once space is back", func(ctx SpecContext) {
		d := &fault.DiskFull{Size: 32 << 20, Leave: intensityBytes("KVCHAOS_FILL_LEVELS", 0)}
		dir := setup(ctx, d)
		e := newServer(dir, "--sync", "always")
		t := e.Target
		start(e)
		keys := sequentialPuts(ctx, t, "d/", 50, seeded("diskfull").Int63())

		w, err := fault.Inject(ctx, t.Clock(), d, t)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(w.Heal)
		c := t.Client()
		big := bytes.Repeat([]byte("f"), 64<<10)
		full := 0
		for i := range 20 {
			_, err := c.Put(ctx, fmt.Sprintf("full/%d", i), big, harness.PutOptions{})
			if err == nil {
				continue // a little slack in a page may still take a write
			}
			status, code := statusOf(err)
			Expect(status).To(Equal(http.StatusInsufficientStorage), "write %d on a full disk: %v (want 507 DISK_FULL, not a 500, a crash or a hang)", i, err)
			Expect(code).To(Equal("DISK_FULL"))
			full++
		}
		Expect(full).To(BeNumerically(">", 0), "no write failed on a full disk")
		Expect(t.Running()).To(BeTrue(), "the server died on a full disk: %s", t.ExitDescription())
		Expect(c.Ready(ctx)).To(BeFalse(), "/readyz does not say degraded after a write failed for lack of space")
		from := t.Clock().Now()
		found := readAll(ctx, t, keys)
		Expect(found).To(HaveLen(len(keys)), "reads on a full disk lost keys")

		Expect(w.Heal(ctx)).To(Succeed())
		Eventually(func() error {
			_, err := c.Put(ctx, "after-full", []byte("space is back"), harness.PutOptions{})
			return err
		}).WithContext(ctx).WithTimeout(30*time.Second).Should(Succeed(), "writes did not work again within 30 s after the space came back (no restart)")
		Expect(c.Ready(ctx)).To(BeTrue(), "/readyz still says degraded after a write succeeded again")

		Expect(t.Stop(ctx)).To(Succeed())
		start(e)
		readAll(ctx, t, append(keys, "after-full"))
		expectPass(e.Run(suite.Durability(from)), "restart after the disk was full")
	})

	It("does not acknowledge a write whose fsync failed with EIO, and works again after", func(ctx SpecContext) {
		ioe := &fault.IOError{Syscalls: []string{"fsync", "fdatasync"}, Errno: "EIO"}
		skipUnsupported(ioe)
		e := newServer("", "--sync", "always")
		t := e.Target
		start(e)
		keys := sequentialPuts(ctx, t, "e/", 20, seeded("eio").Int63())
		c := t.Client()

		w, err := fault.Inject(ctx, t.Clock(), ioe, t)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(w.Heal)
		_, err = c.Put(ctx, "eio/failed", []byte("fsync fails"), harness.PutOptions{})
		Expect(err).To(HaveOccurred(), "a write was acknowledged although its fsync failed with EIO")
		status, _ := statusOf(err)
		Expect(status).To(BeElementOf(http.StatusInternalServerError, http.StatusInsufficientStorage), "EIO on fsync answered %v", err)
		Expect(w.Heal(ctx)).To(Succeed())
		Expect(ioe.Injected()).To(BeNumerically(">", 0), "strace failed no fsync: the fault did not happen")

		// docs/storage.md: the failed transaction is cut back and the
		// server keeps serving (no fail-stop).
		Expect(t.Running()).To(BeTrue(), "the server exited after an fsync error: %s", t.ExitDescription())
		_, err = c.Put(ctx, "eio/after", []byte("fsync works"), harness.PutOptions{})
		Expect(err).NotTo(HaveOccurred(), "writes fail after the I/O error healed")

		from := t.Clock().Now()
		_, err = fault.Inject(ctx, t.Clock(), fault.Kill{}, t)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Wait(ctx)).To(Succeed())
		start(e)
		readAll(ctx, t, append(keys, "eio/failed", "eio/after"))
		expectPass(e.Run(suite.Durability(from)), "restart after the I/O errors")
	})
})
