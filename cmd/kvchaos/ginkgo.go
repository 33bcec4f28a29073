package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/kvchaos/kvchaos/reports"
)

// ginkgoEnv overrides where the ginkgo CLI is found.
const ginkgoEnv = "KVCHAOS_GINKGO"

// ginkgoCommand returns the command prefix that runs the pinned ginkgo CLI:
// $KVCHAOS_GINKGO, else bin/ginkgo next to this binary (what `make tools`
// builds), else `go tool ginkgo` (the tool line in go.mod pins it; this
// needs the working directory inside the kvchaos module).
func ginkgoCommand() ([]string, error) {
	if p := os.Getenv(ginkgoEnv); p != "" {
		return []string{p}, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "ginkgo")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return []string{p}, nil
		}
	}
	if gobin, err := exec.LookPath("go"); err == nil {
		return []string{gobin, "tool", "ginkgo"}, nil
	}
	return nil, errors.New("ginkgo CLI not found: run `make tools`, or set " + ginkgoEnv)
}

// ginkgoRun is one invocation of the ginkgo CLI.
type ginkgoRun struct {
	OutDir      string // --output-dir: report.json is written there
	Seed        int64  // 0: no --seed, ginkgo picks one per repetition
	LabelFilter string
	Focus       string
	Parallel    bool
	Repeat      int
	UntilFails  bool
	Timeout     string
	Suites      []string
	Recursive   bool
}

// args builds ginkgo's arguments. --keep-going so a failing suite does not
// turn the later ones into empty placeholders; no --flake-attempts, so a
// chaos failure is never retried into a pass.
func (g ginkgoRun) args() []string {
	// With --output-dir the per-suite reports go there too before ginkgo
	// merges them; without it ginkgo writes them under each suite's
	// package dir and leaves empty directories behind.
	a := []string{"--keep-going", "--no-color", "--output-dir=" + g.OutDir, "--json-report=" + reports.ReportFile}
	if g.Seed != 0 {
		a = append(a, "--seed="+strconv.FormatInt(g.Seed, 10))
	}
	if g.Recursive {
		a = append([]string{"-r"}, a...)
	}
	if g.LabelFilter != "" {
		a = append(a, "--label-filter="+g.LabelFilter)
	}
	if g.Focus != "" {
		a = append(a, "--focus="+g.Focus)
	}
	if g.Parallel {
		a = append(a, "-p")
	}
	if g.Repeat > 0 {
		a = append(a, "--repeat="+strconv.Itoa(g.Repeat))
	}
	if g.UntilFails {
		a = append(a, "--until-it-fails")
	}
	if g.Timeout != "" {
		a = append(a, "--timeout="+g.Timeout)
	}
	return append(a, g.Suites...)
}

// runGinkgo runs ginkgo with extra env, copying its output to out, and
// returns its exit code (non-zero when a spec failed). The error is for
// failing to run it at all.
func runGinkgo(ctx context.Context, argv []string, env map[string]string, out io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), envList(env)...)
	cmd.Stdout = out
	cmd.Stderr = out
	// ginkgo and its suite processes get their own process group, and on
	// Ctrl-C (or SIGTERM to us) the group gets exactly one SIGINT, as from
	// a terminal: the suite interrupts the running spec, runs its cleanup
	// (DeferCleanup heals faults, kills servers) and ginkgo writes the
	// report. A second SIGINT would make them skip the cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("run ginkgo: %w", err)
	}
	return 0, nil
}
