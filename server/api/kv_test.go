package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/server/store"
)

// decode unmarshals rec's JSON body into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
}

// eachStore runs f against the fake store and against a real store in a
// temporary directory, so the handlers are checked against the real
// engine's contract as well as the fake's.
func eachStore(t *testing.T, f func(t *testing.T, st Store)) {
	t.Run("fake", func(t *testing.T) { f(t, newFakeStore()) })
	t.Run("real", func(t *testing.T) { f(t, openRealStore(t)) })
}

// openRealStore opens a store in a temporary directory, closed at cleanup.
func openRealStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), Sync: store.SyncNever})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestPutGetHeadDelete(t *testing.T) { eachStore(t, testPutGetHeadDelete) }

func testPutGetHeadDelete(t *testing.T, st Store) {
	s := newTestServer(Config{}, st)
	rec := serve(t, s, request{method: "PUT", target: "/api/v1/kv/a%2Fb/c", body: "\x00bin\xff", hdr: []string{"Content-Type: image/x-test"}})
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT new: %d %s", rec.Code, rec.Body.String())
	}
	var put putResponse
	decode(t, rec, &put)
	if put.Key != "a/b/c" || put.Revision != 1 || put.Size != 5 || put.ExpiresAt != nil || rec.Header().Get("ETag") != `"1"` {
		t.Fatalf("PUT new: %+v ETag %s", put, rec.Header().Get("ETag"))
	}
	rec = serve(t, s, request{method: "PUT", target: "/api/v1/kv/a/b/c", body: "\x00bin\xff", hdr: []string{"Content-Type: image/x-test", `If-Match: "1"`}})
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"2"` {
		t.Fatalf("PUT overwrite: %d %s", rec.Code, rec.Body.String())
	}
	for _, method := range []string{"GET", "HEAD"} {
		rec = serve(t, s, request{method: method, target: "/api/v1/kv/a/b%2Fc"})
		h := rec.Header()
		if rec.Code != 200 || h.Get("ETag") != `"2"` || h.Get(HeaderRevision) != "2" || h.Get("Content-Type") != "image/x-test" ||
			h.Get("Content-Length") != "5" || h.Get(HeaderExpiresAt) != "" || h.Get(HeaderTTLMs) != "" {
			t.Fatalf("%s: %d %v", method, rec.Code, h)
		}
		if want := map[string]string{"GET": "\x00bin\xff", "HEAD": ""}[method]; rec.Body.String() != want {
			t.Fatalf("%s body %q, want %q", method, rec.Body.String(), want)
		}
	}
	for _, inm := range []string{`"2"`, `"1", W/"2"`, "*"} {
		rec = serve(t, s, request{method: "GET", target: "/api/v1/kv/a/b/c", hdr: []string{"If-None-Match: " + inm}})
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != `"2"` {
			t.Fatalf("If-None-Match %s: %d", inm, rec.Code)
		}
	}
	if rec = serve(t, s, request{method: "GET", target: "/api/v1/kv/a/b/c", hdr: []string{`If-None-Match: "1"`}}); rec.Code != 200 {
		t.Fatalf("If-None-Match stale: %d", rec.Code)
	}
	rec = serve(t, s, request{method: "DELETE", target: "/api/v1/kv/a/b/c", hdr: []string{`If-Match: "2"`}})
	var del deleteResponse
	decode(t, rec, &del)
	if rec.Code != 200 || del != (deleteResponse{Key: "a/b/c", Deleted: true, Revision: 3}) {
		t.Fatalf("DELETE: %d %+v", rec.Code, del)
	}
	if rec = serve(t, s, request{method: "GET", target: "/api/v1/kv/a/b/c"}); rec.Code != 404 {
		t.Fatalf("GET after DELETE: %d", rec.Code)
	}
}

func TestPutDefaultsAndTTL(t *testing.T) { eachStore(t, testPutDefaultsAndTTL) }

func testPutDefaultsAndTTL(t *testing.T, st Store) {
	s := newTestServer(Config{}, st)
	before := time.Now()
	rec := serve(t, s, request{method: "PUT", target: "/api/v1/kv/t?ttl=90", body: "v"})
	var put putResponse
	decode(t, rec, &put)
	if put.ExpiresAt == nil {
		t.Fatalf("PUT ttl: no expires_at in %s", rec.Body.String())
	}
	exp, err := time.Parse(time.RFC3339Nano, *put.ExpiresAt)
	if err != nil || exp.Before(before.Add(90*time.Second)) || exp.After(time.Now().Add(90*time.Second)) {
		t.Fatalf("expires_at %s: %v", *put.ExpiresAt, err)
	}
	rec = serve(t, s, request{method: "GET", target: "/api/v1/kv/t"})
	ms, err := strconv.ParseInt(rec.Header().Get(HeaderTTLMs), 10, 64)
	if err != nil || ms <= 0 || ms > 90_000 {
		t.Fatalf("X-Kv-Ttl-Ms %q", rec.Header().Get(HeaderTTLMs))
	}
	if rec.Header().Get(HeaderExpiresAt) != *put.ExpiresAt {
		t.Fatalf("X-Kv-Expires-At %q, want %q", rec.Header().Get(HeaderExpiresAt), *put.ExpiresAt)
	}
	if ct := rec.Header().Get("Content-Type"); ct != defaultContentType {
		t.Fatalf("Content-Type %q, want the default", ct)
	}
	rec = serve(t, s, request{method: "PUT", target: "/api/v1/kv/empty", hdr: []string{"If-None-Match: *"}})
	if rec.Code != http.StatusCreated {
		t.Fatalf("PUT empty: %d", rec.Code)
	}
	if rec = serve(t, s, request{method: "GET", target: "/api/v1/kv/empty"}); rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "0" {
		t.Fatalf("GET empty: %d %q", rec.Code, rec.Body.String())
	}
}

// TestKeyNamedBatch checks that the static batch route does not shadow the
// key "batch" for the other methods.
func TestKeyNamedBatch(t *testing.T) { eachStore(t, testKeyNamedBatch) }

func testKeyNamedBatch(t *testing.T, st Store) {
	s := newTestServer(Config{}, st)
	for _, r := range []struct {
		req    request
		status int
	}{
		{request{method: "PUT", target: "/api/v1/kv/batch", body: "b"}, 201},
		{request{method: "GET", target: "/api/v1/kv/batch"}, 200},
		{request{method: "HEAD", target: "/api/v1/kv/batch"}, 200},
		{request{method: "DELETE", target: "/api/v1/kv/batch"}, 200},
		{request{method: "PUT", target: "/api/v1/kv/batch/x", body: "b"}, 201},
		{request{method: "GET", target: "/api/v1/kv/batch/x"}, 200},
		{request{method: "POST", target: "/api/v1/kv/batch/x"}, 405},
	} {
		if rec := serve(t, s, r.req); rec.Code != r.status {
			t.Errorf("%s %s: %d, want %d (%s)", r.req.method, r.req.target, rec.Code, r.status, rec.Body.String())
		}
	}
}

func TestList(t *testing.T) { eachStore(t, testList) }

func testList(t *testing.T, st Store) {
	s := newTestServer(Config{}, st)
	for _, k := range []string{"a1", "a2", "a3", "b1"} {
		seed(t, s, k, "val-"+k)
	}
	seed(t, s, "a4", "x", "X-Unused: 1")
	rec := serve(t, s, request{method: "PUT", target: "/api/v1/kv/a5?ttl=1h", body: "v"})
	if rec.Code != 201 {
		t.Fatal(rec.Body.String())
	}
	var got []string
	after := ""
	for page := 0; ; page++ {
		rec := serve(t, s, request{method: "GET", target: "/api/v1/kv?prefix=a&limit=2&after=" + after})
		var l listResponse
		decode(t, rec, &l)
		for _, k := range l.Keys {
			got = append(got, k.Key)
			if k.Key == "a1" && (k.Size != 6 || k.Revision != 1 || k.ExpiresAt != nil) {
				t.Errorf("a1 = %+v", k)
			}
			if k.Key == "a5" && k.ExpiresAt == nil {
				t.Errorf("a5 has no expires_at")
			}
		}
		if l.NextAfter == nil {
			break
		}
		after = *l.NextAfter
		if page > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if strings.Join(got, ",") != "a1,a2,a3,a4,a5" {
		t.Fatalf("listed %v", got)
	}
	rec = serve(t, s, request{method: "GET", target: "/api/v1/kv?prefix=zzz"})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"keys":[]`) || !strings.Contains(rec.Body.String(), `"next_after":null`) {
		t.Fatalf("empty list: %s", rec.Body.String())
	}
}

func TestBatch(t *testing.T) { eachStore(t, testBatch) }

func testBatch(t *testing.T, st Store) {
	s := newTestServer(Config{}, st)
	seed(t, s, "old", "o")
	body := `{"ops":[
		{"op":"check","key":"old","revision":1},
		{"op":"check","key":"new","exists":false},
		{"op":"set","key":"new","value":"héllo","ttl":"1h","content_type":"text/plain"},
		{"op":"set","key":"bin","value_base64":"AP8="},
		{"op":"get","key":"new"},
		{"op":"get","key":"bin"},
		{"op":"get","key":"nope"},
		{"op":"delete","key":"old"},
		{"op":"delete","key":"nope"}]}`
	rec := serve(t, s, request{method: "POST", target: "/api/v1/kv/batch", body: body})
	if rec.Code != 200 {
		t.Fatalf("batch: %d %s", rec.Code, rec.Body.String())
	}
	var out struct {
		Revision uint64           `json:"revision"`
		Results  []map[string]any `json:"results"`
	}
	decode(t, rec, &out)
	if out.Revision != 2 || len(out.Results) != 9 {
		t.Fatalf("batch: %s", rec.Body.String())
	}
	r := out.Results
	checks := []struct {
		i           int
		field, want string
	}{
		{0, "op", "check"}, {0, "revision", "1"},
		{2, "created", "true"}, {2, "revision", "2"}, {3, "size", "2"},
		{4, "found", "true"}, {4, "value", "héllo"}, {4, "content_type", "text/plain"},
		{5, "value_base64", "AP8="}, {6, "found", "false"},
		{7, "deleted", "true"}, {8, "deleted", "false"},
	}
	for _, c := range checks {
		if got := strconvAny(r[c.i][c.field]); got != c.want {
			t.Errorf("result %d %s = %q, want %q (%v)", c.i, c.field, got, c.want, r[c.i])
		}
	}
	if r[4]["expires_at"] == nil {
		t.Errorf("get of a key with TTL has no expires_at: %v", r[4])
	}
	if rec := serve(t, s, request{method: "GET", target: "/api/v1/kv/old"}); rec.Code != 404 {
		t.Errorf("old survived the batch: %d", rec.Code)
	}
}

func strconvAny(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// TestBodyLimitStreaming checks that an oversized body without a
// Content-Length is cut off after limit+1 bytes, not read to the end.
func TestBodyLimitStreaming(t *testing.T) {
	s := newTestServer(Config{MaxValueSize: 1 << 10, MaxBodySize: 1 << 10}, newFakeStore())
	for _, target := range []string{"/api/v1/kv/big", "/api/v1/kv/batch"} {
		src := &countingReader{n: 1 << 30}
		method := map[bool]string{true: "POST", false: "PUT"}[strings.HasSuffix(target, "batch")]
		req := httptest.NewRequest(method, target, src)
		req.ContentLength = -1 // chunked: unknown length
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body.String())
		}
		checkEnvelope(t, rec, CodePayloadTooLarge)
		if src.read > 64<<10 {
			t.Errorf("%s: read %d bytes of an oversized body, want about the 1 KiB limit", target, src.read)
		}
	}
	// With a Content-Length over the limit nothing is read at all.
	src := &countingReader{n: 1 << 30}
	req := httptest.NewRequest("PUT", "/api/v1/kv/big", src)
	req.ContentLength = 1 << 30
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || src.read != 0 {
		t.Fatalf("Content-Length 1 GiB: %d, read %d bytes", rec.Code, src.read)
	}
}

// countingReader yields n bytes of 'x' and counts what was read.
type countingReader struct{ n, read int }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := min(len(p), r.n-r.read)
	copy(p, bytes.Repeat([]byte("x"), k))
	r.read += k
	return k, nil
}

func TestHealthReadyVersion(t *testing.T) {
	f := newFakeStore()
	s := New(Config{AuthToken: "tok", Build: Build{Version: "v9", Commit: "abc"}, Sync: "always"})
	auth := "Authorization: Bearer tok"
	status := func(target string) (int, string) {
		rec := serve(t, s, request{method: "GET", target: target, hdr: []string{auth}})
		if rec.Code == 200 {
			var b statusResponse
			decode(t, rec, &b)
			return rec.Code, b.Status
		}
		var e envelope
		decode(t, rec, &e)
		if e.Error.Code != CodeUnavailable {
			t.Errorf("readyz %d with code %q, want the envelope with %s", rec.Code, e.Error.Code, CodeUnavailable)
		}
		st, _ := e.Error.Details["status"].(string)
		return rec.Code, st
	}
	if rec := serve(t, s, request{method: "GET", target: "/healthz"}); rec.Code != 200 || rec.Body.String() != "{\"status\":\"ok\"}\n" {
		t.Fatalf("healthz without token: %d %s", rec.Code, rec.Body.String())
	}
	steps := []struct {
		name   string
		do     func()
		code   int
		status string
	}{
		{"loading", func() {}, 503, "loading"},
		{"ready", func() { s.SetStore(f) }, 200, "ready"},
		{"degraded", func() { f.degraded = errors.New("write log: disk full") }, 503, "degraded"},
		{"recovered", func() { f.degraded = nil }, 200, "ready"},
		{"shutting down", s.SetShuttingDown, 503, "shutting_down"},
	}
	for _, st := range steps {
		st.do()
		if code, got := status("/readyz"); code != st.code || got != st.status {
			t.Errorf("%s: readyz %d %q, want %d %q", st.name, code, got, st.code, st.status)
		}
	}
	rec := serve(t, s, request{method: "GET", target: "/api/v1/version", hdr: []string{auth}})
	var v versionResponse
	decode(t, rec, &v)
	if v.Name != "kvserver" || v.Version != "v9" || v.Commit != "abc" || v.BuildTime != "unknown" || v.Storage.Engine != "buntdb" ||
		v.Storage.Sync != "always" || len(v.APIVersions) != 1 || v.GoVersion == "" || v.Platform == "" || v.StartedAt == "" {
		t.Fatalf("version: %s", rec.Body.String())
	}
}

func TestMetrics(t *testing.T) {
	f := newFakeStore()
	s := newTestServer(Config{}, f)
	seed(t, s, "a", "v")
	serve(t, s, request{method: "GET", target: "/nope"})
	serve(t, s, request{method: "FROB", target: "/api/v1/kv/a"})
	f.degraded = errors.New("disk full")
	rec := serve(t, s, request{method: "GET", target: "/metrics"})
	if rec.Code != 200 {
		t.Fatalf("metrics: %d", rec.Code)
	}
	for _, want := range []string{
		`kvserver_http_requests_total{code="201",method="PUT",route="/api/v1/kv/*"} 1`,
		`kvserver_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`kvserver_http_requests_total{code="405",method="OTHER",route="/api/v1/kv/*"} 1`,
		`kvserver_http_request_duration_seconds_bucket{code="201",method="PUT",route="/api/v1/kv/*",le="+Inf"} 1`,
		"kvserver_keys 1", "kvserver_revision 1", "kvserver_degraded 1", "kvserver_ready 0",
		"kvserver_evictions_total 0", "kvserver_fsync_seconds_total 0", "kvserver_recovery_seconds 0",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestBodyLimitBoundary checks that a body of exactly the limit is taken
// and one byte more is refused, with and without a Content-Length.
func TestBodyLimitBoundary(t *testing.T) {
	s := newTestServer(Config{MaxValueSize: 100_000}, newFakeStore())
	for _, tt := range []struct {
		size    int
		chunked bool
		status  int
	}{
		{100_000, false, 201}, {100_000, true, 200}, {100_001, false, 413}, {100_001, true, 413}, {0, true, 200}, {70_000, true, 200},
	} {
		req := httptest.NewRequest("PUT", "/api/v1/kv/k", strings.NewReader(strings.Repeat("x", tt.size)))
		if tt.chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Fatalf("%d bytes (chunked %v): %d, want %d", tt.size, tt.chunked, rec.Code, tt.status)
		}
		if rec.Code < 300 {
			if got := serve(t, s, request{method: "GET", target: "/api/v1/kv/k"}); got.Body.Len() != tt.size {
				t.Fatalf("%d bytes (chunked %v) stored as %d", tt.size, tt.chunked, got.Body.Len())
			}
		}
	}
}
