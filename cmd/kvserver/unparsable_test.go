package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUnparsableRequests pins what docs/api.md says of the one kind of
// error without the JSON envelope: requests net/http cannot parse get its
// plain-text 400 or 431 and a closed connection.
func TestUnparsableRequests(t *testing.T) {
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	tests := []struct {
		name    string
		request string
		status  int
	}{
		{"malformed request line", "GARBAGE\r\n\r\n", http.StatusBadRequest},
		{"headers over 64 KiB", "GET /api/v1/kv/a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 80<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := conn.Write([]byte(tt.request)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status || !resp.Close || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("got %d (close %v, %q), want a plain-text %d that closes the connection",
					resp.StatusCode, resp.Close, resp.Header.Get("Content-Type"), tt.status)
			}
		})
	}
}
