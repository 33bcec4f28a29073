package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kvchaos/kvchaos/reports"
)

func newReproCmd() *cobra.Command {
	var in, serverBin string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "repro <failure number | spec id | text>",
		Short: "Re-run one spec of a past run with its seed, keeping its artifacts",
		Long: `repro finds a spec in <in>/report.json — by failure number (as printed by run
and shown in index.html), by artifact id, or by a piece of its text — and runs
just that spec again with the same seed, target and fault settings, with
KVCHAOS_KEEP_ARTIFACTS=1. Its reports go to <in>/repro/<n>/. It exits 1 when
the spec fails again, and says whether it failed the same way.`,
		Example: `  kvchaos repro 1
  kvchaos repro 'keeps acknowledged writes' --in /tmp/chaos
  kvchaos repro store-keeps-acknowledged-writes-b774ad --server-bin ./bin/kvserver-fixed`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := reports.Load(in)
			if err != nil {
				return err
			}
			sp, suite, err := findSpec(run, args[0])
			if err != nil {
				return err
			}
			return repro(cmd.Context(), run, sp, suite, serverBin, verbose, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&in, "in", "reports", "report directory of the run")
	cmd.Flags().StringVar(&serverBin, "server-bin", "", "test this server binary instead of the run's")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "stream ginkgo's output")
	return cmd
}

// findSpec picks the spec a repro argument names: a failure number, an
// artifact id, the exact text, or a unique piece of text (failed specs
// first).
func findSpec(run *reports.Run, q string) (reports.Spec, reports.Suite, error) {
	fails := run.Failures()
	if n, err := strconv.Atoi(q); err == nil {
		if n < 1 || n > len(fails) {
			return reports.Spec{}, reports.Suite{}, fmt.Errorf("no failure #%d: the run has %d failures", n, len(fails))
		}
		return fails[n-1], suiteOf(run, fails[n-1]), nil
	}
	var exact, partFailed, part []reports.Spec
	for _, s := range run.Suites {
		for _, sp := range s.Specs {
			id := ""
			if sp.ArtifactDir != "" {
				id = filepath.Base(sp.ArtifactDir)
			}
			switch {
			case q == sp.Text || q == id || (sp.Evidence != nil && q == sp.Evidence.Spec.ID):
				exact = append(exact, sp)
			case strings.Contains(strings.ToLower(sp.Text), strings.ToLower(q)):
				part = append(part, sp)
				if sp.Failed {
					partFailed = append(partFailed, sp)
				}
			}
		}
	}
	for _, cands := range [][]reports.Spec{exact, partFailed, part} {
		switch len(cands) {
		case 0:
			continue
		case 1:
			return cands[0], suiteOf(run, cands[0]), nil
		}
		var names []string
		for _, c := range cands {
			names = append(names, "  "+c.Text)
		}
		return reports.Spec{}, reports.Suite{}, fmt.Errorf("%q matches %d specs:\n%s", q, len(cands), strings.Join(names, "\n"))
	}
	return reports.Spec{}, reports.Suite{}, fmt.Errorf("no spec matches %q", q)
}

// localSuitePath finds a suite's directory on this machine. Ginkgo records
// it as an absolute path, which for a report copied from CI names the CI's
// checkout: then the longest suffix of it that exists under the working
// directory is the suite (/builds/x/kvchaos/suites/edge → suites/edge).
func localSuitePath(p string) (string, error) {
	if p == "" {
		return "", errors.New("the report does not name its suite's path")
	}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return p, nil
	}
	parts := strings.Split(strings.Trim(filepath.ToSlash(p), "/"), "/")
	for i := range parts {
		cand := filepath.FromSlash(strings.Join(parts[i:], "/"))
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return "./" + cand, nil
		}
	}
	return "", fmt.Errorf("suite %s is not on this machine: run repro from a kvchaos checkout", p)
}

func suiteOf(run *reports.Run, sp reports.Spec) reports.Suite {
	for _, s := range run.Suites {
		if s.Name == sp.Suite {
			return s
		}
	}
	return reports.Suite{}
}

func repro(ctx context.Context, run *reports.Run, sp reports.Spec, suite reports.Suite, serverBin string, verbose bool, stdout io.Writer) error {
	suitePath, err := localSuitePath(suite.Path)
	if err != nil {
		return fmt.Errorf("spec %q: %w", sp.Text, err)
	}
	ginkgo, err := ginkgoCommand()
	if err != nil {
		return err
	}
	in, err := filepath.Abs(run.Dir)
	if err != nil {
		return err
	}
	name := "spec"
	for i, f := range run.Failures() {
		if f.Text == sp.Text && f.Suite == sp.Suite {
			name = strconv.Itoa(i + 1)
		}
	}
	out := filepath.Join(in, "repro", name)
	if err := clearOut(out); err != nil {
		return err
	}
	env := map[string]string{}
	for k, v := range run.Meta.Env {
		env[k] = v
	}
	if serverBin != "" {
		if serverBin, err = filepath.Abs(serverBin); err != nil {
			return err
		}
		env["KVCHAOS_SERVER_BIN"] = serverBin
	}
	if bin := env["KVCHAOS_SERVER_BIN"]; bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("the run's target %s is not on this machine: pass --server-bin", bin)
		}
	}
	env["KVCHAOS_ARTIFACTS_DIR"] = filepath.Join(out, "artifacts")
	env["KVCHAOS_KEEP_ARTIFACTS"] = "1"
	// Ginkgo matches --focus against "<suite description> <spec text>".
	focus := "^" + regexp.QuoteMeta(suite.Name+" "+sp.Text) + "$"
	g := ginkgoRun{OutDir: out, Seed: sp.Seed, Focus: focus, Suites: []string{suitePath}}
	argv := append(ginkgo, g.args()...)
	meta := run.Meta
	meta.Started, meta.Seed, meta.Env, meta.Command, meta.Focus = time.Now().UTC(), sp.Seed, env, argv, focus
	if env["KVCHAOS_SERVER_BIN"] != "" {
		meta.Target.Binary = env["KVCHAOS_SERVER_BIN"]
	}
	if err := writeMeta(out, meta); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kvchaos: re-running %q (seed %d)\n", sp.Text, sp.Seed)
	code, err := ginkgoWithProgress(ctx, argv, env, out, verbose, stdout)
	meta.Duration, meta.ExitCode = time.Since(meta.Started), code
	if err != nil {
		return err
	}
	if err := writeMeta(out, meta); err != nil {
		return err
	}
	rerr := render(out, false, code, stdout)
	again, lerr := reports.Load(out)
	if lerr != nil {
		return rerr
	}
	if fs := again.Failures(); len(fs) > 0 {
		same := "differently"
		if firstLine(fs[0].Message) == firstLine(sp.Message) {
			same = "the same way"
		}
		fmt.Fprintf(stdout, "reproduced: the spec failed again, %s\n", same)
	} else if sp.Failed {
		fmt.Fprintln(stdout, "not reproduced: the spec passed this time")
	}
	return rerr
}
