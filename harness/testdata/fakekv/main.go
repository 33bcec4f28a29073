// Command fakekv is a tiny stand-in for kvserver used by the harness's own
// tests: it speaks a subset of the v1 API (PUT/GET/DELETE without TTLs,
// /readyz), prints the "kvserver listening on" line, keeps its data in
// DATA_DIR/fake.json and exits 0 on SIGTERM. FAKEKV_LOSE_WRITES=1 makes it
// acknowledge writes it never saves; FAKEKV_NEVER_READY=1 keeps /readyz at 503;
// FAKEKV_RACE=1 prints a race detector report on stderr.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

type entry struct {
	Value []byte
	Rev   uint64
}

type store struct {
	mu   sync.Mutex
	path string
	rev  uint64
	data map[string]entry
	lose bool
}

func (s *store) save() {
	if s.lose {
		return
	}
	b, _ := json.Marshal(struct {
		Rev  uint64
		Data map[string]entry
	}{s.rev, s.data})
	_ = os.WriteFile(s.path, b, 0o644)
}

func fail(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"request_id":"x","details":{}}}`, code, strings.ToLower(code))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "")
	dir := flag.String("data-dir", ".", "")
	flag.Parse()
	s := &store{path: filepath.Join(*dir, "fake.json"), data: map[string]entry{}, lose: os.Getenv("FAKEKV_LOSE_WRITES") == "1"}
	if b, err := os.ReadFile(s.path); err == nil {
		var st struct {
			Rev  uint64
			Data map[string]entry
		}
		if json.Unmarshal(b, &st) == nil && st.Data != nil {
			s.rev, s.data = st.Rev, st.Data
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if os.Getenv("FAKEKV_NEVER_READY") == "1" {
			fail(w, 503, "UNAVAILABLE")
			return
		}
		fmt.Fprint(w, `{"status":"ready"}`)
	})
	mux.HandleFunc("/api/v1/kv/", func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/api/v1/kv/")
		s.mu.Lock()
		defer s.mu.Unlock()
		e, ok := s.data[key]
		switch r.Method {
		case http.MethodGet:
			if !ok {
				fail(w, 404, "KEY_NOT_FOUND")
				return
			}
			w.Header().Set("ETag", fmt.Sprintf("%q", strconv.FormatUint(e.Rev, 10)))
			_, _ = w.Write(e.Value)
		case http.MethodPut:
			if im := r.Header.Get("If-Match"); im != "" && (!ok || im != fmt.Sprintf("%q", strconv.FormatUint(e.Rev, 10))) {
				fail(w, 412, "PRECONDITION_FAILED")
				return
			}
			if r.Header.Get("If-None-Match") == "*" && ok {
				fail(w, 412, "PRECONDITION_FAILED")
				return
			}
			b, _ := io.ReadAll(r.Body)
			s.rev++
			s.data[key] = entry{Value: b, Rev: s.rev}
			s.save()
			if !ok {
				w.WriteHeader(201)
			}
			fmt.Fprintf(w, `{"key":%q,"revision":%d,"size":%d,"expires_at":null}`, key, s.rev, len(b))
		case http.MethodDelete:
			if !ok {
				fail(w, 404, "KEY_NOT_FOUND")
				return
			}
			s.rev++
			delete(s.data, key)
			s.save()
			fmt.Fprintf(w, `{"key":%q,"deleted":true,"revision":%d}`, key, s.rev)
		default:
			fail(w, 405, "METHOD_NOT_ALLOWED")
		}
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakekv:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "fakekv: starting")
	if os.Getenv("FAKEKV_RACE") == "1" {
		fmt.Fprintln(os.Stderr, "==================\nWARNING: DATA RACE\nWrite at 0x00c000 by goroutine 7:")
	}
	fmt.Printf("kvserver listening on http://%s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { _ = http.Serve(ln, mux) }()
	<-sig
	os.Exit(0)
}
