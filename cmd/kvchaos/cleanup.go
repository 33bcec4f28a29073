package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// cleanupFunc removes what an interrupted run left (processes, mounts,
// cgroups, temp dirs), writing a line per thing removed. It has the shape of
// fault.Cleanup; cleanups holds the implementation.
type cleanupFunc func(ctx context.Context, w io.Writer) error

func newCleanupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "Remove what an interrupted run left behind",
		Long: `cleanup finds and removes kvserver processes and tracers started by kvchaos,
kvchaos mounts (tmpfs, FUSE) and their temp dirs, and kvchaos cgroups, and
says what it removed. It acts on the whole machine: do not run it while
another kvchaos run is going on. Needs root for mounts and cgroups.`,
		Example: `  sudo kvchaos cleanup`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			cw := &countingWriter{w: w}
			if err := cleanups(cmd.Context(), cw); err != nil {
				return fmt.Errorf("cleanup: %w", err)
			}
			if cw.n == 0 {
				fmt.Fprintln(w, "cleanup: nothing to remove")
			}
			return nil
		},
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += n
	return n, err
}
