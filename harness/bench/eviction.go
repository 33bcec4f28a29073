package bench

import (
	"context"
	"fmt"
	"slices"
)

// evictionLimit is the --max-memory of the eviction points: well under the
// put-100b key space (10,000 keys of about 270 accounted bytes each), so
// nearly every write of an absent key evicts another one.
const evictionLimit = "1MiB"

// eviction measures 100 B PUTs of absent keys under --sync never at the
// memory limit with each evicting policy, over the concurrency sweep: every
// write evicts. The sweep's put-100b
// points under --sync never, without a limit, are the reference.
func eviction(ctx context.Context, cfg Config, rep *Report) error {
	all := Scenarios()
	s := all[slices.IndexFunc(all, func(s Scenario) bool { return s.Name == "put-100b" })]
	for _, policy := range []string{"lru", "lfu"} {
		args := append([]string{"--sync", "never", "--log-level", "warn", "--max-memory", evictionLimit, "--eviction", policy}, cfg.ServerArgs...)
		t, err := startTarget(ctx, cfg.ServerBin, args, "")
		if err != nil {
			return fmt.Errorf("%s: %w", policy, err)
		}
		// Fill the key space first, so the store is at the limit from the
		// first measured write on.
		c := httpClient()
		err = fill(ctx, c, t.BaseURL(), s.prefix, s.Keys, s.ValueSize, 1)
		c.CloseIdleConnections()
		if err != nil {
			_ = stopTarget(t)
			return fmt.Errorf("%s: %w", policy, err)
		}
		for _, n := range cfg.Concurrency {
			// Each point writes keys of its own, which the store does not
			// hold (it holds about a third of a key space), so every
			// write evicts: the same keys as the point before would be
			// overwrites of present keys when that point got as far.
			ps := s
			ps.prefix = fmt.Sprintf("%s-c%d", s.prefix, n)
			ps.newOp = putOp(ps.prefix, s.ValueSize, s.Keys)
			p := measure(ctx, cfg, endpointOf(t), ps, n, 0)
			p.Target, p.Sync, p.Eviction = "kvserver", "never", policy
			rep.add(cfg.Progress, p)
		}
		if err := stopTarget(t); err != nil {
			return fmt.Errorf("%s: %w", policy, err)
		}
	}
	return nil
}
