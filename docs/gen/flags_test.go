package gen

import (
	"context"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// otherFlags are the flags of other tools the pages show (ginkgo, curl,
// strace); every other --flag must be kvserver's or kvchaos's.
var otherFlags = map[string]string{
	"label-filter": "ginkgo", "focus": "ginkgo", "seed": "ginkgo", "keep-going": "ginkgo",
	"data-binary": "curl", "inject": "strace",
}

var reFlag = regexp.MustCompile(`--[a-z][a-z0-9]*(-[a-z0-9]+)*`)

// TestDocsNameRealFlags fails when a generated page names a --flag that
// neither kvserver nor any kvchaos command has: renaming a flag without
// updating the docs turns the tests red.
func TestDocsNameRealFlags(t *testing.T) {
	known := map[string]string{}
	flags, err := serverFlags(context.Background(), kvserverBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		known[f.Name] = "kvserver"
	}
	for _, f := range kvchaosFlags(t) {
		if _, ok := known[f]; !ok {
			known[f] = "kvchaos"
		}
	}
	for f, tool := range otherFlags {
		if _, ok := known[f]; !ok {
			known[f] = tool
		}
	}
	if known["sync"] != "kvserver" || known["server-bin"] != "kvchaos" {
		t.Fatalf("flag discovery failed: sync=%q server-bin=%q", known["sync"], known["server-bin"])
	}
	files, err := Render(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sortedKeys(files) {
		for _, f := range unknownFlags(string(files[p]), known) {
			t.Errorf("%s names %s, which neither kvserver nor kvchaos (nor %v) has", p, f, sortedKeys(otherFlags))
		}
	}
	// A planted rename must be caught.
	if got := unknownFlags("run `kvserver --max-mem 1GiB` and `kvchaos run --sever-bin x`", known); len(got) != 2 {
		t.Fatalf("planted unknown flags found: %v, want --max-mem and --sever-bin", got)
	}
}

// unknownFlags returns the --flags in text that known lacks.
func unknownFlags(text string, known map[string]string) []string {
	var out []string
	for _, m := range reFlag.FindAllString(text, -1) {
		if _, ok := known[strings.TrimPrefix(m, "--")]; !ok {
			out = append(out, m)
		}
	}
	return out
}

// kvchaosFlags collects the long flags of every kvchaos command and
// subcommand from their --help.
func kvchaosFlags(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(args ...string)
	walk = func(args ...string) {
		out, err := exec.Command(kvchaosBin, append(args, "--help")...).Output()
		if err != nil {
			t.Fatalf("kvchaos %v --help: %v", args, err)
		}
		text := string(out)
		if _, flagsPart, ok := strings.Cut(text, "Flags:"); ok {
			for _, m := range reFlag.FindAllString(flagsPart, -1) {
				seen[strings.TrimPrefix(m, "--")] = true
			}
		}
		_, cmds, ok := strings.Cut(text, "Available Commands:")
		if !ok {
			return
		}
		cmds, _, _ = strings.Cut(cmds, "\n\n")
		for _, l := range strings.Split(strings.TrimSpace(cmds), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] != "help" && f[0] != "completion" {
				walk(append(append([]string{}, args...), f[0])...)
			}
		}
	}
	walk()
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	if len(out) < 10 {
		t.Fatalf("only %d kvchaos flags found: %v", len(out), out)
	}
	return out
}
