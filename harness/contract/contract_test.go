package contract

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// specPath is the committed OpenAPI document the suites check against.
var specPath = filepath.Join("..", "..", "docs", "openapi.yaml")

func loadSpec(t *testing.T) *Validator {
	t.Helper()
	v, err := Load(specPath)
	if err != nil {
		t.Fatalf("load %s: %v", specPath, err)
	}
	return v
}

// reply is what a fake server answers.
type reply struct {
	status int
	header map[string]string
	body   string
}

// envelope builds an error body.
func envelope(code string) string {
	return `{"error":{"code":"` + code + `","message":"m","request_id":"r1","details":{}}}`
}

var std = map[string]string{"X-Api-Version": "v1", "X-Request-Id": "r1", "Content-Type": "application/json"}

func with(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range std {
		out[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func TestCheck(t *testing.T) {
	v := loadSpec(t)
	cases := []struct {
		name   string
		method string
		path   string
		reply  reply
		// want is a substring of the violation, "" for none.
		want string
	}{
		{"healthz ok", "GET", "/healthz", reply{200, std, `{"status":"ok"}`}, ""},
		{"put created", "PUT", "/api/v1/kv/a/b", reply{201, with(map[string]string{"ETag": `"7"`}),
			`{"key":"a/b","revision":7,"size":1,"expires_at":null}`}, ""},
		{"get any content type", "GET", "/api/v1/kv/k", reply{200,
			with(map[string]string{"Content-Type": "image/png", "ETag": `"3"`, "X-Kv-Revision": "3"}), "\x89PNG"}, ""},
		{"key not found", "GET", "/api/v1/kv/k", reply{404, std, envelope("KEY_NOT_FOUND")}, ""},
		{"head not found has no body", "HEAD", "/api/v1/kv/k", reply{404, with(map[string]string{"Content-Type": ""}), ""}, ""},
		{"batch route is not a key", "POST", "/api/v1/kv/batch", reply{200, std,
			`{"revision":2,"results":[{"op":"delete","key":"x","deleted":false}]}`}, ""},
		{"unknown route with envelope", "GET", "/nope", reply{404, std, envelope("ROUTE_NOT_FOUND")}, ""},
		{"wrong method with envelope", "POST", "/api/v1/kv/k", reply{405, std, envelope("METHOD_NOT_ALLOWED")}, ""},
		{"other api version", "GET", "/api/v2/kv/k", reply{404, std, envelope("UNSUPPORTED_API_VERSION")}, ""},

		// Planted violations: each must be caught.
		{"404 without the envelope", "GET", "/api/v1/kv/k", reply{404, with(map[string]string{"Content-Type": "text/plain"}), "not found"}, "Content-Type"},
		{"404 with a plain JSON body", "GET", "/api/v1/kv/k", reply{404, std, `{"message":"not found"}`}, "doesn't match schema"},
		{"code sent with the wrong status", "GET", "/api/v1/kv/k", reply{404, std, envelope("INVALID_KEY")}, "doesn't match schema"},
		{"unknown code", "GET", "/api/v1/kv/k", reply{404, std, envelope("NOPE")}, "doesn't match schema"},
		{"unknown route without envelope", "GET", "/nope", reply{404, with(map[string]string{"Content-Type": "text/plain"}), "404 page not found"}, "Content-Type"},
		{"undocumented status", "GET", "/api/v1/kv/k", reply{418, std, envelope("INTERNAL")}, "status is not supported"},
		{"put without ETag", "PUT", "/api/v1/kv/k", reply{201, std, `{"key":"k","revision":7,"size":1,"expires_at":null}`}, `"ETag" missing`},
		{"missing X-Api-Version", "GET", "/healthz", reply{200, with(map[string]string{"X-Api-Version": ""}), `{"status":"ok"}`}, `"X-Api-Version" missing`},
		{"put result missing revision", "PUT", "/api/v1/kv/k", reply{200, with(map[string]string{"ETag": `"7"`}), `{"key":"k","size":1,"expires_at":null}`}, "revision"},
		{"head with a body", "HEAD", "/api/v1/kv/k", reply{200, with(map[string]string{"ETag": `"3"`, "X-Kv-Revision": "3"}), "x"}, "has a body"},
		{"get without revision header", "GET", "/api/v1/kv/k", reply{200, with(map[string]string{"ETag": `"3"`}), "v"}, `"X-Kv-Revision" missing`},
		{"success status on unknown route", "GET", "/nope", reply{200, std, `{}`}, "not in the spec"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			resp := &http.Response{StatusCode: tc.reply.status, Header: http.Header{}}
			for k, val := range tc.reply.header {
				resp.Header.Set(k, val)
			}
			err := v.Check(req, resp, []byte(tc.reply.body))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected violation: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("violation not caught (want %q)", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("violation %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestTransportCatchesBrokenServer puts the Transport in front of a fake
// server that answers a missing key with a bare 404 (no envelope) and shows
// the violation is collected while the client still gets the response.
func TestTransportCatchesBrokenServer(t *testing.T) {
	v := loadSpec(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Api-Version", "v1")
		w.Header().Set("X-Request-Id", "r1")
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		default:
			http.NotFound(w, r) // text/plain "404 page not found": no envelope
		}
	}))
	defer srv.Close()
	tr := &Transport{Validator: v}
	client := &http.Client{Transport: tr}
	for _, p := range []string{"/healthz", "/api/v1/kv/missing"} {
		resp, err := client.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if p != "/healthz" && !strings.Contains(string(body), "404 page not found") {
			t.Fatalf("the client did not get the body unchanged: %q", body)
		}
	}
	if got := tr.Checked(); got != 2 {
		t.Fatalf("checked %d responses, want 2", got)
	}
	vs := tr.Violations()
	if len(vs) != 1 || vs[0].Path != "/api/v1/kv/missing" || vs[0].Status != 404 {
		t.Fatalf("violations = %v, want one for GET /api/v1/kv/missing -> 404", vs)
	}
	if err := tr.Err(); err == nil || !strings.Contains(err.Error(), "1 of 2 responses") {
		t.Fatalf("Err() = %v", err)
	}
}

// TestTransportPassesGoodServer shows a conforming fake server collects no
// violation, so the check does not cry wolf.
func TestTransportPassesGoodServer(t *testing.T) {
	v := loadSpec(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Api-Version", "v1")
		w.Header().Set("X-Request-Id", "r1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, envelope("KEY_NOT_FOUND"))
	}))
	defer srv.Close()
	tr := &Transport{Validator: v}
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/api/v1/kv/k%2Fwith%2Fslashes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsBadDocument(t *testing.T) {
	if _, err := Parse([]byte("openapi: 3.1.0\ninfo: {}\npaths: {x: 1}\n")); err == nil {
		t.Fatal("a broken document loaded")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Fatal("a missing file loaded")
	}
}
