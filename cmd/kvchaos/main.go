// Command kvchaos runs the kvchaos chaos suites against a key-value server
// and turns what happened into reports: JUnit XML for CI, a self-contained
// HTML report with fault timelines and charts, a Markdown summary and a
// trend history. It also re-renders reports, reproduces one failed spec
// from its seed, re-checks saved histories and cleans up after an
// interrupted run.
//
// Exit codes: 0 all specs passed, 1 a spec (or suite) failed, 2 kvchaos
// itself could not do its job (bad flags or config, no report).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Set by the Makefile with -ldflags -X.
var (
	version   = "dev"
	commit    = "unknown"
	buildTime = ""
)

// errSpecsFailed means the run worked and a spec failed: exit code 1.
var errSpecsFailed = errors.New("specs failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errSpecsFailed):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "kvchaos:", err)
		os.Exit(2)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "kvchaos",
		Short: "Chaos-test a key-value server and report what it survived",
		Long: `kvchaos drives a kvserver-compatible binary as a black box through the
Ginkgo suites under suites/, injects process, disk, memory and CPU faults,
checks the recorded histories, and writes reports a person and CI can read.`,
		Example: `  kvchaos run                                  # every suite, default config, reports in reports/
  kvchaos run --label-filter edge --seed 42    # one area, fixed seed
  kvchaos run --server-bin ./my-kvserver       # your own build of a server
  kvchaos repro 1                              # re-run the first failure of the last run
  kvchaos report --in reports                  # re-render the reports
  kvchaos cleanup                              # remove leftovers of an interrupted run`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newReportCmd(), newReproCmd(), newCleanupCmd(), newRecheckCmd(), newVersionCmd(), newBenchCmd(), newDocsCmd())
	return root
}
