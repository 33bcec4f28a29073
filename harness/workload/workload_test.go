package workload

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/check"
)

func TestStreamsAreReproducibleAndIndependent(t *testing.T) {
	a, b := NewStreams(42), NewStreams(42)
	for i := 0; i < 100; i++ {
		if a.Keys.Uint64() != b.Keys.Uint64() {
			t.Fatal("same seed, different key stream")
		}
	}
	// Extra draws on the op stream do not shift the value stream.
	c, d := NewStreams(42), NewStreams(42)
	for i := 0; i < 17; i++ {
		c.Ops.Uint64()
	}
	if c.Values.Uint64() != d.Values.Uint64() {
		t.Fatal("the op stream shifted the value stream")
	}
	if NewStreams(42).Client(1).Keys.Uint64() == NewStreams(42).Client(2).Keys.Uint64() {
		t.Fatal("two clients share a key stream")
	}
	if NewStreams(1).Keys.Uint64() == NewStreams(2).Keys.Uint64() {
		t.Fatal("neighbouring seeds give the same stream")
	}
}

func TestKeyDistributions(t *testing.T) {
	r := Derive(1, 1, 1)
	tests := []struct {
		name string
		keys Keys
		want func(counts map[string]int) bool
	}{
		{"single", Single("k"), func(c map[string]int) bool { return len(c) == 1 && c["k"] == 1000 }},
		{"uniform covers all", Uniform{"u", 10}, func(c map[string]int) bool { return len(c) == 10 }},
		{"zipf is skewed", Zipf{"z", 50, 1.5}, func(c map[string]int) bool { return c["z0"] > c["z10"]*5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := map[string]int{}
			for i := 0; i < 1000; i++ {
				counts[tt.keys.Next(r)]++
			}
			if !tt.want(counts) {
				t.Fatalf("counts %v", counts)
			}
		})
	}
}

// TestRegisterAgainstFake runs the register workload on the harness's fake
// server (one mutex: linearizable) and checks the history.
func TestRegisterAgainstFake(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fakekv")
	if out, err := exec.Command("go", "build", "-o", bin, "../testdata/fakekv").CombinedOutput(); err != nil {
		t.Fatalf("build fakekv: %v\n%s", err, out)
	}
	tg, err := harness.NewTarget(harness.TargetConfig{Bin: bin, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tg.Cleanup(false) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w := Register{Clients: 4, Ops: 50, Keys: Uniform{"k", 3}, Mix: Mix{Get: 50, Put: 30, CAS: 10, Delete: 10}}
	w.Run(ctx, NewStreams(7), func(int) *harness.Client { return tg.Client() })
	ops := tg.History().Ops()
	if len(ops) < 200 {
		t.Fatalf("%d ops recorded", len(ops))
	}
	if err := check.Linearizable(ops, check.LinearizableOptions{}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := check.Integrity(ops).Err(); err != nil {
		t.Fatal(err)
	}
	f := harness.LatencyFigures(ops)
	if f["ops_per_sec"] <= 0 || f["p99_ms"] < f["p50_ms"] {
		t.Fatalf("figures %v", f)
	}
	_ = os.Remove(bin)
}
