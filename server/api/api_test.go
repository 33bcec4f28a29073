package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/server/store"
)

// request is one HTTP request of a test; hdr is "Name: value" pairs.
type request struct {
	method, target, body string
	hdr                  []string
}

// serve runs one request through h.
func serve(t testing.TB, h http.Handler, r request) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.target, body)
	for _, kv := range r.hdr {
		name, value, _ := strings.Cut(kv, ": ")
		req.Header.Set(name, value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkEnvelope asserts that rec carries exactly the error envelope with
// the wanted code, and returns its details.
func checkEnvelope(t *testing.T, rec *httptest.ResponseRecorder, code string) map[string]any {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &top); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	if len(top) != 1 || top["error"] == nil {
		t.Fatalf("error body %s: want exactly one field \"error\"", rec.Body.String())
	}
	var e struct {
		Code      *string         `json:"code"`
		Message   *string         `json:"message"`
		RequestID *string         `json:"request_id"`
		Details   *map[string]any `json:"details"`
	}
	if err := json.Unmarshal(top["error"], &e); err != nil {
		t.Fatalf("error body %s: %v", rec.Body.String(), err)
	}
	switch {
	case e.Code == nil || *e.Code != code:
		t.Fatalf("error body %s: want code %s", rec.Body.String(), code)
	case e.Message == nil || *e.Message == "":
		t.Fatalf("error body %s: empty message", rec.Body.String())
	case e.RequestID == nil || *e.RequestID != rec.Header().Get(HeaderRequestID) || *e.RequestID == "":
		t.Fatalf("error body %s: request_id differs from header %q", rec.Body.String(), rec.Header().Get(HeaderRequestID))
	case e.Details == nil:
		t.Fatalf("error body %s: details missing", rec.Body.String())
	}
	return *e.Details
}

// seed stores key=value through the API.
func seed(t *testing.T, h http.Handler, key, value string, hdr ...string) {
	t.Helper()
	rec := serve(t, h, request{method: "PUT", target: "/api/v1/kv/" + key, body: value, hdr: hdr})
	if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
		t.Fatalf("seed %s: %d %s", key, rec.Code, rec.Body.String())
	}
}

func newTestServer(cfg Config, st Store) *Server {
	s := New(cfg)
	if st != nil {
		s.SetStore(st)
	}
	return s
}

// TestErrors runs one request per error case and checks status, code and
// envelope. Every error code of the API appears at least once.
func TestErrors(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen+1)
	tests := []struct {
		name   string
		cfg    Config
		setup  func(t *testing.T, s *Server, f *fakeStore)
		req    request
		status int
		code   string
	}{
		{name: "bad request id is replaced", req: request{method: "GET", target: "/nope", hdr: []string{"X-Request-Id: \x01bad"}}, status: 404, code: CodeRouteNotFound},
		{name: "unknown route", req: request{method: "GET", target: "/nope"}, status: 404, code: CodeRouteNotFound},
		{name: "unknown v1 route", req: request{method: "GET", target: "/api/v1/nope"}, status: 404, code: CodeRouteNotFound},
		{name: "method not allowed", req: request{method: "POST", target: "/api/v1/kv/a"}, status: 405, code: CodeMethodNotAllowed},
		{name: "method not allowed on list", req: request{method: "DELETE", target: "/api/v1/kv"}, status: 405, code: CodeMethodNotAllowed},
		{name: "api v2", req: request{method: "GET", target: "/api/v2/kv/a"}, status: 404, code: CodeUnsupportedAPIVersion},
		{name: "api v0 version", req: request{method: "GET", target: "/api/v0/version"}, status: 404, code: CodeUnsupportedAPIVersion},
		{name: "empty key", req: request{method: "GET", target: "/api/v1/kv/"}, status: 400, code: CodeInvalidKey},
		{name: "key too long", req: request{method: "PUT", target: "/api/v1/kv/" + long, body: "v"}, status: 400, code: CodeInvalidKey},
		{name: "key not utf8", req: request{method: "GET", target: "/api/v1/kv/%FF"}, status: 400, code: CodeInvalidKey},
		{name: "key not utf8 delete", req: request{method: "DELETE", target: "/api/v1/kv/a%C3"}, status: 400, code: CodeInvalidKey},
		{name: "ttl zero", req: request{method: "PUT", target: "/api/v1/kv/a?ttl=0", body: "v"}, status: 400, code: CodeInvalidTTL},
		{name: "ttl negative", req: request{method: "PUT", target: "/api/v1/kv/a?ttl=-5s", body: "v"}, status: 400, code: CodeInvalidTTL},
		{name: "ttl overflow ns", req: request{method: "PUT", target: "/api/v1/kv/a?ttl=9223372036854775808ns", body: "v"}, status: 400, code: CodeInvalidTTL},
		{name: "ttl overflow float", req: request{method: "PUT", target: "/api/v1/kv/a?ttl=1e30", body: "v"}, status: 400, code: CodeInvalidTTL},
		{name: "ttl over max", cfg: Config{MaxTTL: time.Hour}, req: request{method: "PUT", target: "/api/v1/kv/a?ttl=3601", body: "v"}, status: 400, code: CodeInvalidTTL},
		{name: "ttl garbage", req: request{method: "PUT", target: "/api/v1/kv/a?ttl=soon", body: "v"}, status: 400, code: CodeInvalidTTL},
		{name: "ttl empty", req: request{method: "PUT", target: "/api/v1/kv/a?ttl=", body: "v"}, status: 400, code: CodeInvalidTTL},
		{name: "if-match garbage", req: request{method: "PUT", target: "/api/v1/kv/a", body: "v", hdr: []string{"If-Match: 12"}}, status: 400, code: CodeInvalidRequest},
		{name: "if-match star", req: request{method: "DELETE", target: "/api/v1/kv/a", hdr: []string{"If-Match: *"}}, status: 400, code: CodeInvalidRequest},
		{name: "if-none-match tag on put", req: request{method: "PUT", target: "/api/v1/kv/a", body: "v", hdr: []string{`If-None-Match: "3"`}}, status: 400, code: CodeInvalidRequest},
		{name: "list limit zero", req: request{method: "GET", target: "/api/v1/kv?limit=0"}, status: 400, code: CodeInvalidRequest},
		{name: "list limit garbage", req: request{method: "GET", target: "/api/v1/kv?limit=x"}, status: 400, code: CodeInvalidRequest},
		{name: "list limit too big", req: request{method: "GET", target: "/api/v1/kv?limit=1001"}, status: 400, code: CodeInvalidRequest},
		{name: "list prefix not utf8", req: request{method: "GET", target: "/api/v1/kv?prefix=%FF"}, status: 400, code: CodeInvalidRequest},
		{name: "batch not json", req: request{method: "POST", target: "/api/v1/kv/batch", body: "{"}, status: 400, code: CodeInvalidBatch},
		{name: "batch bad op", req: request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"get","key":"a"},{"op":"frob","key":"a"}]}`}, status: 400, code: CodeInvalidBatch},
		{name: "batch too many ops", cfg: Config{MaxBatchOps: 2}, req: request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"get","key":"a"},{"op":"get","key":"b"},{"op":"get","key":"c"}]}`}, status: 413, code: CodePayloadTooLarge},
		{name: "batch body too large", cfg: Config{MaxBodySize: 10}, req: request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"get","key":"a"}]}`}, status: 413, code: CodePayloadTooLarge},
		{name: "put too large", cfg: Config{MaxValueSize: 3}, req: request{method: "PUT", target: "/api/v1/kv/a", body: "four"}, status: 413, code: CodePayloadTooLarge},
		{name: "unauthorized", cfg: Config{AuthToken: "s3cret"}, req: request{method: "GET", target: "/api/v1/kv/a"}, status: 401, code: CodeUnauthorized},
		{name: "unauthorized wrong token", cfg: Config{AuthToken: "s3cret"}, req: request{method: "GET", target: "/metrics", hdr: []string{"Authorization: Bearer s3cre"}}, status: 401, code: CodeUnauthorized},
		{name: "unauthorized unknown route", cfg: Config{AuthToken: "s3cret"}, req: request{method: "GET", target: "/nope"}, status: 401, code: CodeUnauthorized},
		{name: "key not found", req: request{method: "GET", target: "/api/v1/kv/missing"}, status: 404, code: CodeKeyNotFound},
		{name: "delete not found", req: request{method: "DELETE", target: "/api/v1/kv/missing"}, status: 404, code: CodeKeyNotFound},
		{name: "expired key", setup: func(t *testing.T, s *Server, f *fakeStore) {
			seed(t, s, "e", "v")
			f.data["e"] = store.Entry{Meta: store.Meta{Key: "e", Revision: 1, ExpiresAt: time.Now().Add(-time.Millisecond)}}
		}, req: request{method: "GET", target: "/api/v1/kv/e"}, status: 404, code: CodeKeyNotFound},
		{name: "put if-match stale", setup: func(t *testing.T, s *Server, f *fakeStore) { seed(t, s, "a", "v"); seed(t, s, "a", "w") },
			req: request{method: "PUT", target: "/api/v1/kv/a", body: "x", hdr: []string{`If-Match: "1"`}}, status: 412, code: CodePreconditionFailed},
		{name: "put if-match absent", req: request{method: "PUT", target: "/api/v1/kv/a", body: "x", hdr: []string{`If-Match: "1"`}}, status: 412, code: CodePreconditionFailed},
		{name: "put if-none-match exists", setup: func(t *testing.T, s *Server, f *fakeStore) { seed(t, s, "a", "v") },
			req: request{method: "PUT", target: "/api/v1/kv/a", body: "x", hdr: []string{"If-None-Match: *"}}, status: 412, code: CodePreconditionFailed},
		{name: "delete if-match stale", setup: func(t *testing.T, s *Server, f *fakeStore) { seed(t, s, "a", "v") },
			req: request{method: "DELETE", target: "/api/v1/kv/a", hdr: []string{`If-Match: "7"`}}, status: 412, code: CodePreconditionFailed},
		{name: "batch condition failed", setup: func(t *testing.T, s *Server, f *fakeStore) { seed(t, s, "a", "v") },
			req: request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"set","key":"b","value":"1"},{"op":"check","key":"a","exists":false}]}`}, status: 409, code: CodeBatchConditionFailed},
		{name: "disk full", setup: func(t *testing.T, s *Server, f *fakeStore) {
			f.applyErr = fmt.Errorf("write log: %w", store.ErrDiskFull)
		},
			req: request{method: "PUT", target: "/api/v1/kv/a", body: "v"}, status: 507, code: CodeDiskFull},
		{name: "memory limit", setup: func(t *testing.T, s *Server, f *fakeStore) { f.applyErr = store.ErrMemoryLimit },
			req: request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"set","key":"b","value":"1"}]}`}, status: 507, code: CodeMemoryLimit},
		{name: "io error", setup: func(t *testing.T, s *Server, f *fakeStore) { f.applyErr = fmt.Errorf("fsync: %w", store.ErrIO) },
			req: request{method: "DELETE", target: "/api/v1/kv/a"}, status: 500, code: CodeInternal},
		{name: "store closed", setup: func(t *testing.T, s *Server, f *fakeStore) { f.applyErr = store.ErrClosed },
			req: request{method: "PUT", target: "/api/v1/kv/a", body: "v"}, status: 503, code: CodeUnavailable},
		{name: "panic", setup: func(t *testing.T, s *Server, f *fakeStore) { f.panicMsg = "boom" },
			req: request{method: "GET", target: "/api/v1/kv/a"}, status: 500, code: CodeInternal},
		{name: "loading get", setup: func(t *testing.T, s *Server, f *fakeStore) { s.store.Store(nil) },
			req: request{method: "GET", target: "/api/v1/kv/a"}, status: 503, code: CodeUnavailable},
		{name: "loading put", setup: func(t *testing.T, s *Server, f *fakeStore) { s.store.Store(nil) },
			req: request{method: "PUT", target: "/api/v1/kv/a", body: "v"}, status: 503, code: CodeUnavailable},
		{name: "loading list", setup: func(t *testing.T, s *Server, f *fakeStore) { s.store.Store(nil) },
			req: request{method: "GET", target: "/api/v1/kv"}, status: 503, code: CodeUnavailable},
		{name: "loading batch", setup: func(t *testing.T, s *Server, f *fakeStore) { s.store.Store(nil) },
			req: request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"get","key":"a"}]}`}, status: 503, code: CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeStore()
			s := newTestServer(tt.cfg, f)
			if tt.setup != nil {
				tt.setup(t, s, f)
			}
			rec := serve(t, s, tt.req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if got := rec.Header().Get(HeaderAPIVersion); got != "v1" {
				t.Errorf("X-Api-Version %q", got)
			}
			checkEnvelope(t, rec, tt.code)
		})
	}
}

// TestErrorDetails checks the details the API promises for some errors.
func TestErrorDetails(t *testing.T) { eachStore(t, testErrorDetails) }

func testErrorDetails(t *testing.T, st Store) {
	s := newTestServer(Config{}, st)
	rec := serve(t, s, request{method: "GET", target: "/api/v2/kv/a"})
	if d := checkEnvelope(t, rec, CodeUnsupportedAPIVersion); fmt.Sprint(d["supported"]) != "[v1]" {
		t.Errorf("supported = %v, want [v1]", d["supported"])
	}
	rec = serve(t, s, request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"get","key":"a"},{"op":"set","key":"b","value_base64":"!!"}]}`})
	if d := checkEnvelope(t, rec, CodeInvalidBatch); d["op_index"] != 1.0 || d["reason"] == "" {
		t.Errorf("details = %v, want op_index 1 and a reason", d)
	}
	seed(t, s, "a", "v")
	rec = serve(t, s, request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"set","key":"b","value":"1"},{"op":"check","key":"a","revision":9}]}`})
	if d := checkEnvelope(t, rec, CodeBatchConditionFailed); d["op_index"] != 1.0 {
		t.Errorf("details = %v, want op_index 1", d)
	}
	if rec := serve(t, s, request{method: "GET", target: "/api/v1/kv/b"}); rec.Code != 404 {
		t.Errorf("failed batch applied its set: GET b = %d", rec.Code)
	}
}

// TestConditionsRealStore checks the conditional writes against the real
// store's condition errors.
func TestConditionsRealStore(t *testing.T) {
	s := newTestServer(Config{}, openRealStore(t))
	seed(t, s, "a", "v")
	seed(t, s, "a", "w")
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"put if-match stale", request{method: "PUT", target: "/api/v1/kv/a", body: "x", hdr: []string{`If-Match: "1"`}}, 412, CodePreconditionFailed},
		{"put if-match absent", request{method: "PUT", target: "/api/v1/kv/b", body: "x", hdr: []string{`If-Match: "1"`}}, 412, CodePreconditionFailed},
		{"put if-none-match exists", request{method: "PUT", target: "/api/v1/kv/a", body: "x", hdr: []string{"If-None-Match: *"}}, 412, CodePreconditionFailed},
		{"delete if-match stale", request{method: "DELETE", target: "/api/v1/kv/a", hdr: []string{`If-Match: "1"`}}, 412, CodePreconditionFailed},
		{"delete absent", request{method: "DELETE", target: "/api/v1/kv/b"}, 404, CodeKeyNotFound},
		{"get absent", request{method: "GET", target: "/api/v1/kv/b"}, 404, CodeKeyNotFound},
		{"batch check revision", request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"delete","key":"a"},{"op":"check","key":"a","revision":2}]}`}, 409, CodeBatchConditionFailed},
		{"batch check absent", request{method: "POST", target: "/api/v1/kv/batch", body: `{"ops":[{"op":"check","key":"a","exists":false}]}`}, 409, CodeBatchConditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, s, tt.req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
			}
			checkEnvelope(t, rec, tt.code)
		})
	}
	if rec := serve(t, s, request{method: "GET", target: "/api/v1/kv/a"}); rec.Code != 200 || rec.Body.String() != "w" || rec.Header().Get("ETag") != `"2"` {
		t.Fatalf("a after failed conditions: %d %q %s", rec.Code, rec.Body.String(), rec.Header().Get("ETag"))
	}
}

// TestExpiryIsExact checks through the real store that a key is gone the
// moment its TTL runs out.
func TestExpiryIsExact(t *testing.T) {
	s := newTestServer(Config{}, openRealStore(t))
	rec := serve(t, s, request{method: "PUT", target: "/api/v1/kv/t?ttl=150ms", body: "v"})
	var put putResponse
	decode(t, rec, &put)
	exp, err := time.Parse(time.RFC3339Nano, *put.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if rec := serve(t, s, request{method: "GET", target: "/api/v1/kv/t"}); rec.Code != 200 && time.Now().Before(exp) {
		t.Fatalf("GET before expiry: %d", rec.Code)
	}
	time.Sleep(time.Until(exp)) // the instant under test, not a wait for readiness
	for _, m := range []string{"GET", "HEAD"} {
		if rec := serve(t, s, request{method: m, target: "/api/v1/kv/t"}); rec.Code != 404 {
			t.Fatalf("%s at expiry: %d, want 404", m, rec.Code)
		}
	}
}

// TestRequestID checks that a client's request id is echoed and one is
// generated otherwise, on success and error alike.
func TestRequestID(t *testing.T) {
	s := newTestServer(Config{}, newFakeStore())
	for _, target := range []string{"/healthz", "/nope"} {
		rec := serve(t, s, request{method: "GET", target: target, hdr: []string{"X-Request-Id: abc-123"}})
		if got := rec.Header().Get(HeaderRequestID); got != "abc-123" {
			t.Errorf("%s: X-Request-Id %q, want abc-123", target, got)
		}
		a := serve(t, s, request{method: "GET", target: target}).Header().Get(HeaderRequestID)
		b := serve(t, s, request{method: "GET", target: target}).Header().Get(HeaderRequestID)
		if a == "" || a == b {
			t.Errorf("%s: generated ids %q and %q, want distinct and non-empty", target, a, b)
		}
	}
}

// TestPanicKeepsServing checks that the server answers again after a panic.
func TestPanicKeepsServing(t *testing.T) {
	f := newFakeStore()
	s := newTestServer(Config{}, f)
	f.panicMsg = "boom"
	if rec := serve(t, s, request{method: "GET", target: "/api/v1/kv/a"}); rec.Code != 500 {
		t.Fatalf("panic: status %d", rec.Code)
	}
	f.panicMsg = ""
	seed(t, s, "a", "v")
	if rec := serve(t, s, request{method: "GET", target: "/api/v1/kv/a"}); rec.Code != 200 || rec.Body.String() != "v" {
		t.Fatalf("after panic: %d %q", rec.Code, rec.Body.String())
	}
}

// TestRoutes checks that Routes lists exactly the routes echo serves.
func TestRoutes(t *testing.T) {
	s := New(Config{})
	var got, served []string
	for _, r := range s.Routes() {
		got = append(got, r.Method+" "+r.Path)
		if r.Summary == "" {
			t.Errorf("%s %s has no summary", r.Method, r.Path)
		}
	}
	for _, r := range s.echo.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	sort.Strings(got)
	sort.Strings(served)
	want := "DELETE /api/v1/kv/*,GET /api/v1/kv,GET /api/v1/kv/*,GET /api/v1/version,GET /healthz,GET /metrics,GET /readyz,HEAD /api/v1/kv/*,POST /api/v1/kv/batch,PUT /api/v1/kv/*"
	if strings.Join(got, ",") != want || strings.Join(served, ",") != want {
		t.Errorf("Routes() = %v\necho serves %v\nwant %s", got, served, want)
	}
}

// TestRequestIDsAreDistinct checks the generated request ids: 16 lower-case
// hex characters, none repeated, and different across generators.
func TestRequestIDsAreDistinct(t *testing.T) {
	a, b := newRequestIDs(), newRequestIDs()
	seen := map[string]bool{}
	for range 10000 {
		for _, id := range []string{a.next(), b.next()} {
			if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Fatalf("id %q is not 16 hex characters", id)
			}
			if seen[id] {
				t.Fatalf("id %q repeated", id)
			}
			seen[id] = true
		}
	}
}
