package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/reports"
)

// binDir holds kvchaos and, next to it, the pinned ginkgo CLI, built once.
var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "kvchaos-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		for pkg, name := range map[string]string{".": "kvchaos", "github.com/onsi/ginkgo/v2/ginkgo": "ginkgo"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
				return 1
			}
		}
		binDir = dir
		return m.Run()
	}()
	os.Exit(code)
}

// kvchaos runs the CLI from a scratch working dir, in CI mode, and returns
// its combined output and exit code.
func kvchaos(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "kvchaos"), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "CI=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kvchaos %v: %v", args, err)
	}
	return out.String(), code
}

func suitesDir(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("testdata/suites")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func junitOf(t *testing.T, dir string) reporters.JUnitTestSuites {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, reports.JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	var j reporters.JUnitTestSuites
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestRunFailingTargetThenRepro(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reports")
	stdout, code := kvchaos(t, "run", "--out", out, "--seed", "5", "--server-bin", "/bin/false", suitesDir(t))
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a spec failed):\n%s", code, stdout)
	}
	for _, f := range []string{reports.ReportFile, reports.MetaFile, reports.JUnitFile, reports.HTMLFile, reports.SummaryFile, reports.TrendFile, "ginkgo.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	if !strings.Contains(stdout, "HTML report: "+filepath.Join(out, reports.HTMLFile)) {
		t.Errorf("does not say where the HTML is:\n%s", stdout)
	}
	// The JUnit, report.json and summary agree.
	run, err := reports.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	c := run.Counts()
	j := junitOf(t, out)
	if j.Tests != c.Total() || j.Failures != c.Failed || j.Failures != 1 || len(j.TestSuites) != len(run.Suites) {
		t.Errorf("junit tests=%d failures=%d suites=%d; report.json %+v in %d suites", j.Tests, j.Failures, len(j.TestSuites), c, len(run.Suites))
	}
	if run.Meta.Seed != 5 || run.Meta.Target.Binary != "/bin/false" || run.Meta.ExitCode == 0 {
		t.Errorf("run.json = %+v", run.Meta)
	}

	// The repro command fails the same way, and keeps its artifacts.
	stdout, code = kvchaos(t, "repro", "1", "--in", out)
	if code != 1 || !strings.Contains(stdout, "reproduced: the spec failed again, the same way") {
		t.Fatalf("repro exit %d:\n%s", code, stdout)
	}
	kept, _ := filepath.Glob(filepath.Join(out, "repro", "1", "artifacts", "store-keeps-acknowledged-writes-*", artifact.HistoryFile))
	if len(kept) != 1 {
		t.Errorf("repro kept no artifacts")
	}
	again, err := reports.Load(filepath.Join(out, "repro", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if c := again.Counts(); c.Total() != 1 || c.Failed != 1 {
		t.Errorf("repro ran %+v, want just the failed spec", c)
	}

	// With a fixed target it passes, and says so.
	stdout, code = kvchaos(t, "repro", "acknowledged", "--in", out, "--server-bin", "/bin/true")
	if code != 0 || !strings.Contains(stdout, "not reproduced") {
		t.Errorf("repro against a good target: exit %d\n%s", code, stdout)
	}

	// report re-renders without adding a trend line.
	if err := os.Remove(filepath.Join(out, reports.HTMLFile)); err != nil {
		t.Fatal(err)
	}
	if stdout, code = kvchaos(t, "report", "--in", out); code != 1 {
		t.Errorf("report exit %d, want 1 (the run failed):\n%s", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(out, reports.HTMLFile)); err != nil {
		t.Error("report did not write index.html")
	}
	if pts, _ := reports.ReadTrend(filepath.Join(out, reports.TrendFile), 10); len(pts) != 1 {
		t.Errorf("%d trend lines after run + report, want 1", len(pts))
	}
}

func TestRunWithConfigPassesFaultIntensity(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kvchaos.yaml")
	yaml := fmt.Sprintf("target:\n  binary: /bin/true\nsuites: [%s]\nlabels: kill || api\nseed: 11\nfaults:\n  crashes: 5\nout: %s\n",
		suitesDir(t), filepath.Join(dir, "out"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, code := kvchaos(t, "run", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	out := filepath.Join(dir, "out")
	j := junitOf(t, out)
	if j.Tests != 2 || j.Failures != 0 {
		t.Errorf("junit: %d tests %d failures, want the 2 selected specs passing", j.Tests, j.Failures)
	}
	files, _ := filepath.Glob(filepath.Join(out, "artifacts", "store-survives-kills-*", artifact.FaultsFile))
	if len(files) != 1 {
		t.Fatalf("faults.json: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	var evs []artifact.FaultEvent
	if err := json.Unmarshal(b, &evs); err != nil {
		t.Fatal(err)
	}
	kills := 0
	for _, e := range evs {
		if e.Name == "kill" {
			kills++
		}
	}
	if kills != 5 {
		t.Errorf("%d kills, want faults.crashes = 5", kills)
	}
}

func TestRunRejectsUnknownConfigKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfg, []byte("faults:\n  crashs: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, code := kvchaos(t, "run", "--config", cfg)
	if code != 2 || !strings.Contains(stdout, "crashs") {
		t.Errorf("exit %d, want 2 and the key named:\n%s", code, stdout)
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"", "run", "report", "repro", "cleanup", "recheck", "version"} {
		t.Run("help "+sub, func(t *testing.T) {
			root := newRoot()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetArgs(strings.Fields(sub + " --help"))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Examples:") {
				t.Errorf("no examples:\n%s", out.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	stdout, code := kvchaos(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "kvchaos dev (commit unknown") {
		t.Errorf("exit %d: %s", code, stdout)
	}
}

func TestRecheckFindsPlantedViolation(t *testing.T) {
	// The throwaway suites record puts without values: no order of them
	// explains the history, so the linearizability check must fail.
	dir := t.TempDir()
	src := "../../reports/testdata/run/artifacts/store-survives-kills-under-load-f2e3e8"
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	stdout, code := kvchaos(t, "recheck", dir)
	if code != 1 || !strings.Contains(stdout, "linearizability") || !strings.Contains(stdout, "recheck: FAILED") {
		t.Errorf("exit %d, want 1 with the violation:\n%.2000s", code, stdout)
	}
	if _, code := kvchaos(t, "recheck", filepath.Join(dir, "missing")); code != 2 {
		t.Errorf("recheck of a missing folder: exit %d, want 2", code)
	}
}

func TestCleanupSaysWhatItRemoved(t *testing.T) {
	tests := []struct {
		name    string
		fn      cleanupFunc
		want    string
		wantErr bool
	}{
		{"removed things", func(_ context.Context, w io.Writer) error {
			fmt.Fprintln(w, "killed kvserver pid 4242")
			return nil
		}, "killed kvserver pid 4242", false},
		{"nothing left", func(context.Context, io.Writer) error { return nil }, "nothing to remove", false},
		{"failure", func(context.Context, io.Writer) error { return errors.New("umount: busy") }, "", true},
	}
	saved := cleanups
	t.Cleanup(func() { cleanups = saved })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cleanups = tc.fn
			root := newRoot()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetArgs([]string{"cleanup"})
			err := root.Execute()
			if (err != nil) != tc.wantErr || !strings.Contains(out.String(), tc.want) {
				t.Errorf("err %v, output %q", err, out.String())
			}
		})
	}
}

func TestInterruptCleansUpAndStillReports(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reports")
	hang, err := filepath.Abs("testdata/hang")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "kvchaos"), "run", "--out", out, hang)
	cmd.Env = append(os.Environ(), "CI=true")
	var stdout lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	started := filepath.Join(out, "artifacts", "started")
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	for waiting := true; waiting; {
		select {
		case <-tick.C:
			_, err := os.Stat(started)
			waiting = err != nil
		case err := <-done:
			t.Fatalf("kvchaos exited before the spec started: %v\n%s", err, stdout.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("spec never started:\n%s", stdout.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("kvchaos did not stop after SIGINT:\n%s", stdout.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1 (interrupted spec)\n%s", err, stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "artifacts", "cleaned-up")); err != nil {
		t.Error("the spec's DeferCleanup did not run")
	}
	if _, err := os.Stat(filepath.Join(out, reports.HTMLFile)); err != nil {
		t.Errorf("no index.html after the interrupt:\n%s", stdout.String())
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunKeepsGoingPastABrokenSuite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reports")
	broken, _ := filepath.Abs("testdata/broken")
	beta := filepath.Join(suitesDir(t), "beta")
	stdout, code := kvchaos(t, "run", "--out", out, broken, beta)
	if code != 1 || !strings.Contains(stdout, "SUITE FAILED broken") {
		t.Fatalf("exit %d, want 1 and the broken suite named:\n%s", code, stdout)
	}
	j := junitOf(t, out)
	names := map[string]reporters.JUnitTestSuite{}
	for _, s := range j.TestSuites {
		names[s.Name] = s
	}
	if b := names["broken"]; b.Failures != 1 || len(b.TestCases) != 1 || b.TestCases[0].Failure == nil ||
		!strings.Contains(b.TestCases[0].Failure.Message, "thisDoesNotExist") {
		t.Errorf("broken suite in JUnit = %+v", b)
	}
	if b := names["Beta Suite"]; b.Tests != 1 || b.Failures != 0 {
		t.Errorf("the suite after the broken one did not run: %+v", b)
	}
}

func TestUntilItFailsStopsAtTheFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reports")
	alpha := filepath.Join(suitesDir(t), "alpha")
	stdout, code := kvchaos(t, "run", "--out", out, "--until-it-fails", "--label-filter", "durability", "--server-bin", "/bin/false", alpha)
	if code != 1 || !strings.Contains(stdout, "new each repetition") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	run, err := reports.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if c := run.Counts(); c.Failed != 1 || run.Meta.Seed == 0 {
		t.Errorf("counts %+v seed %d: want the failure and the seed it ran with", c, run.Meta.Seed)
	}
}
