package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/proc"
)

// groupCommitRounds is how many times each side of the group-commit
// comparison is measured, alternating, so that a change in the machine's
// background load hits both sides alike; the medians are compared.
const groupCommitRounds = 3

// groupCommitClients is the concurrency of the comparison.
const groupCommitClients = 64

// FsyncLatencyGain is the group-commit comparison with every fsync of the
// server made slower by an added latency: the server runs under strace
// (fault.SlowSync's launch mode, a seccomp filter, so only the fsyncs stop),
// as it would on a disk whose flush takes that long.
type FsyncLatencyGain struct {
	// AddedMs is the latency added to each fsync, in milliseconds.
	AddedMs             float64 `json:"added_fsync_ms"`
	GroupedOpsPerSec    float64 `json:"grouped_ops_per_sec"`
	GroupedTxPerFsync   float64 `json:"grouped_tx_per_fsync"`
	GroupedP99          float64 `json:"grouped_p99_us"`
	UngroupedOpsPerSec  float64 `json:"ungrouped_ops_per_sec"`
	UngroupedTxPerFsync float64 `json:"ungrouped_tx_per_fsync"`
	UngroupedP99        float64 `json:"ungrouped_p99_us"`
	// GroupedFsyncMs and UngroupedFsyncMs are the mean fsync time each
	// server saw: the added latency is a floor, and on a busy machine
	// strace wakes the held thread late, so they say what was measured.
	GroupedFsyncMs   float64 `json:"grouped_fsync_ms"`
	UngroupedFsyncMs float64 `json:"ungrouped_fsync_ms"`
	// Gain is GroupedOpsPerSec / UngroupedOpsPerSec.
	Gain float64 `json:"gain"`
}

// groupCommit measures durable 100 B PUTs (--sync always) at 64 clients with
// group commit and with one fsync per request. The server's
// --group-commit-max 1 turns grouping off where it has the flag; otherwise
// the one-client figure stands in for it (every request its own fsync, but
// also no concurrency), and the report says so. Then it repeats the
// comparison at each of cfg.FsyncLatency added to every fsync.
func groupCommit(ctx context.Context, cfg Config, rep *Report) error {
	s := putScenario()
	args := append([]string{"--sync", "always", "--log-level", "warn"}, cfg.ServerArgs...)
	canUngroup := supportsFlag(ctx, cfg.ServerBin, "group-commit-max")
	gc, err := groupCommitNative(ctx, cfg, s, args, canUngroup)
	if err != nil {
		return err
	}
	rep.GroupCommit = gc
	fmt.Fprintf(cfg.Progress, "group commit: %d clients %.0f PUT/s (%.1f tx/fsync) vs %.0f PUT/s (%.1f tx/fsync, %s): %.1fx (medians of %d alternating rounds)\n",
		gc.Clients, gc.GroupedOpsPerSec, gc.GroupedTxPerFsync, gc.UngroupedOpsPerSec, gc.UngroupedTxPerFsync, gc.UngroupedHow, gc.Gain, gc.Rounds)
	if len(cfg.FsyncLatency) == 0 {
		return nil
	}
	if !canUngroup {
		gc.LatencySkipped = "the server has no --group-commit-max flag to turn grouping off"
	} else if _, err := (&fault.SlowSync{}).Wrap(cfg.ServerBin); err != nil {
		gc.LatencySkipped = err.Error()
	}
	if gc.LatencySkipped != "" {
		rep.Notes = append(rep.Notes, "group commit at added fsync latencies skipped: "+gc.LatencySkipped)
		fmt.Fprintln(cfg.Progress, "group commit at added fsync latencies skipped:", gc.LatencySkipped)
		return nil
	}
	for _, d := range cfg.FsyncLatency {
		lg, err := groupCommitAt(ctx, cfg, s, args, d)
		if err != nil {
			return fmt.Errorf("at +%s per fsync: %w", d, err)
		}
		gc.ByFsyncLatency = append(gc.ByFsyncLatency, lg)
		fmt.Fprintf(cfg.Progress, "group commit +%s per fsync: %.0f PUT/s (%.1f tx/fsync, fsync %.1f ms, p99 %s) vs %.0f PUT/s (%.1f tx/fsync, fsync %.1f ms, p99 %s): %.1fx\n",
			d, lg.GroupedOpsPerSec, lg.GroupedTxPerFsync, lg.GroupedFsyncMs, us(lg.GroupedP99), lg.UngroupedOpsPerSec, lg.UngroupedTxPerFsync, lg.UngroupedFsyncMs, us(lg.UngroupedP99), lg.Gain)
	}
	return nil
}

// groupCommitNative is the comparison at the disk's own fsync latency.
func groupCommitNative(ctx context.Context, cfg Config, s Scenario, args []string, canUngroup bool) (*GroupCommit, error) {
	t, err := startTarget(ctx, cfg.ServerBin, args, "")
	if err != nil {
		return nil, err
	}
	defer func() { _ = stopTarget(t) }()
	grouped := endpointOf(t)
	ungrouped, how := grouped, "1 client (the server has no --group-commit-max flag)"
	unClients := 1
	if canUngroup {
		u, err := startTarget(ctx, cfg.ServerBin, append(slices.Clone(args), "--group-commit-max", "1"), "")
		if err != nil {
			return nil, err
		}
		defer func() { _ = stopTarget(u) }()
		ungrouped, how, unClients = endpointOf(u), "--group-commit-max 1", groupCommitClients
	}
	var g, gtx, u, utx, one []float64
	for range groupCommitRounds {
		p := measure(ctx, cfg, grouped, s, groupCommitClients, 0)
		g, gtx = append(g, p.OpsPerSec), append(gtx, p.Server.TxPerFsync)
		p = measure(ctx, cfg, ungrouped, s, unClients, 0)
		u, utx = append(u, p.OpsPerSec), append(utx, p.Server.TxPerFsync)
		if unClients != 1 {
			p = measure(ctx, cfg, grouped, s, 1, 0)
		}
		one = append(one, p.OpsPerSec)
	}
	gc := &GroupCommit{Scenario: s.Name, Clients: groupCommitClients, Rounds: groupCommitRounds,
		GroupedOpsPerSec: median(g), GroupedTxPerFsync: median(gtx),
		UngroupedOpsPerSec: median(u), UngroupedTxPerFsync: median(utx), UngroupedHow: how,
		OneClientOpsPerSec: median(one)}
	if gc.UngroupedOpsPerSec > 0 {
		gc.Gain = gc.GroupedOpsPerSec / gc.UngroupedOpsPerSec
	}
	return gc, nil
}

// groupCommitAt compares grouped and ungrouped servers that both run under
// strace with d added to every fsync.
func groupCommitAt(ctx context.Context, cfg Config, s Scenario, args []string, d time.Duration) (FsyncLatencyGain, error) {
	lg := FsyncLatencyGain{AddedMs: float64(d.Microseconds()) / 1000}
	ss := &fault.SlowSync{Delay: d}
	gt, err := startSlowTarget(ctx, cfg.ServerBin, args, ss)
	if err != nil {
		return lg, err
	}
	defer func() { _ = stopTarget(gt) }()
	ut, err := startSlowTarget(ctx, cfg.ServerBin, append(slices.Clone(args), "--group-commit-max", "1"), ss)
	if err != nil {
		return lg, err
	}
	defer func() { _ = stopTarget(ut) }()
	grouped, ungrouped := slowEndpoint(gt), slowEndpoint(ut)
	var g, gtx, gp, gf, u, utx, up, uf []float64
	for range groupCommitRounds {
		p := measure(ctx, cfg, grouped, s, groupCommitClients, 0)
		g, gtx, gp, gf = append(g, p.OpsPerSec), append(gtx, p.Server.TxPerFsync), append(gp, p.Latency.P99), append(gf, p.Server.FsyncMs)
		p = measure(ctx, cfg, ungrouped, s, groupCommitClients, 0)
		u, utx, up, uf = append(u, p.OpsPerSec), append(utx, p.Server.TxPerFsync), append(up, p.Latency.P99), append(uf, p.Server.FsyncMs)
	}
	lg.GroupedOpsPerSec, lg.GroupedTxPerFsync, lg.GroupedP99, lg.GroupedFsyncMs = median(g), median(gtx), median(gp), median(gf)
	lg.UngroupedOpsPerSec, lg.UngroupedTxPerFsync, lg.UngroupedP99, lg.UngroupedFsyncMs = median(u), median(utx), median(up), median(uf)
	if lg.UngroupedOpsPerSec > 0 {
		lg.Gain = lg.GroupedOpsPerSec / lg.UngroupedOpsPerSec
	}
	return lg, nil
}

func putScenario() Scenario {
	all := Scenarios()
	return all[slices.IndexFunc(all, func(s Scenario) bool { return s.Name == "put-100b" })]
}

// startSlowTarget starts bin under strace with ss's fsync delay (the launch
// mode: only the delayed calls stop). The target's process is strace, in
// its own process group with the server, so the harness's SIGTERM reaches
// the server and strace exits with its status. KVCHAOS_OWNER lets `kvchaos
// cleanup` find both should the bench be killed.
func startSlowTarget(ctx context.Context, bin string, args []string, ss *fault.SlowSync) (*harness.Target, error) {
	argv, err := ss.Wrap(bin)
	if err != nil {
		return nil, err
	}
	return startWith(ctx, harness.TargetConfig{Bin: argv[0], Args: append(argv[1:], args...),
		Env: []string{fault.OwnerEnv + "=bench-slow-sync"}, StartTimeout: time.Minute})
}

// slowEndpoint is the endpoint of a target started by startSlowTarget, with
// the server's pid (strace's child) for the CPU and RSS figures.
func slowEndpoint(t *harness.Target) endpoint {
	e := endpointOf(t)
	if kids := proc.Children(e.pid); len(kids) > 0 {
		e.pid = kids[0]
	}
	return e
}
