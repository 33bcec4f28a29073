package gen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness/contract"
)

// TestLiveServerKeepsTheContract sends a spread of requests — every route,
// success and error, the metrics page, HEAD and 304 — to a live kvserver
// through the contract Transport and requires every response to match the
// generated spec: the server and docs/openapi.yaml agree on the wire.
func TestLiveServerKeepsTheContract(t *testing.T) {
	spec, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	v, err := contract.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := startServer(ctx, kvserverBin, []string{"--addr", "127.0.0.1:0", "--data-dir", dir,
		"--max-value-size", "1KiB", "--max-batch-ops", "3", "--max-memory", "64KiB"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	tr := &contract.Transport{Validator: v}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	seen := map[int]bool{}
	do := func(method, path, body string, header ...string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		seen[resp.StatusCode] = true
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	do("GET", "/healthz", "")
	do("GET", "/readyz", "")
	do("GET", "/metrics", "")
	do("GET", "/api/v1/version", "")
	do("PUT", "/api/v1/kv/a%2Fb", "x", "Content-Type", "text/plain")
	do("PUT", "/api/v1/kv/a/b", "y")
	do("PUT", "/api/v1/kv/t?ttl=1h", "z")
	do("PUT", "/api/v1/kv/t?ttl=0", "z")
	do("PUT", "/api/v1/kv/a/b", "z", "If-Match", `"1"`)
	do("PUT", "/api/v1/kv/a/b", "z", "If-None-Match", "*")
	do("PUT", "/api/v1/kv/a/b", "z", "If-Match", "W/x")
	do("PUT", "/api/v1/kv/big", strings.Repeat("x", 2000))
	do("PUT", "/api/v1/kv/"+strings.Repeat("k", 1100), "v")
	do("GET", "/api/v1/kv/a/b", "")
	do("GET", "/api/v1/kv/t", "")
	do("GET", "/api/v1/kv/a/b", "", "If-None-Match", `"2"`)
	do("HEAD", "/api/v1/kv/t", "")
	do("HEAD", "/api/v1/kv/none", "")
	do("GET", "/api/v1/kv/none", "")
	do("GET", "/api/v1/kv?prefix=a&limit=1", "")
	do("GET", "/api/v1/kv?limit=abc", "")
	do("POST", "/api/v1/kv/batch", `{"ops":[{"op":"set","key":"b","value_base64":"/w=="},{"op":"get","key":"b"},{"op":"check","key":"zz","exists":false}]}`)
	do("POST", "/api/v1/kv/batch", `{"ops":[{"op":"check","key":"b","revision":999}]}`)
	do("POST", "/api/v1/kv/batch", `{"ops":[]}`)
	do("POST", "/api/v1/kv/batch", `{"ops":[{"op":"get","key":"a"},{"op":"get","key":"a"},{"op":"get","key":"a"},{"op":"get","key":"a"}]}`)
	do("PUT", "/api/v1/kv/batch", "the key named batch")
	do("GET", "/api/v1/kv/batch", "")
	for i := 0; i < 80; i++ { // fill --max-memory: 507 MEMORY_LIMIT
		do("PUT", fmt.Sprintf("/api/v1/kv/fill/%d", i), strings.Repeat("v", 1000))
	}
	do("DELETE", "/api/v1/kv/a/b", "", "If-Match", `"1"`)
	do("DELETE", "/api/v1/kv/a/b", "")
	do("DELETE", "/api/v1/kv/a/b", "")
	do("PATCH", "/api/v1/kv/a", "")
	do("GET", "/api/v3/kv/a", "")
	do("GET", "/no/such/route", "")
	for _, status := range []int{200, 201, 304, 400, 404, 405, 409, 412, 413, 507} {
		if !seen[status] {
			t.Errorf("no response had status %d; the sweep no longer covers it", status)
		}
	}
	if tr.Checked() < 60 {
		t.Fatalf("only %d responses checked", tr.Checked())
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("KVCHAOS_DOCS_VERBOSE") != "" {
		t.Logf("%d responses matched the spec", tr.Checked())
	}
}
