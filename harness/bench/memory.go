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

// memory stores a data set of small and one of large values in a fresh
// server and compares its RSS growth with the bytes stored and with the
// server's own accounting (kvserver_dataset_bytes), the figure --max-memory
// limits. The server runs with a --max-memory well above the data, so a
// server that derives a Go soft memory limit from it does so here too.
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
		m, err := memoryOne(ctx, cfg, mc.name, mc.keys, mc.size)
		if err != nil {
			return fmt.Errorf("%s: %w", mc.name, err)
		}
		rep.Memory = append(rep.Memory, m)
		fmt.Fprintf(cfg.Progress, "memory    %-22s stored %7.1f MiB  RSS +%7.1f MiB (%.2f B/B)  accounted %7.1f MiB (%+.0f%% vs RSS growth)\n",
			m.Name, mib(m.StoredBytes), mib(m.RSSGrowth), m.RSSPerByte, mib(m.Accounted), m.AccountingError*100)
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func memoryOne(ctx context.Context, cfg Config, name string, keys, size int) (Memory, error) {
	m := Memory{Name: name, Keys: keys, ValueSize: size}
	prefix := "m"
	for i := range keys {
		m.StoredBytes += int64(len(prefix)+1+len(strconv.Itoa(i))) + int64(size)
	}
	limit := 4*m.StoredBytes + 256<<20
	args := append([]string{"--sync", "never", "--log-level", "warn", "--max-memory", strconv.FormatInt(limit, 10)}, cfg.ServerArgs...)
	t, err := startTarget(ctx, cfg.ServerBin, args, "")
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
	if size >= 64<<10 {
		err = fillPuts(ctx, c, base, prefix, keys, size)
	} else {
		err = fill(ctx, c, base, prefix, keys, size, 1)
	}
	if err != nil {
		return m, err
	}
	m.RSSAfter, err = settledRSS(ctx, pid)
	if err != nil {
		return m, err
	}
	after, err := metrics(ctx, c, base)
	if err != nil {
		return m, err
	}
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
