package load

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequesters(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/octet-stream" || len(b) != 1<<20 {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("/full", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "disk full", http.StatusInsufficientStorage)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	raw, err := NewRaw(srv.URL, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	requesters := map[string]Requester{"raw": raw, "net/http": NewNetHTTP(srv.URL, 2, 5*time.Second)}
	big := []byte(strings.Repeat("b", 1<<20))
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int // 0: success
	}{
		{"get", http.MethodGet, "/small", "", nil, 0},
		{"chunked body", http.MethodGet, "/chunked", "", nil, 0},
		{"put 1 MiB", http.MethodPut, "/echo", "application/octet-stream", big, 0},
		{"507 is an error", http.MethodPut, "/full", "", []byte("x"), 507},
		{"404 is an error", http.MethodGet, "/nope", "", nil, 404},
		{"connection close", http.MethodGet, "/close", "", nil, 0},
		{"after close", http.MethodGet, "/small", "", nil, 0},
	}
	for name, rq := range requesters {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				for i := range 3 { // the same connection, three times
					err := rq.Request(context.Background(), 1, tc.method, tc.path, tc.ctype, tc.body)
					var se *StatusError
					switch {
					case tc.status == 0 && err != nil:
						t.Fatalf("round %d: %v", i, err)
					case tc.status != 0 && (!errors.As(err, &se) || se.Status != tc.status):
						t.Fatalf("round %d: err %v, want status %d", i, err, tc.status)
					case tc.status == 507 && !strings.Contains(se.Body, "disk full"):
						t.Fatalf("body %q", se.Body)
					}
				}
			})
		}
	}
}

func TestReadResponseRejectsGarbage(t *testing.T) {
	tests := []string{
		"",
		"SSH-2.0-OpenSSH\r\n",
		"HTTP/1.1 2xx OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	}
	for _, in := range tests {
		if _, _, _, err := readResponse(bufio.NewReader(strings.NewReader(in)), http.MethodGet); err == nil {
			t.Errorf("%q parsed without error", in)
		}
	}
}
