package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// memory stores a data set of small and one of large values twice, each
// time in a fresh server, and compares its RSS growth with the bytes stored
// and with the server's own accounting (kvserver_dataset_bytes), the figure
// --max-memory limits:
//
//   - without --max-memory, where the Go runtime paces its GC as it likes;
//   - at --max-memory: the limit is set to what the first server accounted
//     for the same keys, with --eviction lru, and a tenth more keys are
//     written after the data set is in, so the server runs full and evicts.
//     This is the case --max-memory is for: what the process costs when the
//     limit is reached.
func memory(ctx context.Context, cfg Config, rep *Report) error {
	cases := []struct {
		name       string
		keys, size int
	}{
		{"small values (100 B)", cfg.MemorySmallKeys, 100},
		{"large values (1 MiB)", cfg.MemoryLargeKeys, 1 << 20},
	}
	for _, mc := range cases {
		if mc.keys <= 0 {
			continue
		}
		free, err := memoryOne(ctx, cfg, mc.name+", no --max-memory", mc.keys, mc.size, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", mc.name, err)
		}
		rep.Memory = append(rep.Memory, free)
		printMemory(cfg, free)
		if free.Accounted <= 0 {
			fmt.Fprintf(cfg.Progress, "memory    %s: the server accounts no dataset bytes; no run at --max-memory\n", mc.name)
			continue
		}
		full, err := memoryOne(ctx, cfg, mc.name+", at --max-memory", mc.keys, mc.size, free.Accounted)
		if err != nil {
			return fmt.Errorf("%s at --max-memory: %w", mc.name, err)
		}
		rep.Memory = append(rep.Memory, full)
		printMemory(cfg, full)
	}
	return nil
}

func printMemory(cfg Config, m Memory) {
	fmt.Fprintf(cfg.Progress, "memory    %-38s stored %7.1f MiB  RSS +%7.1f MiB (%.2f B/B)  accounted %7.1f MiB (%+.0f%% vs RSS growth)  overwrites %.0f/s at %d clients, RSS then %.1f MiB\n",
		m.Name, mib(m.StoredBytes), mib(m.RSSGrowth), m.RSSPerByte, mib(m.Accounted), m.AccountingError*100,
		m.OverwriteOpsPerSec, m.OverwriteClients, mib(m.RSSUnderLoad))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// memoryOne fills keys keys of size bytes into a fresh server and measures
// it. With maxMemory 0 the server gets no --max-memory; otherwise it gets
// that limit with --eviction lru, and a tenth more keys are written after
// the first ones, so that it ends full, evicting.
func memoryOne(ctx context.Context, cfg Config, name string, keys, size int, maxMemory int64) (Memory, error) {
	m := Memory{Name: name, Keys: keys, ValueSize: size, MaxMemory: maxMemory}
	args := []string{"--sync", "never", "--log-level", "warn"}
	if maxMemory > 0 {
		args = append(args, "--max-memory", strconv.FormatInt(maxMemory, 10), "--eviction", "lru")
	}
	t, err := startTarget(ctx, cfg.ServerBin, append(args, cfg.ServerArgs...), "")
	if err != nil {
		return m, err
	}
	defer func() { _ = stopTarget(t) }()
	c := httpClient()
	defer c.CloseIdleConnections()
	base, pid := t.BaseURL(), t.Pid()
	before, err := metrics(ctx, c, base)
	if err != nil {
		return m, err
	}
	if m.RSSBefore, err = procRSS(pid); err != nil {
		return m, err
	}
	fillAll := func(prefix string, n int) error {
		if size >= 64<<10 {
			return fillPuts(ctx, c, base, prefix, n, size)
		}
		return fill(ctx, c, base, prefix, n, size, 1)
	}
	if err := fillAll("m", keys); err != nil {
		return m, err
	}
	written, total := storedBytes("m", keys, size), keys
	if maxMemory > 0 {
		extra := max(keys/10, 1)
		if err := fillAll("n", extra); err != nil {
			return m, err
		}
		written += storedBytes("n", extra, size)
		total += extra
	}
	m.RSSAfter, err = settledRSS(ctx, pid)
	if err != nil {
		return m, err
	}
	after, err := metrics(ctx, c, base)
	if err != nil {
		return m, err
	}
	// What the data set costs in throughput: overwrites of the stored keys
	// (the data set stays the same size), where the GC has the least room
	// at --max-memory.
	clients := 64
	if size >= 64<<10 {
		clients = 8
	}
	sc := Scenario{Name: "overwrite", prefix: "m", newOp: putOp("m", size, keys)}
	p := measure(ctx, cfg, endpoint{base: base, pid: pid}, sc, clients, 0)
	m.OverwriteClients, m.OverwriteOpsPerSec = clients, p.OpsPerSec
	if m.RSSUnderLoad, err = procRSS(pid); err != nil {
		return m, err
	}
	m.Keys, m.StoredBytes = total, written
	if n, ok := after["kvserver_keys"]; ok && maxMemory > 0 {
		// Evicted keys are no longer stored: scale by the share left.
		m.Keys = int(n)
		m.StoredBytes = int64(float64(written) * n / float64(total))
	}
	m.Evictions = int64(after["kvserver_evictions_total"] - before["kvserver_evictions_total"])
	m.RSSGrowth = m.RSSAfter - m.RSSBefore
	m.HeapGrowth = int64(after["go_memstats_heap_alloc_bytes"] - before["go_memstats_heap_alloc_bytes"])
	m.Accounted = int64(after["kvserver_dataset_bytes"] - before["kvserver_dataset_bytes"])
	if m.StoredBytes > 0 {
		m.RSSPerByte = float64(m.RSSGrowth) / float64(m.StoredBytes)
	}
	if m.RSSGrowth > 0 {
		m.AccountingError = float64(m.Accounted-m.RSSGrowth) / float64(m.RSSGrowth)
	}
	return m, nil
}

// storedBytes is the key and value bytes of keys prefix-0..prefix-(n-1).
func storedBytes(prefix string, n, size int) int64 {
	var b int64
	for i := range n {
		b += int64(len(prefix)+1+len(strconv.Itoa(i))) + int64(size)
	}
	return b
}

// settledRSS samples pid's RSS for two seconds after a load, giving the Go
// runtime's background scavenger time to return freed memory, and returns
// the last sample. This is a measurement window, not a wait for a state.
func settledRSS(ctx context.Context, pid int) (int64, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var rss int64
	for range 8 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		r, err := procRSS(pid)
		if err != nil {
			return 0, err
		}
		rss = r
	}
	return rss, nil
}

// fillPuts writes keys prefix-0..prefix-(n-1) with one PUT each, from 4
// clients (large values do not fit a batch body).
func fillPuts(ctx context.Context, c *http.Client, base, prefix string, n, size int) error {
	body := value(size)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				if err := putKey(ctx, c, base, fmt.Sprintf("%s-%d", prefix, i), body); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
