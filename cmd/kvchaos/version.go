package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print kvchaos's version, commit and build time",
		Example: "  kvchaos version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "kvchaos %s (commit %s, built %s, %s %s/%s)\n",
				version, commit, orUnknown(buildTime), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
