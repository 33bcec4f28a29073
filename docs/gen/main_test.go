package gen

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// repoRoot is the checkout the tests render from.
var repoRoot string

// kvserverBin and kvchaosBin are built once for the tests that run them.
var kvserverBin, kvchaosBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := FindRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "kvchaos-docs-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kvserverBin = filepath.Join(dir, "kvserver")
	kvchaosBin = filepath.Join(dir, "kvchaos")
	for bin, pkg := range map[string]string{kvserverBin: "./cmd/kvserver", kvchaosBin: "./cmd/kvchaos"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}
