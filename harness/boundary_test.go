package harness

import (
	"os/exec"
	"strings"
	"testing"
)

// serverPkg is the root of the server's packages.
const serverPkg = "github.com/kvchaos/kvchaos/server"

// serverImporters lists "pkg imports server/x" for every package in the
// dependency graph of pattern (tests included) that is not itself part of
// the server but imports one of the server's packages.
func serverImporters(t *testing.T, pattern string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-test",
		"-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, pattern)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "matched no packages") {
			t.Skipf("%s: no packages yet", pattern)
		}
		t.Fatalf("go list %s: %v\n%s", pattern, err, out)
	}
	var bad []string
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] == serverPkg || strings.HasPrefix(fields[0], serverPkg+"/") {
			continue
		}
		for _, imp := range fields[1:] {
			if imp == serverPkg || strings.HasPrefix(imp, serverPkg+"/") {
				bad = append(bad, fields[0]+" imports "+imp)
			}
		}
	}
	return bad
}

// TestBlackBox fails when any package under harness/, fault/, suites/ or
// reports/ (tests included) depends on the server's packages: they must
// reach the server only over HTTP, signals, its process and its data dir.
func TestBlackBox(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	for _, pattern := range []string{"./harness/...", "./fault/...", "./suites/...", "./reports/..."} {
		t.Run(pattern, func(t *testing.T) {
			for _, b := range serverImporters(t, pattern) {
				t.Errorf("%s: black-box packages must not import the server", b)
			}
		})
	}
}

// TestBlackBoxCheckBites runs the same detection on the server's own main,
// which must import the server: a detector that finds nothing there is
// broken.
func TestBlackBoxCheckBites(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	if len(serverImporters(t, "./cmd/kvserver")) == 0 {
		t.Fatal("cmd/kvserver imports the server, but the detector found nothing")
	}
}
