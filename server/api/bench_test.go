package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// benchServe runs one request per iteration through the handler, with a
// fresh body reader each time, and fails on an unexpected status.
func benchServe(b *testing.B, h http.Handler, method string, target func(i int) string, body string, ok func(code int) bool) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest(method, target(i), strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !ok(rec.Code) {
			b.Fatalf("%s: %d %s", method, rec.Code, rec.Body.String())
		}
	}
}

// isSuccess accepts 200 and 201.
func isSuccess(code int) bool { return code == http.StatusOK || code == http.StatusCreated }

// benchStores runs f against the fake store (the HTTP layer's own cost,
// plus the fake's copy-on-write map) and a real store with SyncNever (no
// fsync, so the numbers are the CPU cost of HTTP + engine).
func benchStores(b *testing.B, f func(b *testing.B, st Store)) {
	b.Run("fake", func(b *testing.B) { f(b, newFakeStore()) })
	b.Run("real", func(b *testing.B) { f(b, openRealStore(b)) })
}

func BenchmarkPut(b *testing.B) { benchStores(b, benchmarkPut) }

func benchmarkPut(b *testing.B, st Store) {
	s := newTestServer(Config{}, st)
	value := strings.Repeat("v", 256)
	benchServe(b, s, "PUT", func(i int) string { return "/api/v1/kv/key-" + strconv.Itoa(i%1000) }, value, isSuccess)
}

func BenchmarkGet(b *testing.B) { benchStores(b, benchmarkGet) }

func benchmarkGet(b *testing.B, st Store) {
	s := newTestServer(Config{}, st)
	for i := range 1000 {
		serve(b, s, request{method: "PUT", target: "/api/v1/kv/key-" + strconv.Itoa(i), body: strings.Repeat("v", 256)})
	}
	benchServe(b, s, "GET", func(i int) string { return "/api/v1/kv/key-" + strconv.Itoa(i%1000) }, "", isSuccess)
}

func BenchmarkBatch(b *testing.B) { benchStores(b, benchmarkBatch) }

func benchmarkBatch(b *testing.B, st Store) {
	s := newTestServer(Config{}, st)
	var ops []string
	for i := range 10 {
		k := strconv.Itoa(i)
		ops = append(ops, `{"op":"set","key":"k`+k+`","value":"`+strings.Repeat("v", 64)+`"}`, `{"op":"get","key":"k`+k+`"}`)
	}
	body := `{"ops":[` + strings.Join(ops, ",") + `]}`
	benchServe(b, s, "POST", func(int) string { return "/api/v1/kv/batch" }, body, isSuccess)
}

// BenchmarkHTTPPut sends PUTs over real loopback connections from 64
// keep-alive clients to an http.Server with a real store (SyncNever): the
// whole request path, net/http's included, as a deployed server runs it.
// The clients' CPU is in the profile too (net/http's client, the heavier
// side); compare runs, not absolute figures.
func BenchmarkHTTPPut(b *testing.B) {
	s := newTestServer(Config{}, openRealStore(b))
	ts := httptest.NewServer(s)
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	value := strings.Repeat("v", 100)
	var seq atomic.Int64
	b.SetParallelism(32) // 64 clients on 2 CPUs
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			req, _ := http.NewRequest(http.MethodPut, ts.URL+"/api/v1/kv/key-"+strconv.FormatInt(i%10000, 10), strings.NewReader(value))
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if !isSuccess(resp.StatusCode) {
				b.Errorf("PUT: %d", resp.StatusCode)
				return
			}
		}
	})
}
