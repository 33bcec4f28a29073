package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/server/store"
)

// slowPut starts a PUT that is in flight in the handler when it returns:
// it sends "Expect: 100-continue" and waits for the 100 that net/http sends
// when the handler starts reading the body. finish sends the body and
// returns the final status line.
func slowPut(t *testing.T, addr string) (finish func() (string, error)) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "PUT /api/v1/kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || !strings.Contains(line, " 100 ") {
		t.Fatalf("want 100 Continue, got %q, %v", line, err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line ending the 100
		t.Fatal(err)
	}
	return func() (string, error) {
		if _, err := conn.Write([]byte("12345")); err != nil {
			return "", err
		}
		return r.ReadString('\n')
	}
}

// waitRefused waits until the listener no longer accepts: the server has
// taken the signal and stopped accepting.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	t.Fatal("listener still accepting 20s after the signal")
}

// TestGracefulShutdown checks that SIGTERM stops accepting but lets an
// in-flight request finish, then exits 0.
func TestGracefulShutdown(t *testing.T) {
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--shutdown-timeout", "1m")
	finish := slowPut(t, p.addr)
	p.signal(t, syscall.SIGTERM)
	waitRefused(t, p.addr)
	select {
	case <-p.done:
		t.Fatal("exited before the in-flight request finished")
	default:
	}
	status, err := finish()
	if err != nil || !strings.Contains(status, " 201 ") {
		t.Fatalf("in-flight PUT: %q, %v", status, err)
	}
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestShutdownTimeout checks that a request still running at the shutdown
// timeout is cut off and the server still exits 0.
func TestShutdownTimeout(t *testing.T) {
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--shutdown-timeout", "200ms")
	slowPut(t, p.addr)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(p.stderr.String(), "cut off") {
		t.Errorf("no cut-off warning in:\n%s", p.stderr.String())
	}
}

// TestSecondSignal checks that a second signal ends a shutdown that is
// waiting for an in-flight request, at once and with exit code 1.
func TestSecondSignal(t *testing.T) {
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--shutdown-timeout", "10m")
	slowPut(t, p.addr)
	p.signal(t, syscall.SIGTERM)
	waitRefused(t, p.addr)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}

// TestReadHeaderTimeout checks that a client that never finishes its
// headers is disconnected.
func TestReadHeaderTimeout(t *testing.T) {
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--read-header-timeout", "200ms")
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn) // returns when the server closes the connection
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server kept a half-sent request open for 20s")
	}
}

// TestSignalWhileLoading checks the loading phase: the listener is up
// before the store has loaded, /readyz and the KV routes answer 503 then,
// and a SIGTERM during the load still ends with exit 0 and a usable data
// directory.
func TestSignalWhileLoading(t *testing.T) {
	dir := t.TempDir()
	keys := 300_000 // loads in about a second: long enough to watch
	if raceEnabled {
		keys = 100_000 // the -race binary loads several times slower
	}
	st, err := store.Open(store.Options{Dir: dir, Sync: store.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < keys/1000; b++ {
		ops := make([]store.Op, 1000)
		for i := range ops {
			ops[i] = store.Op{Kind: store.OpSet, Key: fmt.Sprintf("key-%03d-%03d", b, i), Value: []byte("value"), ContentType: "text/plain"}
		}
		if _, err := st.Apply(ops); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, lines := launch(t, nil, "--addr", addr, "--data-dir", dir)
	client := &http.Client{Timeout: 5 * time.Second}
	sawLoading := false
	for deadline := time.Now().Add(20 * time.Second); !sawLoading && time.Now().Before(deadline); {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			time.Sleep(time.Millisecond) // poll interval while the process starts
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("ready before a loading answer was seen: the %d-key load was too quick to observe", keys)
		}
		if resp.StatusCode != 503 || !strings.Contains(string(body), `"details":{"status":"loading"}`) {
			t.Fatalf("readyz while loading: %d %s", resp.StatusCode, body)
		}
		sawLoading = true
	}
	if !sawLoading {
		t.Fatal("never reached /readyz")
	}
	if code, body := call(t, "GET", "http://"+addr+"/api/v1/kv/key-000-000", ""); code != 503 || !strings.Contains(body, "UNAVAILABLE") {
		t.Fatalf("GET while loading: %d %s", code, body)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM while loading", code)
	}
	if line, ok := <-lines; ok {
		t.Fatalf("printed %q though it was stopped while loading", line)
	}

	p = start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	last := fmt.Sprintf("/api/v1/kv/key-%03d-999", keys/1000-1)
	if code, body := call(t, "GET", "http://"+p.addr+last, ""); code != 200 || body != "value" {
		t.Fatalf("GET after the interrupted start: %d %q", code, body)
	}
}
