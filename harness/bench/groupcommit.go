package bench

import (
	"context"
	"fmt"
	"slices"
)

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
	srv := endpointOf(t)
	one := measure(ctx, cfg, srv, s, 1, 0)
	grouped := measure(ctx, cfg, srv, s, clients, 0)
	if err := stopTarget(t); err != nil {
		return err
	}
	gc := &GroupCommit{Scenario: s.Name, Clients: clients,
		GroupedOpsPerSec: grouped.OpsPerSec, GroupedTxPerFsync: grouped.Server.TxPerFsync,
		OneClientOpsPerSec: one.OpsPerSec,
		UngroupedOpsPerSec: one.OpsPerSec, UngroupedTxPerFsync: one.Server.TxPerFsync,
		UngroupedHow: "1 client (the server has no --group-commit-max flag)"}
	if supportsFlag(ctx, cfg.ServerBin, "group-commit-max") {
		t, err := startTarget(ctx, cfg.ServerBin, append(args, "--group-commit-max", "1"), "")
		if err != nil {
			return err
		}
		un := measure(ctx, cfg, endpointOf(t), s, clients, 0)
		if err := stopTarget(t); err != nil {
			return err
		}
		gc.UngroupedOpsPerSec, gc.UngroupedTxPerFsync = un.OpsPerSec, un.Server.TxPerFsync
		gc.UngroupedHow = "--group-commit-max 1"
	}
	if gc.UngroupedOpsPerSec > 0 {
		gc.Gain = gc.GroupedOpsPerSec / gc.UngroupedOpsPerSec
	}
	rep.GroupCommit = gc
	fmt.Fprintf(cfg.Progress, "group commit: %d clients %.0f PUT/s (%.1f tx/fsync) vs %.0f PUT/s (%.1f tx/fsync, %s): %.1fx\n",
		clients, gc.GroupedOpsPerSec, gc.GroupedTxPerFsync, gc.UngroupedOpsPerSec, gc.UngroupedTxPerFsync, gc.UngroupedHow, gc.Gain)
	return nil
}
