package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// fakeBin is the fakekv test server, built once by TestMain.
var fakeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kvchaos-harness-test-")
	if err != nil {
		panic(err)
	}
	fakeBin = filepath.Join(dir, "fakekv")
	out, err := exec.Command("go", "build", "-o", fakeBin, "./testdata/fakekv").CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(dir)
		panic("build fakekv: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func newFakeTarget(t *testing.T, cfg TargetConfig) *Target {
	t.Helper()
	cfg.Bin = fakeBin
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	tg, err := NewTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Cleanup(false) })
	return tg
}

func TestTargetLifecycle(t *testing.T) {
	ctx := context.Background()
	var hookPid int
	tg := newFakeTarget(t, TargetConfig{AfterStart: func(pid int) error { hookPid = pid; return nil }})
	if err := tg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if hookPid == 0 || hookPid != tg.Pid() {
		t.Fatalf("after-start hook saw pid %d, target pid %d", hookPid, tg.Pid())
	}
	if !strings.HasPrefix(tg.Addr(), "127.0.0.1:") || strings.HasSuffix(tg.Addr(), ":0") {
		t.Fatalf("addr %q: want the port the server printed", tg.Addr())
	}
	c := tg.Client()
	if _, err := c.Put(ctx, "k", []byte("v1"), PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// SIGKILL: the process is reaped and the exit says so.
	if err := tg.Kill(); err != nil {
		t.Fatal(err)
	}
	if tg.Running() || tg.ExitSignal() != syscall.SIGKILL || tg.ExitCode() != -1 {
		t.Fatalf("after Kill: running=%v signal=%v code=%d", tg.Running(), tg.ExitSignal(), tg.ExitCode())
	}
	if _, err := c.Get(ctx, "k"); err == nil {
		t.Fatal("get after kill succeeded")
	}

	// Restart on the same data dir sees the data; the pid changed.
	oldPid := tg.Pid()
	if err := tg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if tg.Pid() == oldPid {
		t.Fatal("restart kept the pid")
	}
	v, err := c.Get(ctx, "k")
	if err != nil || string(v.Data) != "v1" {
		t.Fatalf("get after restart: %v %v", v, err)
	}

	// Pause: requests time out (unknown outcome); Resume: they work again.
	if err := tg.Pause(); err != nil {
		t.Fatal(err)
	}
	_, err = c.WithTimeout(200*time.Millisecond).Put(ctx, "k", []byte("v2"), PutOptions{})
	if !errors.Is(err, ErrIndeterminate) {
		t.Fatalf("put to a paused server: %v, want ErrIndeterminate", err)
	}
	if err := tg.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}

	// Stop: SIGTERM, exit 0.
	if err := tg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if tg.ExitCode() != 0 {
		t.Fatalf("exit code %d", tg.ExitCode())
	}
	if !strings.Contains(tg.LogTail(0), "stderr| fakekv: starting") {
		t.Fatalf("log tail misses the server's stderr:\n%s", tg.LogTail(0))
	}
	if tg.Starts() != 2 {
		t.Fatalf("starts = %d", tg.Starts())
	}

	n := tg.History().Count()
	if n[artifact.OutcomeUnknown] != 1 || n[artifact.OutcomeFail] != 1 || n[artifact.OutcomeOK] != 3 {
		t.Fatalf("history outcomes %v, want 3 ok, 1 fail (refused), 1 unknown (paused)", n)
	}
}

func TestTargetStartFailures(t *testing.T) {
	tests := []struct {
		name string
		cfg  TargetConfig
		want error
	}{
		{"exits at once", TargetConfig{Args: []string{"--no-such-flag"}}, ErrExitedEarly},
		{"never ready", TargetConfig{Env: []string{"FAKEKV_NEVER_READY=1"}, StartTimeout: 500 * time.Millisecond}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newFakeTarget(t, tt.cfg)
			err := tg.Start(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("start: %v, want %v", err, tt.want)
			}
			if tg.Running() {
				t.Fatal("a failed start left the process running")
			}
		})
	}
}

func TestTargetOwnsTempDataDir(t *testing.T) {
	tg, err := NewTarget(TargetConfig{Bin: fakeBin})
	if err != nil {
		t.Fatal(err)
	}
	dir := tg.DataDir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	if err := tg.Cleanup(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s left behind: %v", dir, err)
	}
}

func TestGoroutineDump(t *testing.T) {
	tg := newFakeTarget(t, TargetConfig{})
	if err := tg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dump, err := tg.GoroutineDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dump, "goroutine ") {
		t.Fatalf("no goroutine dump in:\n%s", dump)
	}
}

func TestTargetCountsRaceReports(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want int
	}{
		{"clean server", nil, 0},
		{"racy server", []string{"FAKEKV_RACE=1"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newFakeTarget(t, TargetConfig{Env: tt.env})
			if err := tg.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := tg.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := tg.RaceReports(); got != tt.want {
				t.Fatalf("race reports = %d, want %d; log:\n%s", got, tt.want, tg.LogTail(0))
			}
		})
	}
}
