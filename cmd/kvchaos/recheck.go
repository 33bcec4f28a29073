package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// recheckFunc re-runs the checkers on a saved artifact folder without a
// server, writing its findings to w; it has the shape of check.Recheck.
type recheckFunc func(dir string, w io.Writer) error

func newRecheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "recheck <artifact dir>",
		Short: "Re-check a saved history without re-running the server",
		Long: `recheck reads a spec's artifact folder (history.json, spec.json, faults.json)
and runs the history checkers on it again, printing what they find: every check
the spec ran (spec.json records them with their parameters: durability from its
restart point, atomicity with its accounts, ...), and every other checker whose
inputs the folder holds: integrity and batch snapshots (the history), TTLs (writes
with a TTL), eviction (a --max-memory in the server's arguments), and
linearizability with porcupine when the spec recorded no checks. Each checker it
skips is named with the reason. It exits non-zero when a check fails or is
inconclusive (1), or when the folder cannot be read (2).`,
		Example: `  kvchaos recheck reports/artifacts/store-keeps-acknowledged-writes-b774ad`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := rechecks(args[0], cmd.OutOrStdout())
			if err != nil && recheckFailed(err) {
				// The verdicts are already written; say it once more, short.
				fmt.Fprintln(cmd.OutOrStdout(), "recheck: FAILED:", firstLine(err.Error()))
				return errSpecsFailed
			}
			return err
		},
	}
}
