package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/kvchaos/kvchaos/harness/load"
)

// Report is everything one bench run measured; bench.json is its JSON form
// (the package doc shows the shape). The zero value is an empty report.
type Report struct {
	Schema    int            `json:"schema"`
	Started   time.Time      `json:"started"`
	Seconds   float64        `json:"seconds"`
	Command   string         `json:"command,omitempty"`
	Machine   Machine        `json:"machine"`
	Server    map[string]any `json:"server,omitempty"`
	Settings  Settings       `json:"settings"`
	Scenarios []ScenarioInfo `json:"scenarios"`
	Points    []Point        `json:"points"`

	GroupCommit *GroupCommit `json:"group_commit,omitempty"`
	Recovery    []Recovery   `json:"recovery,omitempty"`
	CrashCycle  *CrashCycle  `json:"crash_cycle,omitempty"`
	Memory      []Memory     `json:"memory,omitempty"`
	Redis       []RedisPoint `json:"redis,omitempty"`
	Notes       []string     `json:"notes,omitempty"`
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	Memory    uint64 `json:"memory_bytes,omitempty"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Kernel    string `json:"kernel,omitempty"`
	GoVersion string `json:"go_version"`
	// DataFS is the filesystem type of the temp dir the data dirs live in
	// (fsync on tmpfs costs nothing, on ext4 it reaches the disk).
	DataFS string `json:"data_fs,omitempty"`
	// Load1Start and Load1End are the 1-minute load averages when the run
	// started and ended (other work on the machine skews every figure).
	Load1Start float64 `json:"load1_start"`
	Load1End   float64 `json:"load1_end"`
}

// Settings are the run's parameters.
type Settings struct {
	Duration    float64  `json:"duration_s"`
	Warmup      float64  `json:"warmup_s"`
	Concurrency []int    `json:"concurrency"`
	Sync        []string `json:"sync"`
	Scenarios   []string `json:"scenarios"`
	OpenLoop    float64  `json:"open_loop_fraction"`
	Full        bool     `json:"full"`
	Client      string   `json:"client"`
}

// ScenarioInfo describes a scenario in the report.
type ScenarioInfo struct {
	Name      string `json:"name"`
	Doc       string `json:"doc"`
	Writes    bool   `json:"writes"`
	ValueSize int    `json:"value_size"`
	Keys      int    `json:"keys"`
}

// Point is one measured run of a scenario against one target.
type Point struct {
	Scenario string `json:"scenario"`
	// Target is "kvserver" or "baseline".
	Target string `json:"target"`
	// Sync is kvserver's --sync policy; for the baseline, the policy of the
	// kvserver sweep it was measured beside.
	Sync string `json:"sync,omitempty"`
	// Eviction is kvserver's --eviction policy for the points measured at
	// the memory limit (see the eviction section); "" for every other point.
	Eviction string `json:"eviction,omitempty"`
	load.Result
	// BaselineOpsPerSec and Ratio compare a closed-loop kvserver point with
	// the baseline at the same scenario and concurrency.
	BaselineOpsPerSec float64        `json:"baseline_ops_per_sec,omitempty"`
	Ratio             float64        `json:"ratio_to_baseline,omitempty"`
	Server            ServerCounters `json:"server"`
	// GeneratorCores is the CPU the load generator (this process) used,
	// OtherCores what the rest of the machine used meanwhile: on a shared
	// machine a high figure means the point is noisy. Load1 is the 1-minute
	// load average read before the point.
	GeneratorCores float64 `json:"generator_cpu_cores"`
	OtherCores     float64 `json:"other_cpu_cores"`
	Load1          float64 `json:"load1"`
}

// ServerCounters are read from the server around a point: its CPU use (in
// cores) and RSS from /proc, and the deltas of its commit counters from
// /metrics (zero when the server has none).
type ServerCounters struct {
	CPUCores   float64 `json:"cpu_cores"`
	RSS        int64   `json:"rss_bytes"`
	Commits    int64   `json:"commits"`
	Fsyncs     int64   `json:"fsyncs"`
	Groups     int64   `json:"groups"`
	TxPerFsync float64 `json:"tx_per_fsync"`
	Evictions  int64   `json:"evictions"`
	// FsyncMs is the mean time one fsync of the log took as the server
	// timed it (kvserver_fsync_seconds_total ÷ kvserver_fsyncs_total).
	FsyncMs float64 `json:"fsync_ms,omitempty"`
}

// GroupCommit compares durable PUT throughput with and without group commit.
type GroupCommit struct {
	Scenario string `json:"scenario"`
	Clients  int    `json:"clients"`
	// Rounds is how many alternating measurements of each side the
	// figures are medians of.
	Rounds              int     `json:"rounds"`
	GroupedOpsPerSec    float64 `json:"grouped_ops_per_sec"`
	GroupedTxPerFsync   float64 `json:"grouped_tx_per_fsync"`
	UngroupedOpsPerSec  float64 `json:"ungrouped_ops_per_sec"`
	UngroupedTxPerFsync float64 `json:"ungrouped_tx_per_fsync"`
	// UngroupedHow says how the one-fsync-per-request figure was taken:
	// "--group-commit-max 1" at the same concurrency, or "1 client" when
	// the server has no such flag.
	UngroupedHow       string  `json:"ungrouped_how"`
	OneClientOpsPerSec float64 `json:"one_client_ops_per_sec"`
	// Gain is GroupedOpsPerSec / UngroupedOpsPerSec.
	Gain float64 `json:"gain"`
	// ByFsyncLatency repeats the comparison at each added fsync latency
	// (Config.FsyncLatency); LatencySkipped says why it was not measured
	// when it was asked for. Both are empty when it was not asked for.
	ByFsyncLatency []FsyncLatencyGain `json:"by_fsync_latency,omitempty"`
	LatencySkipped string             `json:"by_fsync_latency_skipped,omitempty"`
}

// Recovery is one point of the recovery curve: how long a restart takes on
// a data dir of that size.
type Recovery struct {
	Name          string `json:"name"`
	Keys          int    `json:"keys"`
	ValueSize     int    `json:"value_size"`
	Writes        int64  `json:"writes"`
	DataDirBytes  int64  `json:"data_dir_bytes"`
	LogBytes      int64  `json:"log_bytes"`
	SnapshotBytes int64  `json:"snapshot_bytes"`
	// ListenSeconds is from exec to the listening line, ReadySeconds to
	// /readyz 200 (medians), LoadSeconds the server's own load_seconds
	// from its log when it prints one.
	ListenSeconds float64   `json:"listen_s"`
	ReadySeconds  float64   `json:"ready_s"`
	LoadSeconds   float64   `json:"load_s,omitempty"`
	Samples       []float64 `json:"samples_s"`
}

// CrashCycle is the harness's own speed: SIGKILL, restart, read back a
// small data set.
type CrashCycle struct {
	Keys   int     `json:"keys"`
	Cycles int     `json:"cycles"`
	Median float64 `json:"median_s"`
	P90    float64 `json:"p90_s"`
	Max    float64 `json:"max_s"`
}

// Memory compares the RSS a data set costs with the bytes stored and with
// the server's accounting behind --max-memory (kvserver_dataset_bytes).
type Memory struct {
	Name      string `json:"name"`
	Keys      int    `json:"keys"`
	ValueSize int    `json:"value_size"`
	// MaxMemory is the server's --max-memory (with --eviction lru), 0 for
	// none; Evictions is how many keys it evicted to stay under it.
	MaxMemory   int64   `json:"max_memory"`
	Evictions   int64   `json:"evictions"`
	StoredBytes int64   `json:"stored_bytes"`
	RSSBefore   int64   `json:"rss_before"`
	RSSAfter    int64   `json:"rss_after"`
	RSSGrowth   int64   `json:"rss_growth"`
	RSSPerByte  float64 `json:"rss_per_stored_byte"`
	// HeapGrowth is the growth of the Go heap the server reports
	// (go_memstats_heap_alloc_bytes: live data plus garbage not yet
	// collected); 0 when it does not export it.
	HeapGrowth      int64   `json:"heap_growth"`
	Accounted       int64   `json:"accounted_bytes"`
	AccountingError float64 `json:"accounting_error"`
	// OverwriteOpsPerSec is the rate of PUTs overwriting the stored keys
	// from OverwriteClients clients after the fill, and RSSUnderLoad the
	// RSS at its end: what the data set, and --max-memory's tighter GC,
	// cost in throughput and memory under writes.
	OverwriteClients   int     `json:"overwrite_clients"`
	OverwriteOpsPerSec float64 `json:"overwrite_ops_per_sec"`
	RSSUnderLoad       int64   `json:"rss_under_load"`
}

// RedisPoint is one redis-benchmark figure, for reference.
type RedisPoint struct {
	Scenario  string  `json:"scenario"`
	Test      string  `json:"test"`
	Sync      string  `json:"sync"`
	Clients   int     `json:"clients"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50       float64 `json:"p50_us"`
}

// add appends p and prints its line.
func (r *Report) add(w io.Writer, p Point) {
	r.Points = append(r.Points, p)
	sync := p.Sync
	if sync == "" {
		sync = "-"
	}
	if p.Eviction != "" {
		sync += "/" + p.Eviction
	}
	extra := ""
	if p.Mode == "open" {
		extra = fmt.Sprintf(" open loop at %.0f/s", p.Rate)
	}
	if p.Errors > 0 || p.Missed > 0 {
		extra += fmt.Sprintf(" errors %d missed %d (%s)", p.Errors, p.Missed, p.FirstError)
	}
	fmt.Fprintf(w, "%-9s %-10s %-8s c=%-3d %9.0f ops/s  p50 %s  p99 %s%s\n", p.Target, p.Scenario, sync, p.Clients,
		p.OpsPerSec, us(p.Latency.P50), us(p.Latency.P99), extra)
}

// fillRatios puts the baseline's figure beside every closed-loop kvserver
// point.
func (r *Report) fillRatios() {
	base := map[string]float64{}
	key := func(p Point) string { return fmt.Sprintf("%s/%s/%d", p.Scenario, p.Sync, p.Clients) }
	for _, p := range r.Points {
		if p.Target == "baseline" && p.Mode == "closed" {
			base[key(p)] = p.OpsPerSec
		}
	}
	for i := range r.Points {
		p := &r.Points[i]
		if b := base[key(*p)]; p.Target == "kvserver" && p.Mode == "closed" && p.Eviction == "" && b > 0 {
			p.BaselineOpsPerSec = b
			p.Ratio = p.OpsPerSec / b
		}
	}
}

// us formats microseconds for a table.
func us(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 10_000:
		return fmt.Sprintf("%.0fms", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.1fms", v/1000)
	}
	return fmt.Sprintf("%.0fµs", v)
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	if infos, err := cpu.Info(); err == nil && len(infos) > 0 {
		m.CPUModel = infos[0].ModelName
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		m.Memory = vm.Total
	}
	if k, err := host.KernelVersion(); err == nil {
		m.Kernel = k
	}
	m.DataFS = fsType(os.TempDir())
	m.Load1Start = loadAvg()
	return m
}

// loadAvg is the 1-minute load average (0 when unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// machineBusy is the CPU time, in seconds, all CPUs have spent not idle
// since boot (0 when unknown).
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, not iowait; no guest (already in user)
			busy += n
		}
	}
	return busy / clockTicks
}

// fsType names the filesystem holding dir by its statfs magic number.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	switch st.Type {
	case 0xef53:
		return "ext4"
	case 0x01021994:
		return "tmpfs"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("%#x", st.Type)
}
