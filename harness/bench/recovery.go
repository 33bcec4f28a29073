package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/load"
)

// recoveryRuns is how many restarts each recovery point times.
const recoveryRuns = 3

// recovery times restarts on data dirs of each size, and of one size after
// many overwrites (where a server without compaction replays its history).
func recovery(ctx context.Context, cfg Config, rep *Report) error {
	type rcase struct {
		name       string
		keys, reps int
	}
	var cases []rcase
	for _, n := range cfg.RecoveryKeys {
		cases = append(cases, rcase{keyCount(n) + " keys", n, 1})
	}
	if cfg.Overwrites > 1 && len(cfg.RecoveryKeys) > 0 {
		n := cfg.RecoveryKeys[0]
		if i := slices.IndexFunc(cfg.RecoveryKeys, func(k int) bool { return k > 10_000 }); i >= 0 {
			n = cfg.RecoveryKeys[i]
		}
		cases = append(cases, rcase{fmt.Sprintf("%s keys × %d writes", keyCount(n), cfg.Overwrites), n, cfg.Overwrites})
	}
	for _, rc := range cases {
		r, err := recoverOne(ctx, cfg, rc.name, rc.keys, rc.reps)
		if err != nil {
			return fmt.Errorf("%s: %w", rc.name, err)
		}
		rep.Recovery = append(rep.Recovery, r)
		fmt.Fprintf(cfg.Progress, "recovery  %-24s data dir %7.1f MiB  listening %.3fs  ready %.3fs  (server load %.3fs)\n",
			r.Name, float64(r.DataDirBytes)/(1<<20), r.ListenSeconds, r.ReadySeconds, r.LoadSeconds)
	}
	return nil
}

func keyCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func recoverOne(ctx context.Context, cfg Config, name string, keys, reps int) (Recovery, error) {
	dir, err := os.MkdirTemp("", "kvchaos-bench-recovery-")
	if err != nil {
		return Recovery{}, err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"--sync", "never"}, cfg.ServerArgs...)
	t, err := startTarget(ctx, cfg.ServerBin, args, dir)
	if err != nil {
		return Recovery{}, err
	}
	c := httpClient()
	defer c.CloseIdleConnections()
	err = fill(ctx, c, t.BaseURL(), "r", keys, 100, reps)
	if serr := stopTarget(t); err == nil {
		err = serr
	}
	if err != nil {
		return Recovery{}, err
	}
	r := Recovery{Name: name, Keys: keys, ValueSize: 100, Writes: int64(keys) * int64(reps)}
	r.LogBytes, r.SnapshotBytes, r.DataDirBytes = dirBytes(dir)
	var listen, ready, loads []float64
	for range recoveryRuns {
		l, rd, ld, err := timeStart(ctx, cfg.ServerBin, args, dir)
		if err != nil {
			return r, err
		}
		listen, ready, loads = append(listen, l), append(ready, rd), append(loads, ld)
	}
	r.ListenSeconds, r.ReadySeconds, r.LoadSeconds = median(listen), median(ready), median(loads)
	r.Samples = ready
	return r, nil
}

// timeStart starts the server on dir and returns the seconds from exec to
// its listening line and to /readyz 200, and the load time it logged.
func timeStart(ctx context.Context, bin string, args []string, dir string) (listen, ready, load float64, err error) {
	w := &startWatch{}
	t, err := harness.NewTarget(harness.TargetConfig{Bin: bin, Args: args, DataDir: dir, Log: w, StartTimeout: 10 * time.Minute})
	if err != nil {
		return 0, 0, 0, err
	}
	w.t0 = time.Now()
	err = t.Start(ctx)
	ready = time.Since(w.t0).Seconds()
	if serr := stopTarget(t); err == nil {
		err = serr
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.listen, ready, w.load, err
}

// startWatch notes when the listening line arrives and the load_seconds
// kvserver logs with its "ready" line.
type startWatch struct {
	t0 time.Time

	mu     sync.Mutex
	listen float64
	load   float64
}

func (w *startWatch) Write(p []byte) (int, error) {
	line := string(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.Contains(line, "kvserver listening on ") && w.listen == 0 {
		w.listen = time.Since(w.t0).Seconds()
	}
	if _, rest, ok := strings.Cut(line, "load_seconds="); ok {
		if f := strings.Fields(strings.Trim(rest, `"`)); len(f) > 0 {
			w.load, _ = strconv.ParseFloat(strings.Trim(f[0], `",}`), 64)
		}
	}
	return len(p), nil
}

// crashCycle times SIGKILL → restart → read back on a small data set, the
// cycle a crash suite repeats.
func crashCycle(ctx context.Context, cfg Config, rep *Report) error {
	const keys, cycles = 1000, 20
	t, err := startTarget(ctx, cfg.ServerBin, cfg.ServerArgs, "")
	if err != nil {
		return err
	}
	defer func() { _ = stopTarget(t) }()
	c := load.NewHTTPClient(1, 10*time.Second)
	if err := fill(ctx, c, t.BaseURL(), "cc", keys, 100, 1); err != nil {
		return err
	}
	var took []float64
	for i := range cycles {
		start := time.Now()
		if err := t.Kill(); err != nil {
			return err
		}
		if err := t.Start(ctx); err != nil {
			return err
		}
		c.CloseIdleConnections()
		for k := range 10 {
			key := fmt.Sprintf("cc-%d", (i*97+k*101)%keys)
			if err := readBack(ctx, c, t.BaseURL(), key, 100); err != nil {
				return fmt.Errorf("cycle %d: %w", i, err)
			}
		}
		took = append(took, time.Since(start).Seconds())
	}
	slices.Sort(took)
	rep.CrashCycle = &CrashCycle{Keys: keys, Cycles: cycles, Median: median(took),
		P90: took[len(took)*9/10], Max: took[len(took)-1]}
	fmt.Fprintf(cfg.Progress, "crash cycle (kill, restart, read 10 of %d keys): median %.3fs p90 %.3fs\n", keys, rep.CrashCycle.Median, rep.CrashCycle.P90)
	return nil
}

// readBack GETs key and checks the value's length.
func readBack(ctx context.Context, c *http.Client, base, key string, size int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/kv/"+key, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || len(b) != size {
		return fmt.Errorf("read back %s: status %d, %d bytes (want %d)", key, resp.StatusCode, len(b), size)
	}
	return nil
}

// median of xs (0 for none); xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
