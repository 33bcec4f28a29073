package gen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// exampleServers are the kvserver configurations the examples run against.
// "default" has small limits so the 413 examples stay short; "auth" needs a
// token; "tight" has a tiny memory limit and no eviction.
var exampleServers = map[string][]string{
	"default": {"--sync", "always", "--max-value-size", "1KiB", "--max-batch-ops", "4"},
	"auth":    {"--auth-token", "s3cret"},
	"tight":   {"--max-memory", "1KiB", "--eviction", "noeviction"},
}

// scenarios are the requests captured for docs/api.md, in the order they
// run; each server starts on an empty data dir, so revisions are the same
// on every capture.
var scenarios = []Example{
	{ID: "healthz", Op: "healthz", Title: "Liveness", Method: "GET", Path: "/healthz"},
	{ID: "readyz", Op: "readyz", Title: "Readiness", Method: "GET", Path: "/readyz"},
	{ID: "version", Op: "version", Title: "Version", Method: "GET", Path: "/api/v1/version"},
	{ID: "put-created", Op: "putKey", Title: "Create a key (201)", Method: "PUT", Path: "/api/v1/kv/greeting",
		Header: []Header{{"Content-Type", "text/plain"}}, Body: "hello, world"},
	{ID: "put-overwrite", Op: "putKey", Title: "Overwrite it (200)", Method: "PUT", Path: "/api/v1/kv/greeting",
		Header: []Header{{"Content-Type", "text/plain"}}, Body: "hello again"},
	{ID: "put-ttl", Op: "putKey", Title: "A key with a TTL; keys may contain /", Method: "PUT", Path: "/api/v1/kv/session/42?ttl=90s",
		Header: []Header{{"Content-Type", "application/octet-stream"}}, Body: "token-abc"},
	{ID: "put-if-match", Op: "putKey", Title: "Compare-and-set with If-Match", Method: "PUT", Path: "/api/v1/kv/greeting",
		Header: []Header{{"Content-Type", "text/plain"}, {"If-Match", `"2"`}}, Body: "hello, CAS"},
	{ID: "put-if-match-failed", Op: "putKey", Title: "If-Match with a stale revision: 412 PRECONDITION_FAILED", Method: "PUT", Path: "/api/v1/kv/greeting",
		Header: []Header{{"If-Match", `"2"`}}, Body: "lost update"},
	{ID: "put-if-none-match-failed", Op: "putKey", Title: "If-None-Match: * on an existing key: 412 PRECONDITION_FAILED", Method: "PUT", Path: "/api/v1/kv/greeting",
		Header: []Header{{"If-None-Match", "*"}}, Body: "create only"},
	{ID: "put-invalid-ttl", Op: "putKey", Title: "A bad TTL: 400 INVALID_TTL", Method: "PUT", Path: "/api/v1/kv/k?ttl=1e30", Body: "v"},
	{ID: "put-invalid-key", Op: "putKey", Title: "A key that is not UTF-8: 400 INVALID_KEY", Method: "PUT", Path: "/api/v1/kv/%FF", Body: "v"},
	{ID: "put-invalid-request", Op: "putKey", Title: "If-Match: * is refused: 400 INVALID_REQUEST", Method: "PUT", Path: "/api/v1/kv/greeting",
		Header: []Header{{"If-Match", "*"}}, Body: "v"},
	{ID: "put-too-large", Op: "putKey", Title: "A value over --max-value-size (1KiB here): 413 PAYLOAD_TOO_LARGE", Method: "PUT", Path: "/api/v1/kv/big", Zeros: 2048},
	{ID: "get", Op: "getKey", Title: "Read a key", Method: "GET", Path: "/api/v1/kv/greeting"},
	{ID: "get-ttl", Op: "getKey", Title: "Read a key with a TTL", Method: "GET", Path: "/api/v1/kv/session/42"},
	{ID: "get-not-modified", Op: "getKey", Title: "If-None-Match with the current ETag: 304", Method: "GET", Path: "/api/v1/kv/greeting",
		Header: []Header{{"If-None-Match", `"4"`}}},
	{ID: "get-not-found", Op: "getKey", Title: "A missing key: 404 KEY_NOT_FOUND", Method: "GET", Path: "/api/v1/kv/missing"},
	{ID: "head", Op: "headKey", Title: "Headers only", Method: "HEAD", Path: "/api/v1/kv/greeting"},
	{ID: "head-not-found", Op: "headKey", Title: "A missing key: 404, no body", Method: "HEAD", Path: "/api/v1/kv/missing"},
	{ID: "batch", Op: "batch", Title: "An atomic batch", Method: "POST", Path: "/api/v1/kv/batch",
		Header: []Header{{"Content-Type", "application/json"}},
		Body:   `{"ops":[{"op":"check","key":"greeting","revision":4},{"op":"set","key":"user/1","value":"ada"},{"op":"get","key":"user/1"},{"op":"delete","key":"absent"}]}`},
	{ID: "batch-invalid", Op: "batch", Title: "A malformed op: 400 INVALID_BATCH, nothing applied", Method: "POST", Path: "/api/v1/kv/batch",
		Header: []Header{{"Content-Type", "application/json"}},
		Body:   `{"ops":[{"op":"set","key":"a","value":"1"},{"op":"set","key":"b"}]}`},
	{ID: "batch-condition-failed", Op: "batch", Title: "A failed check: 409 BATCH_CONDITION_FAILED, nothing applied", Method: "POST", Path: "/api/v1/kv/batch",
		Header: []Header{{"Content-Type", "application/json"}},
		Body:   `{"ops":[{"op":"set","key":"user/2","value":"grace"},{"op":"check","key":"greeting","revision":1}]}`},
	{ID: "batch-too-many-ops", Op: "batch", Title: "More ops than --max-batch-ops (4 here): 413 PAYLOAD_TOO_LARGE", Method: "POST", Path: "/api/v1/kv/batch",
		Header: []Header{{"Content-Type", "application/json"}},
		Body:   `{"ops":[{"op":"get","key":"a"},{"op":"get","key":"b"},{"op":"get","key":"c"},{"op":"get","key":"d"},{"op":"get","key":"e"}]}`},
	{ID: "list", Op: "listKeys", Title: "The first page of keys", Method: "GET", Path: "/api/v1/kv?limit=2"},
	{ID: "list-next", Op: "listKeys", Title: "The next page", Method: "GET", Path: "/api/v1/kv?limit=2&after=session/42"},
	{ID: "list-prefix", Op: "listKeys", Title: "Keys with a prefix", Method: "GET", Path: "/api/v1/kv?prefix=user/"},
	{ID: "list-invalid", Op: "listKeys", Title: "A bad limit: 400 INVALID_REQUEST", Method: "GET", Path: "/api/v1/kv?limit=0"},
	{ID: "delete", Op: "deleteKey", Title: "Delete a key", Method: "DELETE", Path: "/api/v1/kv/user/1"},
	{ID: "delete-not-found", Op: "deleteKey", Title: "A missing key: 404 KEY_NOT_FOUND", Method: "DELETE", Path: "/api/v1/kv/user/1"},
	{ID: "delete-if-match-failed", Op: "deleteKey", Title: "If-Match with a stale revision: 412 PRECONDITION_FAILED", Method: "DELETE", Path: "/api/v1/kv/greeting",
		Header: []Header{{"If-Match", `"1"`}}},
	{ID: "metrics", Op: "metrics", Title: "A few series after the requests above", Method: "GET", Path: "/metrics",
		Grep: `^kvserver_(ready|keys|revision|commits_total|dataset_bytes) `},
	{ID: "route-not-found", Op: "unmatched", Title: "An unknown path: 404 ROUTE_NOT_FOUND", Method: "GET", Path: "/nope"},
	{ID: "unsupported-api-version", Op: "unmatched", Title: "Another API version: 404 UNSUPPORTED_API_VERSION", Method: "GET", Path: "/api/v2/kv/greeting"},
	{ID: "method-not-allowed", Op: "unmatched", Title: "A method the path does not have: 405 METHOD_NOT_ALLOWED", Method: "POST", Path: "/api/v1/kv/greeting"},
	{ID: "unauthorized", Op: "getKey", Server: "auth", Title: "No token while --auth-token is set: 401 UNAUTHORIZED", Method: "GET", Path: "/api/v1/kv/greeting"},
	{ID: "authorized", Op: "getKey", Server: "auth", Title: "With the token", Method: "GET", Path: "/api/v1/kv/greeting",
		Header: []Header{{"Authorization", "Bearer s3cret"}}},
	{ID: "memory-limit", Op: "putKey", Server: "tight", Title: "Over --max-memory with --eviction noeviction: 507 MEMORY_LIMIT", Method: "PUT", Path: "/api/v1/kv/big", Zeros: 2048},
}

// Capture starts kvserver (bin) once per server configuration on an empty
// temporary data dir, sends every scenario, and returns the normalised
// examples. The servers are stopped with SIGTERM and their data dirs
// removed before it returns.
func Capture(ctx context.Context, bin string) (*Examples, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out := &Examples{
		Note:    "Captured by `kvchaos docs` from a live kvserver; request ids, times, TTLs left and build facts are normalised so regenerating changes nothing.",
		Servers: exampleServers,
	}
	names := make([]string, 0, len(exampleServers))
	for n := range exampleServers {
		names = append(names, n)
	}
	sort.Strings(names)
	got := map[string]Example{}
	for _, name := range names {
		metrics, err := captureOn(ctx, bin, name, got)
		if err != nil {
			return nil, err
		}
		if name == "default" {
			out.Metrics = metrics
		}
	}
	for _, s := range scenarios {
		out.Examples = append(out.Examples, got[s.ID])
	}
	flags, err := serverFlags(ctx, bin)
	if err != nil {
		return nil, err
	}
	out.Flags = flags
	return out, nil
}

// serverFlags runs `bin -h` and parses the flag list Go's flag package
// prints: "  -name type" then an indented usage line.
func serverFlags(ctx context.Context, bin string) ([]Flag, error) {
	out, err := exec.CommandContext(ctx, bin, "-h").Output()
	if err != nil {
		return nil, fmt.Errorf("%s -h: %w", bin, err)
	}
	var flags []Flag
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "  -"):
			name, _, _ := strings.Cut(strings.TrimPrefix(l, "  -"), " ")
			flags = append(flags, Flag{Name: name})
		case strings.HasPrefix(l, "    \t") && len(flags) > 0:
			f := &flags[len(flags)-1]
			f.Usage = strings.TrimSpace(f.Usage + " " + strings.TrimSpace(l))
		}
	}
	if len(flags) == 0 {
		return nil, fmt.Errorf("%s -h printed no flags", bin)
	}
	return flags, nil
}

// captureOn runs the scenarios of one server configuration, then reads
// the kvserver_* series from its /metrics.
func captureOn(ctx context.Context, bin, name string, got map[string]Example) ([]Metric, error) {
	dir, err := os.MkdirTemp("", "kvchaos-docs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json"}, exampleServers[name]...)
	srv, err := startServer(ctx, bin, args)
	if err != nil {
		return nil, fmt.Errorf("start %s server: %w", name, err)
	}
	defer srv.stop()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, Proxy: nil}, Timeout: 10 * time.Second}
	for _, s := range scenarios {
		server := s.Server
		if server == "" {
			server = "default"
		}
		if server != name {
			continue
		}
		s.Server = server
		ex, err := send(ctx, srv.base, srv.started, s)
		if err != nil {
			return nil, fmt.Errorf("example %s: %w", s.ID, err)
		}
		got[s.ID] = ex
	}
	return scrapeMetrics(ctx, client, srv.base)
}

// scrapeMetrics reads the HELP and TYPE lines of the kvserver_* families.
func scrapeMetrics(ctx context.Context, client *http.Client, base string) ([]Metric, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	byName := map[string]*Metric{}
	var order []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		if len(f) < 4 || f[0] != "#" || !strings.HasPrefix(f[2], "kvserver_") {
			continue
		}
		m := byName[f[2]]
		if m == nil {
			m = &Metric{Name: f[2]}
			byName[f[2]] = m
			order = append(order, f[2])
		}
		switch f[1] {
		case "HELP":
			m.Help = f[3]
		case "TYPE":
			m.Type = f[3]
		}
	}
	sort.Strings(order)
	out := make([]Metric, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, sc.Err()
}

// send runs the example's curl command against the server at base and
// fills in the normalised response from what curl printed.
func send(ctx context.Context, base string, started time.Time, ex Example) (Example, error) {
	addr := strings.TrimPrefix(base, "http://")
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", ex.curl(addr))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && !(ex.Grep != "" && len(out) > 0) {
		return ex, fmt.Errorf("%s: %w: %s", ex.curl(addr), err, strings.TrimSpace(stderr.String()))
	}
	n := normaliser{started: started}
	if ex.Grep != "" {
		ex.Status = http.StatusOK
		ex.RespBody = n.body(string(out))
		return ex, nil
	}
	head, body, _ := strings.Cut(string(out), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	f := strings.Fields(lines[0])
	if len(f) < 2 {
		return ex, fmt.Errorf("curl printed no status line: %q", lines[0])
	}
	if ex.Status, err = strconv.Atoi(f[1]); err != nil {
		return ex, fmt.Errorf("status line %q: %w", lines[0], err)
	}
	h := http.Header{}
	for _, l := range lines[1:] {
		if name, v, ok := strings.Cut(l, ":"); ok {
			h[name] = append(h[name], strings.TrimSpace(v))
		}
	}
	ex.RespBody = n.body(body)
	ex.RespHeader = n.headers(h, len(ex.RespBody), ex.Method == http.MethodHead)
	return ex, nil
}

// normaliser replaces the volatile parts of a response with fixed values.
type normaliser struct{ started time.Time }

// Fixed values that stand in for volatile ones.
const (
	fixedRequestID = "5f2c8e1a9b3d4c70"
	fixedVersion   = "v1.0.0"
	fixedCommit    = "0123456789ab"
	fixedBuildTime = "2026-01-01T00:00:00Z"
)

// fixedStart is the server start time the examples are shifted to.
var fixedStart = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

var (
	reRequestID = regexp.MustCompile(`"request_id":"[^"]*"`)
	reTime      = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reUptime    = regexp.MustCompile(`"uptime_seconds":[0-9.eE+-]+`)
	reGoVersion = regexp.MustCompile(`"go_version":"go(\d+\.\d+)[^"]*"`)
)

// body normalises a response body.
func (n normaliser) body(s string) string {
	s = reRequestID.ReplaceAllString(s, `"request_id":"`+fixedRequestID+`"`)
	s = reUptime.ReplaceAllString(s, `"uptime_seconds":1.5`)
	s = reGoVersion.ReplaceAllString(s, `"go_version":"go$1"`)
	for field, v := range map[string]string{"version": fixedVersion, "commit": fixedCommit, "build_time": fixedBuildTime} {
		s = regexp.MustCompile(`"`+field+`":"[^"]*"`).ReplaceAllString(s, `"`+field+`":"`+v+`"`)
	}
	return reTime.ReplaceAllStringFunc(s, n.time)
}

// timeGrain is what times relative to the server's start are rounded to:
// coarse enough that a slow machine (a put 2 s after the start) still
// gives the same page, fine enough to show a 90 s TTL as 90 s.
const timeGrain = 10 * time.Second

// time shifts a timestamp to the fixed clock: the server's start becomes
// fixedStart, the expiry of a 90s TTL fixedStart+90s.
func (n normaliser) time(s string) string {
	if s == fixedBuildTime {
		return s
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	out := fixedStart.Add(t.Sub(n.started).Round(timeGrain))
	if strings.Contains(s, ".") {
		return out.Format("2006-01-02T15:04:05.000000000Z07:00")
	}
	return out.Format(time.RFC3339)
}

// headers keeps the response headers curl -i would show, normalised,
// sorted, without Date; Content-Length is recomputed for a normalised body.
func (n normaliser) headers(h http.Header, bodyLen int, head bool) []Header {
	var out []Header
	for name, vs := range h {
		for _, v := range vs {
			switch name {
			case "Date":
				continue
			case "X-Request-Id":
				v = fixedRequestID
			case "X-Kv-Ttl-Ms":
				if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
					grain := timeGrain.Milliseconds()
					v = strconv.FormatInt((ms+grain/2)/grain*grain, 10)
				}
			case "X-Kv-Expires-At":
				v = n.time(v)
			case "Content-Length":
				if !head && bodyLen > 0 {
					v = strconv.Itoa(bodyLen)
				}
			}
			out = append(out, Header{Name: name, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// server is a kvserver process started for capturing.
type server struct {
	cmd     *exec.Cmd
	base    string
	started time.Time
	done    chan struct{}
}

// startServer starts bin with args and returns once it printed its
// "kvserver listening on" line.
func startServer(ctx context.Context, bin string, args []string) (*server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KVCHAOS_OWNER=docs")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, started: started, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "kvserver listening on "); ok {
				lines <- addr
			}
		}
		close(lines)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case addr, ok := <-lines:
		if ok {
			s.base = strings.TrimSpace(addr)
			return s, nil
		}
		<-s.done
		return nil, fmt.Errorf("%s exited before listening: %s", bin, strings.TrimSpace(stderr.String()))
	case <-ctx.Done():
		s.stop()
		return nil, fmt.Errorf("%s did not print its listening line: %w", bin, ctx.Err())
	}
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
