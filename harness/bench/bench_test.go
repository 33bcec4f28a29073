package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness/load"
)

// TestBlackBox enforces that the load generator and the bench reach the
// server only as a process: neither may import anything under server/.
func TestBlackBox(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "github.com/kvchaos/kvchaos/harness/bench", "github.com/kvchaos/kvchaos/harness/load").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/kvchaos/kvchaos/server") {
			t.Errorf("harness/bench or harness/load depends on %s", pkg)
		}
	}
}

func TestBaselineAnswersEveryScenario(t *testing.T) {
	srv := httptest.NewServer(BaselineHandler())
	defer srv.Close()
	c := load.NewHTTPClient(2, 5*time.Second)
	raw, err := load.NewRaw(srv.URL, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			op := s.newOp(raw)
			for seq := range int64(20) {
				if err := op(context.Background(), 0, seq); err != nil {
					t.Fatalf("seq %d: %v", seq, err)
				}
			}
		})
	}
	tests := []struct {
		method, path string
		status       int
		bodyLen      int
	}{
		{http.MethodGet, "/api/v1/kv/any", 200, 100},
		{http.MethodGet, "/readyz", 200, -1},
		{http.MethodDelete, "/api/v1/kv/any", 404, -1},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.bodyLen >= 0 && len(b) != tc.bodyLen) {
			t.Errorf("%s %s: %d with %d bytes, want %d", tc.method, tc.path, resp.StatusCode, len(b), tc.status)
		}
	}
}

// TestMeasureCountsFailures plants a target that refuses every request: the
// point must show the errors, not a throughput.
func TestMeasureCountsFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "disk full", http.StatusInsufficientStorage)
	}))
	defer srv.Close()
	s := Scenarios()[1] // put-100b
	p := measure(context.Background(), Config{Duration: 50 * time.Millisecond, Client: "raw"}, endpoint{base: srv.URL}, s, 2, 0)
	if p.Ops != 0 || p.Errors == 0 || !strings.Contains(p.FirstError, "507") {
		t.Errorf("ops %d errors %d first %q", p.Ops, p.Errors, p.FirstError)
	}
}

func TestBatchBodyIsValidJSON(t *testing.T) {
	var batch struct {
		Ops []struct{ Op, Key, Value string }
	}
	b := batchBody("batch", 7, 10, 10000, string(value(100)))
	if err := json.Unmarshal(b, &batch); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if len(batch.Ops) != 10 || batch.Ops[0].Op != "set" || len(batch.Ops[9].Value) != 100 || !strings.HasPrefix(batch.Ops[3].Key, "batch-") {
		t.Errorf("batch %+v", batch.Ops[0])
	}
}

func TestParseMetrics(t *testing.T) {
	page := `# HELP kvserver_commits_total x
# TYPE kvserver_commits_total counter
kvserver_commits_total 1234
kvserver_dataset_bytes 5.5e+06
kvserver_http_requests_total{code="200",route="/a"} 3
kvserver_http_requests_total{code="500",route="/a"} 4
garbage line
`
	m, err := parseMetrics(bufio.NewScanner(strings.NewReader(page)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"kvserver_commits_total": 1234, "kvserver_dataset_bytes": 5.5e6, "kvserver_http_requests_total": 7}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

func TestParseRedisCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		rps  float64
		p50  float64
	}{
		{"redis 7", "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\"\n\"SET\",\"86956.52\",\"0.300\",\"0.100\",\"0.287\",\"0.400\"\n", 86956.52, 287},
		{"redis 6", "\"SET\",\"70000.00\"\n", 70000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := parseRedisCSV(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Test != "SET" || rows[0].OpsPerSec != tc.rps || int(rows[0].P50+0.5) != int(tc.p50) {
				t.Errorf("rows %+v", rows)
			}
		})
	}
	if _, err := parseRedisCSV(strings.NewReader("")); err == nil {
		t.Error("empty output parsed without error")
	}
}

func TestReportRatiosAndOutputs(t *testing.T) {
	res := func(mode string, clients int, ops float64) load.Result {
		return load.Result{Mode: mode, Clients: clients, OpsPerSec: ops, Latency: load.Latency{P50: 100, P99: 900}}
	}
	rep := &Report{Schema: 1, Settings: Settings{Sync: []string{"never"}},
		Scenarios: []ScenarioInfo{{Name: "get-hot"}},
		Points: []Point{
			{Scenario: "get-hot", Target: "baseline", Sync: "never", Result: res("closed", 1, 1000)},
			{Scenario: "get-hot", Target: "baseline", Sync: "never", Result: res("closed", 8, 4000)},
			{Scenario: "get-hot", Target: "kvserver", Sync: "never", Result: res("closed", 1, 800)},
			{Scenario: "get-hot", Target: "kvserver", Sync: "never", Result: res("closed", 8, 1000)},
			{Scenario: "get-hot", Target: "kvserver", Sync: "never", Result: func() load.Result { r := res("open", 8, 500); r.Rate = 500; return r }()},
		},
		Recovery: []Recovery{{Name: "10k", Keys: 10000, Writes: 10000, ReadySeconds: 0.1}, {Name: "100k", Keys: 100000, Writes: 100000, ReadySeconds: 0.5}},
		GroupCommit: &GroupCommit{Scenario: "put-100b", Clients: 64, Rounds: 3, GroupedOpsPerSec: 10, UngroupedOpsPerSec: 1, Gain: 10,
			ByFsyncLatency: []FsyncLatencyGain{{AddedMs: 5, GroupedOpsPerSec: 6400, GroupedTxPerFsync: 31.5, GroupedP99: 12000,
				UngroupedOpsPerSec: 190, UngroupedTxPerFsync: 1, UngroupedP99: 400000, GroupedFsyncMs: 6.4, UngroupedFsyncMs: 6.2, Gain: 33.7}}},
	}
	rep.fillRatios()
	if r := rep.Points[2].Ratio; r != 0.8 {
		t.Errorf("ratio at 1 client %v, want 0.8", r)
	}
	if r := rep.Points[3].Ratio; r != 0.25 {
		t.Errorf("ratio at 8 clients %v, want 0.25", r)
	}
	if rep.Points[4].Ratio != 0 {
		t.Error("open-loop point got a ratio")
	}
	var table bytes.Buffer
	if err := WriteTable(rep, &table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"80%", "25%", "open 500/s", "10.0x", "5 ms", "6400", "31.5", "33.7x"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	dir := t.TempDir()
	if err := WriteFiles(rep, dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(filepath.Join(dir, JSONFile))
	if err != nil || len(back.Points) != 5 || back.Points[2].Ratio != 0.8 || back.Points[2].Latency.P99 != 900 {
		t.Errorf("bench.json round trip: %v %+v", err, back)
	}
	if err == nil && (len(back.GroupCommit.ByFsyncLatency) != 1 || back.GroupCommit.ByFsyncLatency[0].Gain != 33.7) {
		t.Errorf("bench.json round trip of the fsync-latency points: %+v", back.GroupCommit)
	}
	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "<svg"); n != 3 {
		t.Errorf("bench.html has %d charts, want 3 (throughput, p99, recovery)", n)
	}
	if !strings.Contains(string(html), "<td>5 ms</td>") || !strings.Contains(string(html), "33.7×") {
		t.Error("bench.html lacks the group-commit row at +5 ms per fsync")
	}
}
