package gen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Bench is the part of `kvchaos bench`'s bench.json (schema 1, documented
// in harness/bench's package doc) that docs/performance-tuning.md renders.
// It is decoded here rather than imported so the docs keep rendering from
// a committed file whatever the bench code does next; unknown fields are
// ignored.
type Bench struct {
	Schema   int            `json:"schema"`
	Started  string         `json:"started"`
	Seconds  float64        `json:"seconds"`
	Command  string         `json:"command"`
	Machine  BenchMachine   `json:"machine"`
	Server   map[string]any `json:"server"`
	Settings struct {
		DurationS   float64  `json:"duration_s"`
		Concurrency []int    `json:"concurrency"`
		Sync        []string `json:"sync"`
		Full        bool     `json:"full"`
	} `json:"settings"`
	Scenarios []struct {
		Name      string `json:"name"`
		Doc       string `json:"doc"`
		Writes    bool   `json:"writes"`
		ValueSize int    `json:"value_size"`
	} `json:"scenarios"`
	Points      []BenchPoint `json:"points"`
	GroupCommit *struct {
		Scenario            string  `json:"scenario"`
		Clients             int     `json:"clients"`
		GroupedOpsPerSec    float64 `json:"grouped_ops_per_sec"`
		GroupedTxPerFsync   float64 `json:"grouped_tx_per_fsync"`
		UngroupedOpsPerSec  float64 `json:"ungrouped_ops_per_sec"`
		UngroupedTxPerFsync float64 `json:"ungrouped_tx_per_fsync"`
		UngroupedHow        string  `json:"ungrouped_how"`
		OneClientOpsPerSec  float64 `json:"one_client_ops_per_sec"`
		Gain                float64 `json:"gain"`
		// ByFsyncLatency is absent from a bench.json written before the
		// bench measured it.
		ByFsyncLatency []struct {
			AddedMs             float64 `json:"added_fsync_ms"`
			GroupedOpsPerSec    float64 `json:"grouped_ops_per_sec"`
			GroupedTxPerFsync   float64 `json:"grouped_tx_per_fsync"`
			GroupedP99US        float64 `json:"grouped_p99_us"`
			UngroupedOpsPerSec  float64 `json:"ungrouped_ops_per_sec"`
			UngroupedTxPerFsync float64 `json:"ungrouped_tx_per_fsync"`
			UngroupedP99US      float64 `json:"ungrouped_p99_us"`
			GroupedFsyncMs      float64 `json:"grouped_fsync_ms"`
			UngroupedFsyncMs    float64 `json:"ungrouped_fsync_ms"`
			Gain                float64 `json:"gain"`
		} `json:"by_fsync_latency"`
		LatencySkipped string `json:"by_fsync_latency_skipped"`
	} `json:"group_commit"`
	Recovery []struct {
		Name         string  `json:"name"`
		Keys         int     `json:"keys"`
		ValueSize    int     `json:"value_size"`
		Writes       int     `json:"writes"`
		DataDirBytes int64   `json:"data_dir_bytes"`
		LogBytes     int64   `json:"log_bytes"`
		SnapBytes    int64   `json:"snapshot_bytes"`
		ReadyS       float64 `json:"ready_s"`
		LoadS        float64 `json:"load_s"`
	} `json:"recovery"`
	CrashCycle *struct {
		Keys    int     `json:"keys"`
		Cycles  int     `json:"cycles"`
		MedianS float64 `json:"median_s"`
		P90S    float64 `json:"p90_s"`
		MaxS    float64 `json:"max_s"`
	} `json:"crash_cycle"`
	Memory []struct {
		Name             string  `json:"name"`
		Keys             int     `json:"keys"`
		ValueSize        int     `json:"value_size"`
		StoredBytes      int64   `json:"stored_bytes"`
		RSSGrowth        int64   `json:"rss_growth"`
		RSSPerStoredByte float64 `json:"rss_per_stored_byte"`
		AccountedBytes   int64   `json:"accounted_bytes"`
		AccountingError  float64 `json:"accounting_error"`
		MaxMemory        int64   `json:"max_memory"`
		Evictions        int64   `json:"evictions"`
		OverwriteClients int     `json:"overwrite_clients"`
		OverwriteOps     float64 `json:"overwrite_ops_per_sec"`
		RSSUnderLoad     int64   `json:"rss_under_load"`
	} `json:"memory"`
	Redis []struct {
		Scenario  string  `json:"scenario"`
		Test      string  `json:"test"`
		Sync      string  `json:"sync"`
		Clients   int     `json:"clients"`
		OpsPerSec float64 `json:"ops_per_sec"`
		P50US     float64 `json:"p50_us"`
	} `json:"redis"`
	Notes []string `json:"notes"`
}

// BenchMachine is the machine a bench ran on.
type BenchMachine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	MemoryBytes int64  `json:"memory_bytes"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	DataFS      string `json:"data_fs"`
}

// BenchPoint is one measured point: a scenario against kvserver (with a
// --sync policy and, when the bench varied it, an eviction policy) or the
// baseline, at one concurrency.
type BenchPoint struct {
	Scenario  string  `json:"scenario"`
	Target    string  `json:"target"`
	Sync      string  `json:"sync"`
	Eviction  string  `json:"eviction"`
	Mode      string  `json:"mode"`
	Clients   int     `json:"clients"`
	Rate      float64 `json:"rate"`
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Latency   struct {
		P50  float64 `json:"p50_us"`
		P90  float64 `json:"p90_us"`
		P99  float64 `json:"p99_us"`
		P999 float64 `json:"p999_us"`
		Max  float64 `json:"max_us"`
	} `json:"latency"`
	BaselineOpsPerSec float64 `json:"baseline_ops_per_sec"`
	RatioToBaseline   float64 `json:"ratio_to_baseline"`
	Server            *struct {
		CPUCores   float64 `json:"cpu_cores"`
		RSSBytes   int64   `json:"rss_bytes"`
		TxPerFsync float64 `json:"tx_per_fsync"`
		Evictions  int64   `json:"evictions"`
	} `json:"server"`
}

// LoadBench reads docs/data/bench.json under root.
func LoadBench(root string) (*Bench, error) {
	b, err := os.ReadFile(filepath.Join(root, BenchFile))
	if err != nil {
		return nil, fmt.Errorf("read bench data: %w", err)
	}
	var out Bench
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", BenchFile, err)
	}
	if out.Schema != 1 {
		return nil, fmt.Errorf("%s: schema %d, this renderer knows schema 1", BenchFile, out.Schema)
	}
	return &out, nil
}

// point finds a closed-loop kvserver point without a memory limit.
func (b *Bench) point(scenario, sync string, clients int) (BenchPoint, bool) {
	for _, p := range b.Points {
		if p.Target == "kvserver" && p.Mode == "closed" && p.Eviction == "" && p.Scenario == scenario && p.Sync == sync && p.Clients == clients {
			return p, true
		}
	}
	return BenchPoint{}, false
}
