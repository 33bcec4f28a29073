package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRunAgainstKvserver runs a tiny bench of every section against the
// bundled kvserver, built as a binary (the package still imports nothing of
// the server), and checks that each section produced figures.
func TestRunAgainstKvserver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs kvserver")
	}
	bin := filepath.Join(t.TempDir(), "kvserver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kvchaos/kvchaos/cmd/kvserver").CombinedOutput(); err != nil {
		t.Fatalf("build kvserver: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{
		ServerBin: bin, Scenarios: []string{"put-100b", "mix-90-10"}, Concurrency: []int{1, 4},
		Sync: []string{"always"}, Duration: 100 * time.Millisecond, Warmup: 20 * time.Millisecond,
		RecoveryKeys: []int{1000}, Overwrites: 2, MemorySmallKeys: 2000, MemoryLargeKeys: 2,
		FsyncLatency: []time.Duration{2 * time.Millisecond},
		Skip:         []string{"redis"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// 2 scenarios × 2 concurrencies for the baseline, and for kvserver
	// plus one open-loop point each; 2 eviction policies × 2 concurrencies.
	if len(rep.Points) != 4+6+4 {
		t.Fatalf("%d points, want 14", len(rep.Points))
	}
	for _, p := range rep.Points {
		// Missed open-loop slots are a measurement (a busy machine falls
		// behind the schedule), not a failure: load's own tests check
		// that they are counted.
		if p.Ops == 0 || p.Errors != 0 {
			t.Errorf("%s %s c=%d %s: ops %d errors %d missed %d (%s)", p.Target, p.Scenario, p.Clients, p.Mode, p.Ops, p.Errors, p.Missed, p.FirstError)
		}
		if p.Eviction != "" && p.Server.Evictions == 0 {
			t.Errorf("--eviction %s c=%d at the limit evicted nothing", p.Eviction, p.Clients)
		}
		if p.Target == "kvserver" && p.Mode == "closed" && p.Eviction == "" && p.Ratio <= 0 {
			t.Errorf("%s c=%d has no ratio to the baseline", p.Scenario, p.Clients)
		}
		if p.Target == "kvserver" && p.Sync == "always" && p.Scenario == "put-100b" && (p.Server.Commits == 0 || p.Server.Fsyncs == 0) {
			t.Errorf("put-100b c=%d under --sync always: %d commits, %d fsyncs", p.Clients, p.Server.Commits, p.Server.Fsyncs)
		}
	}
	if g := rep.GroupCommit; g == nil || g.GroupedOpsPerSec == 0 || g.UngroupedOpsPerSec == 0 {
		t.Errorf("group commit %+v", g)
	} else if _, err := exec.LookPath("strace"); err != nil {
		if g.LatencySkipped == "" {
			t.Errorf("no strace, yet the fsync-latency points were not skipped: %+v", g)
		}
	} else if len(g.ByFsyncLatency) != 1 || g.ByFsyncLatency[0].UngroupedTxPerFsync == 0 ||
		// one fsync per request, each at least 2 ms: 64 clients cannot pass 500/s
		g.ByFsyncLatency[0].UngroupedOpsPerSec > 500 {
		t.Errorf("group commit at +2 ms per fsync %+v", g.ByFsyncLatency)
	}
	if len(rep.Recovery) != 2 || rep.Recovery[0].ReadySeconds <= 0 || rep.Recovery[1].Writes != 2000 || rep.Recovery[0].DataDirBytes == 0 {
		t.Errorf("recovery %+v", rep.Recovery)
	}
	if c := rep.CrashCycle; c == nil || c.Median <= 0 {
		t.Errorf("crash cycle %+v", c)
	}
	// Small and large values, each without a limit and then at a
	// --max-memory of what the first run accounted.
	if len(rep.Memory) != 4 || rep.Memory[0].Accounted <= 0 || rep.Memory[0].MaxMemory != 0 ||
		rep.Memory[1].MaxMemory != rep.Memory[0].Accounted || rep.Memory[1].Accounted > rep.Memory[1].MaxMemory ||
		rep.Memory[2].StoredBytes < 2<<20 || rep.Memory[3].OverwriteOpsPerSec <= 0 {
		t.Errorf("memory %+v", rep.Memory)
	}
	if rep.Server == nil || rep.Server["name"] != "kvserver" {
		t.Errorf("server version %v", rep.Server)
	}
}
