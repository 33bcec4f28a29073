package reliability

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// The bank: transfers between these accounts, guarded by revision checks,
// never change the total.
const (
	accountCount = 5
	accountStart = 100
	bankTotal    = accountCount * accountStart
)

func accounts() []string {
	a := make([]string, accountCount)
	for i := range a {
		a[i] = fmt.Sprintf("bank/%d", i)
	}
	return a
}

// openBank creates the accounts in one batch.
func openBank(ctx context.Context, t *harness.Target) {
	GinkgoHelper()
	ops := make([]harness.BatchOp, 0, accountCount)
	for _, a := range accounts() {
		ops = append(ops, harness.Set(a, []byte(strconv.Itoa(accountStart))))
	}
	_, err := t.Client().Batch(ctx, ops)
	Expect(err).NotTo(HaveOccurred(), "open the bank")
}

// workload is a set of clients writing single keys (unique and overwritten),
// bank transfers and atomic snapshots of the bank, until stopped.
type workload struct {
	t       *harness.Target
	workers int
	bank    bool
	rand    *rand.Rand // seeds the workers

	mu   sync.Mutex
	keys map[string]bool // every key a put was sent for
	gen  int             // distinguishes keys across runs of one spec
}

func newWorkload(t *harness.Target, workers int, bank bool, seed string) *workload {
	return &workload{t: t, workers: workers, bank: bank, rand: seeded(seed), keys: map[string]bool{}}
}

// run starts the clients and returns a function that stops them and waits.
func (w *workload) run(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	w.mu.Lock()
	w.gen++
	gen := w.gen
	w.mu.Unlock()
	for i := range w.workers {
		r := rand.New(rand.NewSource(w.rand.Int63()))
		c := w.t.Client().WithTimeout(3 * time.Second)
		wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				switch op := r.Intn(10); {
				case op < 5 || !w.bank:
					w.put(ctx, c, fmt.Sprintf("w/%d/%d/%d", gen, i, n), r)
				case op < 8:
					w.put(ctx, c, fmt.Sprintf("o/%d/%d", i, n%8), r)
				case op == 8:
					transfer(ctx, c, r)
				default:
					snapshot(ctx, c)
				}
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

func (w *workload) put(ctx context.Context, c *harness.Client, key string, r *rand.Rand) {
	v := make([]byte, 16+r.Intn(240))
	r.Read(v)
	w.mu.Lock()
	w.keys[key] = true
	w.mu.Unlock()
	if _, err := c.Put(ctx, key, v, harness.PutOptions{}); err != nil {
		if _, api := harness.AsAPIError(err); !api {
			pause(ctx, 10*time.Millisecond) // the server is down: back off
		}
	}
}

// written lists every key a put was sent for.
func (w *workload) written() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.keys))
	for k := range w.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// transfer moves a few units between two accounts, guarded by their
// revisions.
func transfer(ctx context.Context, c *harness.Client, r *rand.Rand) {
	acc := accounts()
	i, j := r.Intn(len(acc)), r.Intn(len(acc)-1)
	if j >= i {
		j++
	}
	a, err1 := c.Get(ctx, acc[i])
	b, err2 := c.Get(ctx, acc[j])
	if err1 != nil || err2 != nil {
		pause(ctx, 10*time.Millisecond) // the server is down: back off
		return
	}
	ba, _ := strconv.Atoi(string(a.Data))
	bb, _ := strconv.Atoi(string(b.Data))
	amt := 1 + r.Intn(10)
	if ba < amt {
		return
	}
	_, _ = c.Batch(ctx, []harness.BatchOp{
		harness.CheckRev(acc[i], a.Revision), harness.CheckRev(acc[j], b.Revision),
		harness.Set(acc[i], []byte(strconv.Itoa(ba-amt))), harness.Set(acc[j], []byte(strconv.Itoa(bb+amt))),
	})
}

// snapshot reads every account in one batch (an atomic snapshot).
func snapshot(ctx context.Context, c *harness.Client) (*harness.BatchReply, error) {
	ops := make([]harness.BatchOp, 0, accountCount)
	for _, a := range accounts() {
		ops = append(ops, harness.GetOp(a))
	}
	return c.Batch(ctx, ops)
}

// readAll reads every key with one client (the reads go into the history,
// where the durability checker finds them) and returns what it found.
func readAll(ctx context.Context, t *harness.Target, keys []string) map[string][]byte {
	GinkgoHelper()
	c := t.Client()
	found := map[string][]byte{}
	for _, k := range keys {
		v, err := c.Get(ctx, k)
		if harness.IsNotFound(err) {
			continue
		}
		Expect(err).NotTo(HaveOccurred(), "read %q after recovery", k)
		found[k] = v.Data
	}
	return found
}

// maxAckedRevision is the highest revision the server acknowledged for a
// write in h.
func maxAckedRevision(h []artifact.Op) uint64 {
	var max uint64
	for _, op := range h {
		if op.Outcome != artifact.OutcomeOK || op.Kind == harness.KindGet || op.Kind == harness.KindHead {
			continue
		}
		if out, err := harness.DecodeOutput(op.Output); err == nil && out.Revision > max {
			max = out.Revision
		}
	}
	return max
}

// ackedPuts returns the acknowledged puts of h in order of their return.
func ackedPuts(h []artifact.Op) []artifact.Op {
	var out []artifact.Op
	for _, op := range h {
		if op.Outcome == artifact.OutcomeOK && op.Kind == harness.KindPut {
			out = append(out, op)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Return < out[j].Return })
	return out
}

// latencies returns the ok ops' latency percentiles in ms and the ok ops
// per second between from and to (run-clock seconds).
func latencies(h []artifact.Op, from, to float64) (p50, p99, p999, opsPerSec float64) {
	var ls []float64
	for _, op := range h {
		if op.Outcome == artifact.OutcomeOK && op.Call >= from && op.Return <= to {
			ls = append(ls, (op.Return-op.Call)*1000)
		}
	}
	if len(ls) == 0 {
		return 0, 0, 0, 0
	}
	sort.Float64s(ls)
	pct := func(p float64) float64 { return ls[min(len(ls)-1, int(p*float64(len(ls))))] }
	return pct(0.50), pct(0.99), pct(0.999), float64(len(ls)) / (to - from)
}
