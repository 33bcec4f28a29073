package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/kvchaos/kvchaos/server/store"
)

// runTool runs `kvserver check` or `kvserver repair` on --data-dir.
func runTool(name string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kvserver "+name, flag.ContinueOnError)
	var dir string
	fs.StringVar(&dir, "data-dir", "", "data directory to "+name)
	if err := parseArgs(fs, args, getenv, stdout); err != nil {
		if err == errHelp {
			return 0
		}
		return usageError(stderr, err)
	}
	if dir == "" {
		return usageError(stderr, fmt.Errorf("%s: --data-dir is required", name))
	}
	tool := store.Check
	if name == "repair" {
		tool = store.Repair
	}
	if err := tool(dir, stdout); err != nil {
		return fatal(stderr, "%s %s: %v", name, dir, err)
	}
	return 0
}
