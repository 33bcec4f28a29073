package bench

import (
	"context"
	"fmt"
	"slices"
)

// groupCommitRounds is how many times each side of the group-commit
// comparison is measured, alternating, so that a change in the machine's
// background load hits both sides alike; the medians are compared.
const groupCommitRounds = 3

// groupCommit measures durable 100 B PUTs (--sync always) at 64 clients with
// group commit and with one fsync per request. The server's
// --group-commit-max 1 turns grouping off where it has the flag; otherwise
// the one-client figure stands in for it (every request its own fsync, but
// also no concurrency), and the report says so.
func groupCommit(ctx context.Context, cfg Config, rep *Report) error {
	all := Scenarios()
	s := all[slices.IndexFunc(all, func(s Scenario) bool { return s.Name == "put-100b" })]
	const clients = 64
	args := append([]string{"--sync", "always", "--log-level", "warn"}, cfg.ServerArgs...)
	t, err := startTarget(ctx, cfg.ServerBin, args, "")
	if err != nil {
		return err
	}
	defer func() { _ = stopTarget(t) }()
	grouped := endpointOf(t)
	ungrouped, how := grouped, "1 client (the server has no --group-commit-max flag)"
	unClients := 1
	if supportsFlag(ctx, cfg.ServerBin, "group-commit-max") {
		u, err := startTarget(ctx, cfg.ServerBin, append(args, "--group-commit-max", "1"), "")
		if err != nil {
			return err
		}
		defer func() { _ = stopTarget(u) }()
		ungrouped, how, unClients = endpointOf(u), "--group-commit-max 1", clients
	}
	var g, gtx, u, utx, one []float64
	for range groupCommitRounds {
		p := measure(ctx, cfg, grouped, s, clients, 0)
		g, gtx = append(g, p.OpsPerSec), append(gtx, p.Server.TxPerFsync)
		p = measure(ctx, cfg, ungrouped, s, unClients, 0)
		u, utx = append(u, p.OpsPerSec), append(utx, p.Server.TxPerFsync)
		if unClients != 1 {
			p = measure(ctx, cfg, grouped, s, 1, 0)
		}
		one = append(one, p.OpsPerSec)
	}
	gc := &GroupCommit{Scenario: s.Name, Clients: clients, Rounds: groupCommitRounds,
		GroupedOpsPerSec: median(g), GroupedTxPerFsync: median(gtx),
		UngroupedOpsPerSec: median(u), UngroupedTxPerFsync: median(utx), UngroupedHow: how,
		OneClientOpsPerSec: median(one)}
	if gc.UngroupedOpsPerSec > 0 {
		gc.Gain = gc.GroupedOpsPerSec / gc.UngroupedOpsPerSec
	}
	rep.GroupCommit = gc
	fmt.Fprintf(cfg.Progress, "group commit: %d clients %.0f PUT/s (%.1f tx/fsync) vs %.0f PUT/s (%.1f tx/fsync, %s): %.1fx (medians of %d alternating rounds)\n",
		clients, gc.GroupedOpsPerSec, gc.GroupedTxPerFsync, gc.UngroupedOpsPerSec, gc.UngroupedTxPerFsync, gc.UngroupedHow, gc.Gain, gc.Rounds)
	return nil
}
