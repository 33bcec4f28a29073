package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/kvchaos/kvchaos/harness"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// startTarget starts bin (kvserver or the baseline) on 127.0.0.1:0 with a
// fresh temp data dir, or dir when given.
func startTarget(ctx context.Context, bin string, args []string, dir string) (*harness.Target, error) {
	return startWith(ctx, harness.TargetConfig{Bin: bin, Args: args, DataDir: dir, StartTimeout: 10 * time.Minute})
}

// startWith starts a target as cfg says; a target that does not come up is
// cleaned up.
func startWith(ctx context.Context, cfg harness.TargetConfig) (*harness.Target, error) {
	t, err := harness.NewTarget(cfg)
	if err != nil {
		return nil, err
	}
	if err := t.Start(ctx); err != nil {
		_ = t.Cleanup(false)
		return nil, err
	}
	return t, nil
}

// stopTarget stops t with SIGTERM and removes its temp data dir.
func stopTarget(t *harness.Target) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := t.Stop(ctx)
	if cerr := t.Cleanup(false); err == nil {
		err = cerr
	}
	return err
}

// metrics reads the unlabelled series of a Prometheus text page; labelled
// series are summed under their bare name.
func metrics(ctx context.Context, c *http.Client, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: status %d", resp.StatusCode)
	}
	return parseMetrics(bufio.NewScanner(resp.Body))
}

func parseMetrics(sc *bufio.Scanner) (map[string]float64, error) {
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	out := map[string]float64{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			if j := strings.LastIndexByte(line, '}'); j > i {
				name, rest = line[:i], strings.TrimSpace(line[j+1:])
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return out, nil
}

// procCPU is the CPU time (user + system) pid has used, in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields start after its ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, _ := strconv.ParseFloat(fields[11], 64)
	k, _ := strconv.ParseFloat(fields[12], 64)
	return (u + k) / clockTicks, nil
}

// procRSS is pid's resident set size in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// version reads the server's /api/v1/version document (nil on failure:
// another server may not have it).
func version(ctx context.Context, c *http.Client, base string) map[string]any {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/version", nil)
	if err != nil {
		return nil
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var v map[string]any
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return nil
	}
	return v
}

// supportsFlag reports whether bin's --help mentions the flag name.
func supportsFlag(ctx context.Context, bin, name string) bool {
	out, _ := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	return strings.Contains(string(out), "-"+name)
}

// dirBytes sums the sizes of the regular files in dir (not recursive) by
// kind: write-ahead log segments, snapshots and everything else.
func dirBytes(dir string) (logs, snaps, total int64) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, 0
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		n := info.Size()
		total += n
		switch {
		case strings.HasSuffix(e.Name(), ".log"):
			logs += n
		case strings.HasSuffix(e.Name(), ".snap"):
			snaps += n
		}
	}
	return logs, snaps, total
}
