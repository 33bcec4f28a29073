package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kvchaos/kvchaos/reports"
)

// runFlags are run's flags; each one overrides the config file.
type runFlags struct {
	config     string
	out        string
	labels     string
	focus      string
	seed       int64
	serverBin  string
	parallel   bool
	repeat     int
	untilFails bool
	timeout    string
	verbose    bool
	race       bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [suite dir...]",
		Short: "Run the chaos suites and write every report",
		Long: `run executes the Ginkgo suites (default ./suites, or the dirs given) through
the pinned ginkgo CLI, then writes into the output dir: report.json (Ginkgo's),
junit.xml, index.html, summary.md, run.json, ginkgo.log and artifacts/, and
appends one line to history.jsonl. It exits 1 when any spec failed.

Settings come from kvchaos.yaml (when present, or --config) and flags override
them. The fault intensity is passed to the suites as KVCHAOS_* env vars.`,
		Example: `  kvchaos run
  kvchaos run --label-filter '!slow' -p
  kvchaos run --label-filter crash --seed 1234 --server-bin ./bin/kvserver
  kvchaos run --focus 'high TTL' --until-it-fails
  kvchaos run --config ci.yaml --out /tmp/chaos ./suites/edge`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.merge(cmd, args)
			if err != nil {
				return err
			}
			return runSuites(cmd.Context(), cfg, f, cmd.OutOrStdout())
		},
	}
	bindRunFlags(cmd.Flags(), &f)
	return cmd
}

// bindRunFlags declares run's flags on fl, bound to f.
func bindRunFlags(fl *pflag.FlagSet, f *runFlags) {
	fl.StringVar(&f.config, "config", defaultConfigFile, "config file (used when present)")
	fl.StringVar(&f.out, "out", "reports", "report directory")
	fl.StringVar(&f.labels, "label-filter", "", "Ginkgo label filter, e.g. 'edge && !slow'")
	fl.StringVar(&f.focus, "focus", "", "run only specs whose text matches this regexp")
	fl.Int64Var(&f.seed, "seed", 0, "random seed (0: pick one)")
	fl.StringVar(&f.serverBin, "server-bin", "", "server binary to test (default: build the bundled kvserver)")
	fl.BoolVarP(&f.parallel, "parallel", "p", false, "run specs in parallel processes")
	fl.IntVar(&f.repeat, "repeat", 0, "run the suites N more times (stops at the first failure)")
	fl.BoolVar(&f.untilFails, "until-it-fails", false, "re-run until a spec fails")
	fl.StringVar(&f.timeout, "timeout", "", "timeout of the whole run, e.g. 60m")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "stream ginkgo's output as well")
	fl.BoolVar(&f.race, "race", false, "build the bundled server with -race; a data race fails the spec")
}

// merge reads the config file and lays the flags the user set over it.
func (f runFlags) merge(cmd *cobra.Command, args []string) (Config, error) {
	cfg, err := loadConfig(f.config, cmd.Flags().Changed("config"))
	if err != nil {
		return cfg, err
	}
	ch := cmd.Flags().Changed
	if ch("out") {
		cfg.Out = f.out
	}
	if ch("label-filter") {
		cfg.Labels = f.labels
	}
	if ch("focus") {
		cfg.Focus = f.focus
	}
	if ch("seed") {
		cfg.Seed = f.seed
	}
	if ch("server-bin") {
		cfg.Target.Binary = f.serverBin
	}
	if ch("parallel") {
		cfg.Parallel = f.parallel
	}
	if ch("race") {
		cfg.Target.Race = f.race
	}
	if ch("timeout") {
		cfg.Timeout = f.timeout
	}
	if len(args) > 0 {
		cfg.Suites = args
	}
	return cfg.withDefaults(), nil
}

func runSuites(ctx context.Context, cfg Config, f runFlags, stdout io.Writer) error {
	out, err := filepath.Abs(cfg.Out)
	if err != nil {
		return err
	}
	if cfg.Target.Binary != "" {
		if cfg.Target.Binary, err = filepath.Abs(cfg.Target.Binary); err != nil {
			return err
		}
	}
	if err := clearOut(out); err != nil {
		return err
	}
	ginkgo, err := ginkgoCommand()
	if err != nil {
		return err
	}
	// A repeated run without a fixed seed lets ginkgo pick a new seed for
	// each repetition: replaying one seed would mostly repeat one run.
	if cfg.Seed == 0 && f.repeat == 0 && !f.untilFails {
		cfg.Seed = time.Now().UnixNano() % 1_000_000
	}
	g := ginkgoRun{OutDir: out, Seed: cfg.Seed, LabelFilter: cfg.Labels,
		Focus: cfg.Focus, Parallel: cfg.Parallel, Repeat: f.repeat, UntilFails: f.untilFails,
		Timeout: cfg.Timeout, Suites: cfg.Suites, Recursive: true}
	env := cfg.suiteEnv()
	env["KVCHAOS_ARTIFACTS_DIR"] = filepath.Join(out, "artifacts")
	argv := append(ginkgo, g.args()...)
	meta := reports.Meta{Started: time.Now().UTC(), Seed: cfg.Seed, Commit: gitCommit(), Version: version,
		Target: reports.Target{Binary: cfg.Target.Binary, Args: cfg.Target.Args},
		Suites: cfg.Suites, LabelFilter: cfg.Labels, Focus: cfg.Focus, Env: env,
		Command: argv, Machine: machine()}
	if err := writeMeta(out, meta); err != nil {
		return err
	}
	seed := strconv.FormatInt(cfg.Seed, 10)
	if cfg.Seed == 0 {
		seed = "new each repetition"
	}
	fmt.Fprintf(stdout, "kvchaos: running %s (seed %s), reports in %s\n", strings.Join(cfg.Suites, " "), seed, out)
	code, runErr := ginkgoWithProgress(ctx, argv, env, out, f.verbose, stdout)
	meta.Duration = time.Since(meta.Started)
	meta.ExitCode = code
	if err := writeMeta(out, meta); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	return render(out, true, code, stdout)
}

// ginkgoWithProgress runs ginkgo, logging to <out>/ginkgo.log and showing
// progress: live on a terminal, plain lines in CI (CI set, or no TTY).
func ginkgoWithProgress(ctx context.Context, argv []string, env map[string]string, out string, verbose bool, stdout io.Writer) (int, error) {
	logf, err := os.Create(filepath.Join(out, "ginkgo.log"))
	if err != nil {
		return -1, fmt.Errorf("ginkgo log: %w", err)
	}
	defer logf.Close()
	var log io.Writer = logf
	if verbose {
		log = io.MultiWriter(logf, stdout)
	}
	live := !verbose && os.Getenv("CI") == "" && isTerminal(stdout)
	p := newProgress(stdout, log, live, env["KVCHAOS_ARTIFACTS_DIR"])
	code, err := runGinkgo(ctx, argv, env, p)
	p.Close()
	return code, err
}

// render writes every report from out/report.json, prints where they are,
// and turns failures into errSpecsFailed. A ginkgo failure with no
// report.json (a suite did not compile with no --keep-going, bad flags) is
// an error pointing at ginkgo.log.
func render(out string, appendTrend bool, ginkgoCode int, stdout io.Writer) error {
	if _, err := os.Stat(filepath.Join(out, reports.ReportFile)); err != nil {
		return fmt.Errorf("ginkgo exited %d without a report; see %s", ginkgoCode, filepath.Join(out, "ginkgo.log"))
	}
	run, files, err := reports.Render(out, appendTrend)
	if err != nil {
		return err
	}
	c := run.Counts()
	for _, s := range run.Suites {
		if s.Failure != "" && s.Counts.Failed == 0 {
			fmt.Fprintf(stdout, "SUITE FAILED %s (%s)\n  %s\n", s.Name, s.Path, strings.ReplaceAll(strings.TrimSpace(s.Failure), "\n", "\n  "))
		}
	}
	for i, s := range run.Failures() {
		fmt.Fprintf(stdout, "FAILED #%d %s\n  %s\n  re-run: kvchaos repro %d --in %s\n", i+1, s.Text, firstLine(s.Message), i+1, out)
	}
	fmt.Fprintf(stdout, "%d specs: %d passed, %d failed, %d skipped\n", c.Total(), c.Passed, c.Failed, c.Skipped)
	fmt.Fprintf(stdout, "HTML report: %s\nJUnit: %s\n", files.HTML, files.JUnit)
	if run.Failed() || ginkgoCode != 0 {
		return errSpecsFailed
	}
	return nil
}

// clearOut removes the previous run's files from out, keeping the trend
// history.
func clearOut(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	for _, name := range []string{reports.ReportFile, reports.MetaFile, reports.JUnitFile, reports.HTMLFile,
		reports.SummaryFile, "ginkgo.log", "artifacts", "repro"} {
		if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
			return fmt.Errorf("clear report dir: %w", err)
		}
	}
	return nil
}

func writeMeta(out string, m reports.Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, reports.MetaFile), b, 0o644); err != nil {
		return fmt.Errorf("write run meta: %w", err)
	}
	return nil
}

func gitCommit() string {
	b, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return commit
	}
	return strings.TrimSpace(string(b))
}

func machine() reports.Machine {
	m := reports.Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.Host, _ = os.Hostname()
	if vm, err := mem.VirtualMemory(); err == nil {
		m.MemBytes = vm.Total
	}
	m.Kernel, _ = host.KernelVersion()
	return m
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
