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

// kvserverBin is a kvserver built once for the tests that need a live one.
var kvserverBin string

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
	build := exec.Command("go", "build", "-o", kvserverBin, "./cmd/kvserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build kvserver: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
