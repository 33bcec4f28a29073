package gen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestShellBlocks(t *testing.T) {
	md := strings.Join([]string{
		"# t", "```sh", "echo one", "```",
		"<!-- doctest: skip — too slow -->", "```sh", "make chaos", "```",
		"<!-- doctest: instead: echo short — offline -->", "```sh", "git clone x", "```",
		"```yaml", "a: 1", "```",
	}, "\n")
	blocks, err := ShellBlocks(md)
	if err != nil {
		t.Fatal(err)
	}
	want := []ShellBlock{
		{Line: 2, Code: "echo one"},
		{Line: 6, Code: "make chaos", Skip: true, Reason: "too slow"},
		{Line: 10, Code: "git clone x", Instead: "echo short", Reason: "offline"},
	}
	if fmt.Sprint(blocks) != fmt.Sprint(want) {
		t.Fatalf("blocks = %+v\nwant     %+v", blocks, want)
	}
	if blocks[1].Run() != "" || blocks[2].Run() != "echo short" || blocks[0].Run() != "echo one" {
		t.Fatal("Run() does not follow the directives")
	}
	for name, bad := range map[string]string{
		"no reason":      "<!-- doctest: skip -->\n```sh\nx\n```",
		"unknown verb":   "<!-- doctest: maybe — why -->\n```sh\nx\n```",
		"not before sh":  "<!-- doctest: skip — why -->\n\n```sh\nx\n```",
		"unclosed block": "```sh\nx",
	} {
		if _, err := ShellBlocks(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestGettingStarted executes every shell block of docs/getting-started.md,
// in order, in one bash session in a temp dir: the page clones this checkout,
// builds it, drives the bundled server by hand and runs the API suite
// through kvchaos and ginkgo. Skipped blocks are logged with their reason.
func TestGettingStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the guide end to end (about two minutes: a clone, make build, suite runs); not in -short")
	}
	page, err := GettingStartedPage(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := ShellBlocks(string(page))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 5 {
		t.Fatalf("only %d shell blocks in the guide", len(blocks))
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	// Background servers of a failed block must not outlive the test.
	script.WriteString("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n")
	ran := 0
	for _, b := range blocks {
		if b.Skip {
			t.Logf("skipping the block at line %d (%q): %s", b.Line, b.Code, b.Reason)
			continue
		}
		if b.Instead != "" {
			t.Logf("running %q instead of the block at line %d (%q): %s", b.Instead, b.Line, b.Code, b.Reason)
		}
		fmt.Fprintf(&script, "echo '### doctest block at line %d'\n%s\n", b.Line, b.Run())
		ran++
	}
	fmt.Fprintf(&script, "echo '### doctest done'\n")

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	// The guide clones this checkout's HEAD; KVCHAOS_DOCTEST_REPO names
	// another repository to clone instead (e.g. a commit of a working tree).
	repo := repoRoot
	if r := os.Getenv("KVCHAOS_DOCTEST_REPO"); r != "" {
		repo = r
	}
	cmd.Env = append(cleanEnv(), "KVCHAOS_DOCTEST_REPO="+repo)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("ran %d of %d blocks in %s", ran, len(blocks), time.Since(start).Round(time.Second))
	if err != nil || !strings.Contains(out.String(), "### doctest done") {
		t.Fatalf("the guide's commands failed (%v); last output:\n%s", err, tail(out.String(), 80))
	}
}

// cleanEnv is the environment without the settings that would point the
// guide's commands somewhere else (KVCHAOS_*, GINKGO_*).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KVCHAOS_") || strings.HasPrefix(kv, "GINKGO_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
