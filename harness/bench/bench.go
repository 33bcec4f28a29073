// Package bench measures a kvserver-compatible binary next to the machine's
// own HTTP ceiling, measured in the same run with the same load generator
// (package load): the scenarios of Scenarios over a concurrency sweep and each
// --sync policy, the group-commit gain, PUTs at the memory limit under each
// evicting policy, recovery time against data size, a
// kill → restart → verify crash cycle, and RSS per stored byte against the
// server's own --max-memory accounting. It writes a terminal table,
// bench.json and bench.html. It is what `kvchaos bench` runs.
//
// Like the rest of the harness it treats the server as a black box: it starts
// the binary as a process (harness.Target), talks HTTP on 127.0.0.1, reads
// /metrics, /proc/PID and the data dir's file sizes, and imports nothing of
// the server.
//
// # bench.json
//
// bench.json is a Report (schema 1); docs/performance-tuning.md is rendered
// from it. Times are seconds, latencies microseconds, sizes bytes:
//
//	{
//	  "schema": 1, "started": RFC 3339, "seconds": wall time of the run,
//	  "command": "kvchaos bench ...",
//	  "machine": {"cpus","cpu_model","memory_bytes","os","arch","kernel","go_version","data_fs",
//	              "load1_start","load1_end"},
//	  "server": kvserver's /api/v1/version document,
//	  "settings": {"duration_s","warmup_s","concurrency":[1,64],"sync":["always","never"],
//	               "scenarios":[...],"open_loop_fraction","full","client":"raw"|"net/http"},
//	  "scenarios": [{"name","doc","writes","value_size","keys"}],
//	  "points": [{
//	    "scenario": "put-100b", "target": "kvserver" | "baseline",
//	    "sync": "always" (for the baseline: the kvserver sweep it was measured beside),
//	    "eviction": "lru" | "lfu" (only on the points measured at --max-memory 1MiB; put-100b, --sync never),
//	    "mode": "closed" | "open", "clients", "rate" (open loop: arrivals/s),
//	    "ops", "errors", "missed", "seconds", "ops_per_sec",
//	    "latency": {"p50_us","p90_us","p99_us","p999_us","max_us","mean_us"},
//	    "series": [{"t","ops","errors","ops_per_sec","p50_us","p99_us"}],
//	    "first_error",
//	    "baseline_ops_per_sec", "ratio_to_baseline" (kvserver, closed loop),
//	    "server": {"cpu_cores","rss_bytes","commits","fsyncs","groups","tx_per_fsync","evictions","fsync_ms"},
//	    "generator_cpu_cores", "other_cpu_cores" (CPU used by the rest of the machine: noise),
//	    "load1" (1-minute load average before the point)
//	  }],
//	  "group_commit": {"scenario","clients","rounds","grouped_ops_per_sec","grouped_tx_per_fsync",
//	                   "ungrouped_ops_per_sec","ungrouped_tx_per_fsync","ungrouped_how",
//	                   "one_client_ops_per_sec","gain",
//	                   "by_fsync_latency": [{"added_fsync_ms","grouped_ops_per_sec","grouped_tx_per_fsync",
//	                                         "grouped_p99_us","grouped_fsync_ms","ungrouped_ops_per_sec",
//	                                         "ungrouped_tx_per_fsync","ungrouped_p99_us","ungrouped_fsync_ms","gain"}],
//	                   "by_fsync_latency_skipped": why the latency points are missing},
//	  "recovery": [{"name","keys","value_size","writes","data_dir_bytes","log_bytes",
//	                "snapshot_bytes","listen_s","ready_s","load_s","samples_s":[...]}],
//	  "crash_cycle": {"keys","cycles","median_s","p90_s","max_s"},
//	  "memory": [{"name","keys","value_size","stored_bytes","rss_before","rss_after",
//	              "rss_growth","rss_per_stored_byte","heap_growth","accounted_bytes","accounting_error"}],
//	  "redis": [{"scenario","test","sync","clients","ops_per_sec","p50_us"}],
//	  "notes": ["..."]
//	}
//
// "ratio_to_baseline" is kvserver's ops/s divided by the baseline's at the
// same scenario and concurrency; "accounting_error" is (accounted − RSS
// growth) / RSS growth; "gain" is grouped ÷ ungrouped ops/s. The
// "by_fsync_latency" points run both servers under strace with the latency
// added to every fsync (fault.SlowSync's launch mode), as on a disk whose
// flush takes that long.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/load"
)

// Config says what to measure. The zero value of each field picks the
// default named on it (Defaults(false)); ServerBin is required.
type Config struct {
	// ServerBin is the kvserver-compatible binary.
	ServerBin string
	// ServerArgs are extra arguments for every kvserver start.
	ServerArgs []string
	// BaselineBin and BaselineArgs start the baseline as its own process
	// (it must print the listening line, see ServeBaseline). Empty: the
	// baseline is served inside this process.
	BaselineBin  string
	BaselineArgs []string
	// Scenarios to run, by name; default all.
	Scenarios []string
	// Concurrency is the closed-loop client counts; default 1, 64.
	Concurrency []int
	// Sync is the --sync policies; default always, never.
	Sync []string
	// Duration is the measured time per point; default 2s.
	Duration time.Duration
	// Warmup runs before each point, unmeasured; default 300ms.
	Warmup time.Duration
	// OpenLoop, when > 0, adds one open-loop point per scenario and policy
	// at this fraction of the best closed-loop throughput, with as many
	// workers as the largest concurrency; default 0.5, < 0 turns it off.
	OpenLoop float64
	// RecoveryKeys are the data sizes of the recovery curve, in keys of
	// 100 B; default 10k and 100k. Overwrites adds a case of the first
	// size above 10k written that many times over; default 10.
	RecoveryKeys []int
	Overwrites   int
	// MemoryKeys is how many 100 B keys and how many 1 MiB keys the memory
	// measurement stores; defaults 200,000 and 64.
	MemorySmallKeys, MemoryLargeKeys int
	// FsyncLatency are the latencies added to every fsync at which the
	// group-commit comparison is repeated (the server launched under
	// strace); default 1ms and 5ms. An entry <= 0 is dropped, so
	// []time.Duration{0} measures the disk's own latency only.
	FsyncLatency []time.Duration
	// Skip turns sections off: "sweep", "group-commit", "eviction", "recovery",
	// "crash-cycle", "memory", "redis".
	Skip []string
	// Client is the load generator's HTTP client: "raw" (default, a lean
	// HTTP/1.1 client that leaves the CPU to the servers) or "net/http".
	Client string
	// Full is recorded in the report (Defaults(true) made the settings).
	Full bool
	// Command is recorded in the report.
	Command string
	// Progress receives one line per measured point; nil discards.
	Progress io.Writer
}

// Defaults returns the short default run, or with full the whole matrix:
// every scenario over 1, 8, 64 and 256 clients and every sync policy, and
// the recovery curve up to a million keys.
func Defaults(full bool) Config {
	c := Config{
		Scenarios:   ScenarioNames(),
		Concurrency: []int{1, 64},
		Sync:        []string{"always", "never"},
		Duration:    2 * time.Second, Warmup: 300 * time.Millisecond,
		OpenLoop:        0.5,
		RecoveryKeys:    []int{10_000, 100_000},
		Overwrites:      10,
		MemorySmallKeys: 200_000, MemoryLargeKeys: 64,
		FsyncLatency: []time.Duration{time.Millisecond, 5 * time.Millisecond},
		Full:         full,
	}
	if full {
		c.Concurrency = []int{1, 8, 64, 256}
		c.Sync = []string{"always", "everysec", "never"}
		c.RecoveryKeys = []int{10_000, 100_000, 1_000_000}
		c.MemorySmallKeys, c.MemoryLargeKeys = 1_000_000, 256
	}
	return c
}

func (c Config) withDefaults() Config {
	d := Defaults(c.Full)
	if len(c.Scenarios) == 0 {
		c.Scenarios = d.Scenarios
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = d.Concurrency
	}
	if len(c.Sync) == 0 {
		c.Sync = d.Sync
	}
	if c.Duration <= 0 {
		c.Duration = d.Duration
	}
	if c.Warmup == 0 {
		c.Warmup = d.Warmup
	}
	if c.OpenLoop == 0 {
		c.OpenLoop = d.OpenLoop
	}
	if len(c.RecoveryKeys) == 0 {
		c.RecoveryKeys = d.RecoveryKeys
	}
	if c.Overwrites == 0 {
		c.Overwrites = d.Overwrites
	}
	if c.MemorySmallKeys == 0 {
		c.MemorySmallKeys = d.MemorySmallKeys
	}
	if c.MemoryLargeKeys == 0 {
		c.MemoryLargeKeys = d.MemoryLargeKeys
	}
	if c.FsyncLatency == nil {
		c.FsyncLatency = d.FsyncLatency
	}
	c.FsyncLatency = slices.DeleteFunc(slices.Clone(c.FsyncLatency), func(d time.Duration) bool { return d <= 0 })
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Client == "" {
		c.Client = "raw"
	}
	return c
}

func (c Config) skip(section string) bool { return slices.Contains(c.Skip, section) }

func (c Config) scenarios() ([]Scenario, error) {
	all := Scenarios()
	var out []Scenario
	for _, name := range c.Scenarios {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q (have %v)", name, ScenarioNames())
		}
		out = append(out, all[i])
	}
	return out, nil
}

// Run measures everything cfg asks for. A section that fails is noted in
// Report.Notes and the others still run; the errors are returned joined
// with the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if cfg.ServerBin == "" {
		return nil, errors.New("bench: no server binary")
	}
	scens, err := cfg.scenarios()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	rep := &Report{Schema: 1, Started: time.Now().UTC(), Command: cfg.Command, Machine: machine(),
		Settings: Settings{Duration: cfg.Duration.Seconds(), Warmup: cfg.Warmup.Seconds(),
			Concurrency: cfg.Concurrency, Sync: cfg.Sync, Scenarios: cfg.Scenarios, OpenLoop: cfg.OpenLoop, Full: cfg.Full, Client: cfg.Client}}
	for _, s := range scens {
		rep.Scenarios = append(rep.Scenarios, ScenarioInfo{Name: s.Name, Doc: s.Doc, Writes: s.Writes, ValueSize: s.ValueSize, Keys: s.Keys})
	}
	var errs []error
	section := func(name string, fn func() error) {
		if cfg.skip(name) || ctx.Err() != nil {
			return
		}
		if err := fn(); err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			rep.Notes = append(rep.Notes, err.Error())
			errs = append(errs, err)
			fmt.Fprintln(cfg.Progress, "bench:", err)
		}
	}
	section("sweep", func() error { return sweep(ctx, cfg, scens, rep) })
	section("group-commit", func() error { return groupCommit(ctx, cfg, rep) })
	section("eviction", func() error { return eviction(ctx, cfg, rep) })
	section("recovery", func() error { return recovery(ctx, cfg, rep) })
	section("crash-cycle", func() error { return crashCycle(ctx, cfg, rep) })
	section("memory", func() error { return memory(ctx, cfg, rep) })
	section("redis", func() error { return redisBench(ctx, cfg, scens, rep) })
	rep.fillRatios()
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.Machine.Load1End = loadAvg()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// sweep measures kvserver under each sync policy, each closed-loop point
// right after the baseline at the same scenario and concurrency, so that a
// drift in the machine's background load hits both sides of a ratio alike.
func sweep(ctx context.Context, cfg Config, scens []Scenario, rep *Report) error {
	base, err := startBaseline(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = base.stop() }()
	for i, policy := range cfg.Sync {
		if err := sweepServer(ctx, cfg, scens, base, policy, i == 0, rep); err != nil {
			return err
		}
	}
	return nil
}

func sweepServer(ctx context.Context, cfg Config, scens []Scenario, base endpoint, policy string, first bool, rep *Report) error {
	t, err := startTarget(ctx, cfg.ServerBin, append([]string{"--sync", policy, "--log-level", "warn"}, cfg.ServerArgs...), "")
	if err != nil {
		return err
	}
	defer func() { _ = stopTarget(t) }()
	srv := endpointOf(t)
	c := load.NewHTTPClient(4, time.Minute)
	if rep.Server == nil {
		rep.Server = version(ctx, c, srv.base)
	}
	for _, s := range scens {
		if !s.Writes && !first {
			continue
		}
		if err := s.prepare(ctx, c, srv.base); err != nil {
			return err
		}
		best := 0.0
		for _, n := range cfg.Concurrency {
			b := measure(ctx, cfg, base, s, n, 0)
			b.Target, b.Sync = "baseline", policy
			rep.add(cfg.Progress, b)
			p := measure(ctx, cfg, srv, s, n, 0)
			p.Target, p.Sync = "kvserver", policy
			best = max(best, p.OpsPerSec)
			rep.add(cfg.Progress, p)
		}
		if cfg.OpenLoop > 0 && best > 0 {
			p := measure(ctx, cfg, srv, s, slices.Max(cfg.Concurrency), best*cfg.OpenLoop)
			p.Target, p.Sync = "kvserver", policy
			rep.add(cfg.Progress, p)
		}
	}
	return nil
}

// endpoint is a started server: its URL and pid, and how to stop it.
type endpoint struct {
	base string
	pid  int
	stop func() error
}

func endpointOf(t *harness.Target) endpoint {
	return endpoint{base: t.BaseURL(), pid: t.Pid(), stop: func() error { return stopTarget(t) }}
}

// startBaseline starts the baseline: its own process when the config names
// a binary, else an in-process server.
func startBaseline(ctx context.Context, cfg Config) (endpoint, error) {
	if cfg.BaselineBin != "" {
		t, err := startTarget(ctx, cfg.BaselineBin, cfg.BaselineArgs, "")
		if err != nil {
			return endpoint{}, fmt.Errorf("baseline: %w", err)
		}
		return endpointOf(t), nil
	}
	sctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- ServeBaseline(sctx, "127.0.0.1:0", lineWriter(addrs)) }()
	select {
	case a := <-addrs:
		return endpoint{base: a, stop: func() error { cancel(); return <-done }}, nil
	case err := <-done:
		cancel()
		return endpoint{}, err
	}
}

// lineWriter sends the URL of the listening line to ch.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	var url string
	if _, err := fmt.Sscanf(string(p), "kvserver listening on %s", &url); err == nil {
		w <- url
	}
	return len(p), nil
}

// measure runs one point against srv: a warm-up, then the measured run,
// with the server's counters and CPU time read around it.
func measure(ctx context.Context, cfg Config, srv endpoint, s Scenario, clients int, rate float64) Point {
	c := load.NewHTTPClient(1, time.Minute) // for /metrics
	defer c.CloseIdleConnections()
	rq, err := newRequester(cfg.Client, srv.base, clients)
	if err != nil {
		return Point{Scenario: s.Name, Result: load.Result{FirstError: err.Error()}}
	}
	defer rq.Close()
	op := s.newOp(rq)
	var res load.Result
	if cfg.Warmup > 0 {
		_, _ = load.Run(ctx, load.Config{Clients: clients, Duration: cfg.Warmup}, op)
	}
	before, _ := metrics(ctx, c, srv.base)
	load1 := loadAvg()
	cpu0, _ := procCPU(srv.pid)
	self0, _ := procCPU(os.Getpid())
	busy0 := machineBusy()
	start := time.Now()
	res, err = load.Run(ctx, load.Config{Clients: clients, Rate: rate, Duration: cfg.Duration}, op)
	wall := time.Since(start).Seconds()
	p := Point{Scenario: s.Name, Result: res, Load1: load1}
	if err != nil && p.FirstError == "" {
		p.FirstError = err.Error()
	}
	self1, _ := procCPU(os.Getpid())
	p.GeneratorCores = (self1 - self0) / wall
	var srvCPU float64
	if srv.pid > 0 {
		cpu1, _ := procCPU(srv.pid)
		srvCPU = cpu1 - cpu0
		p.Server.CPUCores = srvCPU / wall
		p.Server.RSS, _ = procRSS(srv.pid)
	}
	if busy0 > 0 {
		p.OtherCores = max(0, (machineBusy()-busy0-srvCPU-(self1-self0))/wall)
	}
	if after, err := metrics(ctx, c, srv.base); err == nil && before != nil {
		p.Server.Commits = int64(after["kvserver_commits_total"] - before["kvserver_commits_total"])
		p.Server.Fsyncs = int64(after["kvserver_fsyncs_total"] - before["kvserver_fsyncs_total"])
		p.Server.Groups = int64(after["kvserver_commit_groups_total"] - before["kvserver_commit_groups_total"])
		p.Server.Evictions = int64(after["kvserver_evictions_total"] - before["kvserver_evictions_total"])
		if p.Server.Fsyncs > 0 {
			p.Server.TxPerFsync = float64(p.Server.Commits) / float64(p.Server.Fsyncs)
			p.Server.FsyncMs = 1000 * (after["kvserver_fsync_seconds_total"] - before["kvserver_fsync_seconds_total"]) / float64(p.Server.Fsyncs)
		}
	}
	return p
}

// newRequester returns the load generator's client of the kind named.
func newRequester(kind, base string, workers int) (load.Requester, error) {
	switch kind {
	case "raw":
		return load.NewRaw(base, workers, time.Minute)
	case "net/http":
		return load.NewNetHTTP(base, workers, time.Minute), nil
	}
	return nil, fmt.Errorf("unknown client %q (want raw or net/http)", kind)
}

// httpClient is a small client for the sections' setup requests.
func httpClient() *http.Client { return load.NewHTTPClient(8, 5*time.Minute) }
