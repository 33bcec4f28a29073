package bench

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// redisTests maps scenarios to redis-benchmark tests: the same shapes,
// measured by Redis's own tool, for reference. MSET of 10 keys stands for
// the 10-op batch; the 90/10 mix has no redis-benchmark equivalent.
var redisTests = map[string]struct {
	test string
	size int
	n    int
}{
	"get-hot":  {"get", 100, 100_000},
	"put-100b": {"set", 100, 100_000},
	"put-4k":   {"set", 4 << 10, 50_000},
	"put-1m":   {"set", 1 << 20, 500},
	"batch-10": {"mset", 100, 20_000},
}

// redisAppendFsync maps --sync policies to Redis's appendfsync.
var redisAppendFsync = map[string]string{"always": "always", "everysec": "everysec", "never": "no"}

// redisBench runs redis-benchmark against a redis-server with the
// append-only file under each sync policy, when both are installed. Their
// absence is a note, not an error.
func redisBench(ctx context.Context, cfg Config, scens []Scenario, rep *Report) error {
	server, err1 := exec.LookPath("redis-server")
	tool, err2 := exec.LookPath("redis-benchmark")
	if err1 != nil || err2 != nil {
		rep.Notes = append(rep.Notes, "redis-server/redis-benchmark not installed: no Redis reference figures")
		return nil
	}
	for _, policy := range cfg.Sync {
		if err := redisPolicy(ctx, cfg, server, tool, policy, scens, rep); err != nil {
			return err
		}
	}
	return nil
}

func redisPolicy(ctx context.Context, cfg Config, server, tool, policy string, scens []Scenario, rep *Report) error {
	dir, err := os.MkdirTemp("", "kvchaos-bench-redis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", redisAppendFsync[policy], "--dir", dir, "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := redisReady(ctx, addr); err != nil {
		return err
	}
	for _, s := range scens {
		rt, ok := redisTests[s.Name]
		if !ok || (!s.Writes && policy != cfg.Sync[0]) {
			continue
		}
		for _, n := range cfg.Concurrency {
			out, err := exec.CommandContext(ctx, tool, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-c", strconv.Itoa(n),
				"-n", strconv.Itoa(rt.n), "-d", strconv.Itoa(rt.size), "-t", rt.test, "--csv").Output()
			if err != nil {
				return fmt.Errorf("redis-benchmark %s: %w", rt.test, err)
			}
			rows, err := parseRedisCSV(strings.NewReader(string(out)))
			if err != nil {
				return err
			}
			for _, r := range rows {
				r.Scenario, r.Sync, r.Clients = s.Name, policy, n
				rep.Redis = append(rep.Redis, r)
				fmt.Fprintf(cfg.Progress, "redis     %-10s %-8s c=%-3d %9.0f ops/s (%s)\n", s.Name, policy, n, r.OpsPerSec, r.Test)
			}
		}
	}
	return nil
}

// parseRedisCSV reads redis-benchmark --csv output: with a header line
// ("test","rps","avg_latency_ms",...,"p50_latency_ms",...) since Redis 7,
// or bare "TEST","rps" lines before.
func parseRedisCSV(r io.Reader) ([]RedisPoint, error) {
	rd := csv.NewReader(r)
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark csv: %w", err)
	}
	p50 := -1
	var out []RedisPoint
	for _, rec := range recs {
		if len(rec) < 2 {
			continue
		}
		if rec[0] == "test" {
			for i, h := range rec {
				if h == "p50_latency_ms" {
					p50 = i
				}
			}
			continue
		}
		rps, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			continue
		}
		p := RedisPoint{Test: rec[0], OpsPerSec: rps}
		if p50 >= 0 && p50 < len(rec) {
			if ms, err := strconv.ParseFloat(rec[p50], 64); err == nil {
				p.P50 = ms * 1000
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("redis-benchmark csv: no results")
	}
	return out, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// redisReady sends PING until redis answers PONG.
func redisReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(conn).ReadString('\n')
			_ = conn.Close()
			if strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
