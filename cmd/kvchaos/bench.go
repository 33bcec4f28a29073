package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kvchaos/kvchaos/harness/bench"
)

// benchFlags are bench's flags.
type benchFlags struct {
	serverBin   string
	serverArgs  []string
	out         string
	scenarios   []string
	concurrency []int
	sync        []string
	duration    string
	warmup      string
	openLoop    float64
	recovery    []int
	fsyncLat    []time.Duration
	skip        []string
	full        bool
	inProcess   bool
	client      string
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the server beside this machine's HTTP ceiling",
		Long: `bench measures a kvserver-compatible binary with a closed- and open-loop load
generator (HDR histograms, no coordinated omission) and, in the same run with
the same generator, a minimal net/http handler answering the same requests: the
HTTP ceiling of this machine. Every kvserver figure is printed with its ratio to
that baseline. It also measures the group-commit gain under --sync always, at
the disk's own fsync latency and again with each --fsync-latency added to every
fsync (the server launched under strace, which holds each fsync that long: a
slower disk; skipped without strace), PUTs at a 1 MiB --max-memory with
--eviction lru and lfu,
restart time against data size, a kill/restart/verify cycle, and RSS per stored
byte against the server's --max-memory accounting; with redis-server and
redis-benchmark installed, Redis figures for the same shapes are added.

It prints a table and writes bench.json (the data docs/performance-tuning.md is
rendered from) and bench.html (charts) into --out. The default run is short
(2 s per point, 1 and 64 clients, --sync always and never); --full runs the
whole matrix (1, 8, 64, 256 clients, every policy, up to a million keys).`,
		Example: `  kvchaos bench
  kvchaos bench --full --out docs/bench
  kvchaos bench --scenarios get-hot,put-100b --concurrency 1,8,64,256 --duration 5s
  kvchaos bench --skip recovery,memory --server-bin ./my-kvserver
  kvchaos bench --skip sweep,eviction,recovery,crash-cycle,memory,redis --fsync-latency 1ms,5ms,10ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.serverBin, "server-bin", "", "server binary (default bin/kvserver; `make build` writes it)")
	fl.StringArrayVar(&f.serverArgs, "server-arg", nil, "extra server argument, repeatable (e.g. --server-arg=--eviction=lru)")
	fl.StringVar(&f.out, "out", "bench", "directory for bench.json and bench.html")
	fl.StringSliceVar(&f.scenarios, "scenarios", nil, "scenarios to run (default all: "+strings.Join(bench.ScenarioNames(), ",")+")")
	fl.IntSliceVar(&f.concurrency, "concurrency", nil, "closed-loop client counts (default 1,64; --full 1,8,64,256)")
	fl.StringSliceVar(&f.sync, "sync", nil, "--sync policies (default always,never; --full always,everysec,never)")
	fl.StringVar(&f.duration, "duration", "", "measured time per point (default 2s)")
	fl.StringVar(&f.warmup, "warmup", "", "unmeasured warm-up before each point (default 300ms)")
	fl.Float64Var(&f.openLoop, "open-loop", 0, "add an open-loop point at this fraction of the best closed-loop rate (default 0.5; negative: none)")
	fl.IntSliceVar(&f.recovery, "recovery-keys", nil, "data sizes of the recovery curve in keys (default 10000,100000; --full adds 1000000)")
	fl.DurationSliceVar(&f.fsyncLat, "fsync-latency", nil, "latencies added to every fsync at which the group-commit gain is measured again, under strace (default 1ms,5ms; 0: none)")
	fl.StringSliceVar(&f.skip, "skip", nil, "sections to skip: sweep, group-commit, eviction, recovery, crash-cycle, memory, redis")
	fl.BoolVar(&f.full, "full", false, "the whole matrix (takes about 10 minutes)")
	fl.StringVar(&f.client, "client", "raw", "load generator's HTTP client: raw (lean HTTP/1.1, leaves the CPU to the servers) or net/http")
	fl.BoolVar(&f.inProcess, "in-process-baseline", false, "serve the baseline inside kvchaos instead of as its own process")
	cmd.AddCommand(newBenchBaselineCmd())
	return cmd
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	cfg := bench.Defaults(f.full)
	cfg.ServerArgs = f.serverArgs
	cfg.Command = "kvchaos " + strings.Join(os.Args[1:], " ")
	cfg.Progress = cmd.ErrOrStderr()
	bin := f.serverBin
	if bin == "" {
		bin = filepath.Join("bin", "kvserver")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("server binary %s: %w (run `make build` or pass --server-bin)", bin, err)
	}
	cfg.ServerBin = abs
	if !f.inProcess {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.BaselineBin, cfg.BaselineArgs = self, []string{"bench", "baseline"}
	}
	if len(f.scenarios) > 0 {
		cfg.Scenarios = f.scenarios
	}
	if len(f.concurrency) > 0 {
		cfg.Concurrency = f.concurrency
	}
	if len(f.sync) > 0 {
		cfg.Sync = f.sync
	}
	if len(f.recovery) > 0 {
		cfg.RecoveryKeys = f.recovery
	}
	if len(f.fsyncLat) > 0 {
		cfg.FsyncLatency = f.fsyncLat
	}
	cfg.Skip = f.skip
	cfg.Client = f.client
	if f.openLoop != 0 {
		cfg.OpenLoop = f.openLoop
	}
	if cfg.Duration, err = durationFlag("duration", f.duration, cfg.Duration); err != nil {
		return err
	}
	if cfg.Warmup, err = durationFlag("warmup", f.warmup, cfg.Warmup); err != nil {
		return err
	}
	rep, runErr := bench.Run(cmd.Context(), cfg)
	if rep == nil {
		return runErr
	}
	out := cmd.OutOrStdout()
	fmt.Fprintln(out)
	if err := bench.WriteTable(rep, out); err != nil {
		return err
	}
	if err := bench.WriteFiles(rep, f.out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwrote %s and %s\n", filepath.Join(f.out, bench.JSONFile), filepath.Join(f.out, bench.HTMLFile))
	return runErr
}

// newBenchBaselineCmd is the baseline server bench starts as its own
// process, so it runs exactly as kvserver does (its own runtime and cores).
func newBenchBaselineCmd() *cobra.Command {
	var addr, dataDir string
	cmd := &cobra.Command{
		Use:    "baseline",
		Short:  "Serve the net/http baseline (started by bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.ServeBaseline(cmd.Context(), addr, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "listen address")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "ignored (the harness passes one to every server)")
	return cmd
}

func durationFlag(name, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("--" + name + ": want a positive duration like 2s")
	}
	return d, nil
}
