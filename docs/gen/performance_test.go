package gen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvchaos/kvchaos/harness/bench"
)

const benchFixture = `{
  "schema": 1, "started": "2026-01-01T00:00:00Z", "seconds": 60, "command": "kvchaos bench",
  "machine": {"cpus": 2, "cpu_model": "test", "memory_bytes": 1073741824, "os": "linux", "arch": "amd64", "kernel": "6", "go_version": "go1.26", "data_fs": "ext4"},
  "settings": {"concurrency": [1, 64], "sync": ["always", "never"]},
  "scenarios": [{"name": "get-hot", "value_size": 100}, {"name": "put-100b", "writes": true, "value_size": 100}],
  "points": [
    {"scenario": "put-100b", "target": "kvserver", "sync": "always", "mode": "closed", "clients": 64, "ops_per_sec": 5000, "latency": {"p99_us": 9000}, "baseline_ops_per_sec": 10000, "ratio_to_baseline": 0.5},
    {"scenario": "put-100b", "target": "kvserver", "sync": "never", "mode": "closed", "clients": 64, "ops_per_sec": 8000, "latency": {"p99_us": 4000}},
    {"scenario": "put-100b", "target": "kvserver", "sync": "never", "eviction": "lru", "mode": "closed", "clients": 64, "ops_per_sec": 7000, "latency": {"p99_us": 5000}, "server": {"evictions": 12345}},
    {"scenario": "get-hot", "target": "baseline", "mode": "closed", "clients": 64, "ops_per_sec": 20000}
  ],
  "group_commit": {"scenario": "put-100b", "clients": 64, "grouped_ops_per_sec": 9000, "grouped_tx_per_fsync": 12, "ungrouped_ops_per_sec": 4000, "ungrouped_tx_per_fsync": 1, "ungrouped_how": "--group-commit-max 1", "gain": 2.25,
    "by_fsync_latency": [{"added_fsync_ms": 5, "grouped_ops_per_sec": 6400, "grouped_tx_per_fsync": 31.5, "grouped_p99_us": 12000, "ungrouped_ops_per_sec": 190, "ungrouped_tx_per_fsync": 1, "ungrouped_p99_us": 400000, "grouped_fsync_ms": 6.4, "ungrouped_fsync_ms": 6.25, "gain": 33.68}]},
  "memory": [{"name": "small values (100 B), no --max-memory", "value_size": 100, "stored_bytes": 1000, "rss_growth": 4000, "rss_per_stored_byte": 4, "accounted_bytes": 2000, "accounting_error": -0.5},
    {"name": "small values (100 B), at --max-memory", "value_size": 100, "max_memory": 2000, "stored_bytes": 1000, "rss_growth": 2200, "rss_per_stored_byte": 2.2, "accounted_bytes": 2000, "accounting_error": -0.09,
     "overwrite_clients": 64, "overwrite_ops_per_sec": 9000, "rss_under_load": 2300}]
}`

// TestPerformancePage renders a small bench.json and checks the derived
// figures: the sync comparison, the eviction table kept apart from the
// sweep, and the memory sizing rule.
func TestPerformancePage(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, BenchFile), []byte(benchFixture))
	ex, err := os.ReadFile(filepath.Join(repoRoot, ExamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, ExamplesFile), ex)
	page, err := PerformancePage(root)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		"| put-100b | 64 | 5,000 (9,000) | — | 8,000 (4,000) | 62% |",
		"| `lru` | put-100b | never | 64 | 7,000 | — | 5,000 | 12,345 |",
		"(L − 32 MiB) ÷ 1.10", // the at-limit row, not the unlimited one (2.00)
		"| small values (100 B), at --max-memory | — | 100 B | 1000 B | 2.1 KiB | 2.20 | 2.0 KiB | -9% | 9,000 (64) |",
		"| put-100b | 100 B | 64 | 5,000 | — | 9,000 | — | 0 | 10,000 | 0.50 |",
		"`kvserver_fsyncs_total`",
		"than 2.5× here", // the baseline's 10,000 over the ungrouped 4,000
		"| 0 (this disk) | 9,000 | 12.0 | — | — | 4,000 | — | — | 2.2× |",
		"| 5 ms | 6,400 | 31.5 | 6.4 | 12,000 | 190 | 6.2 | 400,000 | **33.7×** |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(s, "| put-100b | 100 B | 64 | 8,000 |") != 1 {
		t.Errorf("the never sweep should hold the unlimited point once, and not the eviction point")
	}

	write(t, filepath.Join(root, BenchFile), []byte(`{"schema": 2}`))
	if _, err := PerformancePage(root); err == nil || !strings.Contains(err.Error(), "schema 2") {
		t.Fatalf("an unknown schema rendered: %v", err)
	}
}

// TestBenchMirrorMatchesTheBenchSchema guards the copy of bench.json's
// shape kept in this package (Bench) against drift from harness/bench's
// Report, which writes the file: the committed data must read the same
// through both.
// It reads the committed data and the fixture above, which has the fields
// the committed data may predate.
func TestBenchMirrorMatchesTheBenchSchema(t *testing.T) {
	fixture := t.TempDir()
	write(t, filepath.Join(fixture, BenchFile), []byte(benchFixture))
	for name, root := range map[string]string{"committed": repoRoot, "fixture": fixture} {
		t.Run(name, func(t *testing.T) { mirrorMatches(t, root) })
	}
}

func mirrorMatches(t *testing.T, root string) {
	t.Helper()
	mine, err := LoadBench(root)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := bench.ReadJSON(filepath.Join(root, BenchFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(mine.Points) != len(theirs.Points) || len(mine.Points) == 0 {
		t.Fatalf("%d points here, %d in harness/bench", len(mine.Points), len(theirs.Points))
	}
	for i, p := range mine.Points {
		q := theirs.Points[i]
		if p.Scenario != q.Scenario || p.Target != q.Target || p.Sync != q.Sync || p.Eviction != q.Eviction ||
			p.Clients != q.Clients || p.OpsPerSec != q.OpsPerSec || p.RatioToBaseline != q.Ratio {
			t.Fatalf("point %d reads differently: here %+v, harness/bench %+v", i, p, q)
		}
		if p.Server != nil && p.Server.TxPerFsync != q.Server.TxPerFsync {
			t.Fatalf("point %d: tx/fsync %v here, %v in harness/bench", i, p.Server.TxPerFsync, q.Server.TxPerFsync)
		}
	}
	if (mine.GroupCommit == nil) != (theirs.GroupCommit == nil) ||
		(mine.GroupCommit != nil && mine.GroupCommit.Gain != theirs.GroupCommit.Gain) {
		t.Fatal("the group-commit section reads differently")
	}
	if mine.GroupCommit != nil {
		a, b := mine.GroupCommit.ByFsyncLatency, theirs.GroupCommit.ByFsyncLatency
		if len(a) != len(b) || mine.GroupCommit.LatencySkipped != theirs.GroupCommit.LatencySkipped {
			t.Fatalf("the group-commit points at added fsync latencies read differently: %d here, %d in harness/bench", len(a), len(b))
		}
		for i := range a {
			if a[i].AddedMs != b[i].AddedMs || a[i].Gain != b[i].Gain || a[i].GroupedP99US != b[i].GroupedP99 ||
				a[i].UngroupedTxPerFsync != b[i].UngroupedTxPerFsync || a[i].UngroupedFsyncMs != b[i].UngroupedFsyncMs {
				t.Fatalf("group commit at +%v ms reads differently: here %+v, harness/bench %+v", a[i].AddedMs, a[i], b[i])
			}
		}
	}
	if len(mine.Memory) != len(theirs.Memory) || len(mine.Recovery) != len(theirs.Recovery) {
		t.Fatal("the memory or recovery sections read differently")
	}
}

// TestNarrowed checks the sync-cost guidance's test: always ÷ never must
// rise with concurrency in every write scenario, not across their ranges.
func TestNarrowed(t *testing.T) {
	const doc = `{"scenarios": [{"name": "small", "writes": true}, {"name": "big", "writes": true}], "points": [
	  {"scenario": "small", "target": "kvserver", "mode": "closed", "sync": "always", "clients": 1, "ops_per_sec": 30},
	  {"scenario": "small", "target": "kvserver", "mode": "closed", "sync": "never", "clients": 1, "ops_per_sec": 100},
	  {"scenario": "small", "target": "kvserver", "mode": "closed", "sync": "always", "clients": 8, "ops_per_sec": 80},
	  {"scenario": "small", "target": "kvserver", "mode": "closed", "sync": "never", "clients": 8, "ops_per_sec": 100},
	  {"scenario": "big", "target": "kvserver", "mode": "closed", "sync": "always", "clients": 1, "ops_per_sec": 70},
	  {"scenario": "big", "target": "kvserver", "mode": "closed", "sync": "never", "clients": 1, "ops_per_sec": 100},
	  {"scenario": "big", "target": "kvserver", "mode": "closed", "sync": "always", "clients": 8, "ops_per_sec": 75},
	  {"scenario": "big", "target": "kvserver", "mode": "closed", "sync": "never", "clients": 8, "ops_per_sec": 100}]}`
	var b Bench
	if err := json.Unmarshal([]byte(doc), &b); err != nil {
		t.Fatal(err)
	}
	// small 30% -> 80%, big 70% -> 75%: the one-client range (30-70%)
	// overlaps the eight-client one (75-80% does not, but 60-80% would),
	// yet each scenario narrowed.
	if !narrowed(&b, 8) {
		t.Fatal("each scenario narrowed, but narrowed says no")
	}
	b.Points[6].OpsPerSec = 60 // big widened: 70% -> 60%
	if narrowed(&b, 8) {
		t.Fatal("big widened, but narrowed says yes")
	}
}
