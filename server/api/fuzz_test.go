package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzRequest sends arbitrary requests through the whole handler and checks
// that malformed input never gets a 5xx and every error has the envelope.
func FuzzRequest(f *testing.F) {
	seeds := []struct{ method, target, ifMatch, body string }{
		{"PUT", "/api/v1/kv/a?ttl=5s", `"1"`, "v"},
		{"GET", "/api/v1/kv/a%2Fb", "", ""},
		{"DELETE", "/api/v1/kv/%FF", `"x"`, ""},
		{"POST", "/api/v1/kv/batch", "", `{"ops":[{"op":"set","key":"a","value":"x"},{"op":"check","key":"a","revision":1}]}`},
		{"GET", "/api/v1/kv?prefix=a&after=b&limit=7", "", ""},
		{"HEAD", "/api/v9/kv/a", "", ""},
		{"PATCH", "/readyz", "*", "x"},
		{"PUT", "/api/v1/kv/a?ttl=9223372036854775808ns", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.ifMatch, []byte(s.body))
	}
	s := newTestServer(Config{MaxValueSize: 1 << 10, MaxBodySize: 1 << 12, MaxBatchOps: 8}, newFakeStore())
	f.Fuzz(func(t *testing.T, method, target, ifMatch string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || !validMethod(method) {
			return // net/http itself refuses these before any handler runs
		}
		req := &http.Request{Method: method, URL: u, RequestURI: target, Header: http.Header{}, Host: "x",
			Body: http.NoBody, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		if len(body) > 0 {
			req.Body = httptest.NewRequest("PUT", "/", bytes.NewReader(body)).Body
			req.ContentLength = int64(len(body))
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (If-Match %q, body %q): %d %s", method, target, ifMatch, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && method != http.MethodHead {
			var e envelope
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.RequestID == "" {
				t.Fatalf("%s %s: %d without the envelope: %q", method, target, rec.Code, rec.Body.String())
			}
		}
	})
}

// validMethod reports whether m is an HTTP token, as net/http requires.
func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`()<>@,;:\"/[]?={}`), c) >= 0 {
			return false
		}
	}
	return true
}
