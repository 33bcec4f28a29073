package main

import (
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var in string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Re-render junit.xml, index.html and summary.md from a run's report.json",
		Long: `report reads <in>/report.json, run.json and the artifact folders the specs
name, and writes junit.xml, index.html and summary.md again (history.jsonl is
not appended to). Use it on a report directory copied from CI, or after
changing kvchaos. It exits 1 when the run had failures.`,
		Example: `  kvchaos report
  kvchaos report --in ./downloaded-ci-artifacts/reports`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return render(in, false, 0, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&in, "in", "reports", "report directory")
	return cmd
}
