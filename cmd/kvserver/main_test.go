package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/server/store"
)

// binary is the kvserver binary TestMain builds once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kvserver-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kvserver")
	args := []string{"build", "-ldflags", "-X main.version=test-version -X main.commit=abc123", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kvserver:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running kvserver.
type proc struct {
	cmd    *exec.Cmd
	addr   string // host:port from the listening line
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the binary and waits for its listening line. The process is
// killed at cleanup if it is still running.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p, lines := launch(t, env, args...)
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "kvserver listening on http://")
		if !ok || !found {
			t.Fatalf("stdout line %q; stderr:\n%s", line, p.stderr.String())
		}
		p.addr = addr
	case <-time.After(20 * time.Second):
		t.Fatalf("no listening line within 20s; stderr:\n%s", p.stderr.String())
	}
	return p
}

// launch runs the binary; lines delivers its stdout lines (at most one is
// expected) and is closed at EOF.
func launch(t *testing.T, env []string, args ...string) (*proc, <-chan string) {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
				t.Errorf("second stdout line: %q", sc.Text())
			}
		}
		close(lines)
	}()
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("kvserver stderr:\n%s", p.stderr.String())
		}
	})
	return p, lines
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("kvserver still running after %s", within)
		return -1
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// call makes one request and returns status and body.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// run runs the binary to completion and returns exit code, stdout, stderr.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestServeTerminateRestart starts the binary on port 0, writes a key,
// SIGTERMs it (exit 0) and finds the key again after a restart.
func TestServeTerminateRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json")
	base := "http://" + p.addr
	if code, body := call(t, "GET", base+"/readyz", ""); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, body := call(t, "PUT", base+"/api/v1/kv/greeting", "hello"); code != 201 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if code, body := call(t, "GET", base+"/api/v1/version", ""); code != 200 || !strings.Contains(body, `"version":"test-version"`) || !strings.Contains(body, `"commit":"abc123"`) {
		t.Fatalf("version: %d %s", code, body)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if !strings.Contains(p.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no JSON stopped log line in:\n%s", p.stderr.String())
	}

	p = start(t, []string{"KVSERVER_DATA_DIR=" + dir, "KVSERVER_ADDR=127.0.0.1:0"})
	if code, body := call(t, "GET", "http://"+p.addr+"/api/v1/kv/greeting", ""); code != 200 || body != "hello" {
		t.Fatalf("GET after restart: %d %q", code, body)
	}
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT", code)
	}
	if code, out, errOut := runBinary(t, nil, "check", "--data-dir", dir); code != 0 {
		t.Fatalf("check of a cleanly stopped dir: exit %d\n%s%s", code, out, errOut)
	}
}

// TestBadFlags checks that each bad flag gives exit code 2 and one line.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"--data-dir", "d", "--frobnicate"}, "frobnicate"},
		{"bad sync", nil, []string{"--data-dir", "d", "--sync", "sometimes"}, "sync"},
		{"bad max memory", nil, []string{"--data-dir", "d", "--max-memory", "12XB"}, "max-memory"},
		{"bad eviction", nil, []string{"--data-dir", "d", "--eviction", "fifo"}, "eviction"},
		{"bad env", []string{"KVSERVER_MAX_BATCH_OPS=many"}, []string{"--data-dir", "d"}, "KVSERVER_MAX_BATCH_OPS"},
		{"no data dir", []string{"KVSERVER_DATA_DIR="}, nil, "--data-dir is required"},
		{"missing value", nil, []string{"--data-dir"}, "data-dir"},
		{"check without dir", nil, []string{"check"}, "--data-dir is required"},
		{"repair bad flag", nil, []string{"repair", "--data-dir", "d", "--force"}, "force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runBinary(t, tt.env, tt.args...)
			if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, one line about %q", code, out, errOut, tt.want)
			}
		})
	}
	if code, out, _ := runBinary(t, nil, "-h"); code != 0 || !strings.Contains(out, "--max-memory") && !strings.Contains(out, "-max-memory") {
		t.Fatalf("-h: exit %d, %q", code, out)
	}
}

// TestSecondInstanceRefused checks that a data dir in use is refused with
// one clear line and exit code 1.
func TestSecondInstanceRefused(t *testing.T) {
	dir := t.TempDir()
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	code, out, errOut := runBinary(t, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, dir) || !strings.Contains(errOut, "in use") {
		t.Fatalf("second instance: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("first instance exit %d", code)
	}
}

// TestCorruptDataDir checks the corruption path end to end: a damaged log
// refuses to start (exit 1, one line naming the file and the fix), check
// reports it (exit 1), repair mends it (exit 0), and the server starts.
func TestCorruptDataDir(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := st.Apply([]store.Op{{Kind: store.OpSet, Key: fmt.Sprintf("k%02d", i), Value: []byte("value"), ContentType: "text/plain"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(logs) == 0 {
		t.Fatalf("no wal-*.log in %s", dir)
	}
	data, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/4] ^= 0xff // inside an early record, far from the tail
	if err := os.WriteFile(logs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runBinary(t, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, filepath.Base(logs[0])) || !strings.Contains(errOut, "repair") {
		t.Fatalf("start on a corrupt dir: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := runBinary(t, nil, "check", "--data-dir", dir); code != 1 || out == "" {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runBinary(t, []string{"KVSERVER_DATA_DIR=" + dir}, "repair"); code != 0 {
		t.Fatalf("repair: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runBinary(t, nil, "check", "--data-dir", dir); code != 0 {
		t.Fatalf("check after repair: exit %d\n%s%s", code, out, errOut)
	}
	p := start(t, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
