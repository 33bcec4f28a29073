package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Recheck re-runs the checkers on a spec's artifact folder (spec.json,
// history.json, faults.json) without a server: every check the spec
// recorded, with its parameters, and every other checker whose inputs the
// artifacts hold — integrity and snapshot (the history), TTL (writes with
// a TTL), eviction (a --max-memory in spec.json's server arguments), and
// linearizability when the spec recorded no checks at all. It writes each
// verdict to w, names each checker it skipped and why, and returns an
// error when any check that ran failed or was inconclusive.
func Recheck(dir string, w io.Writer) error {
	var spec artifact.Spec
	if err := readJSON(filepath.Join(dir, artifact.SpecFile), &spec); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("recheck %s: %w", dir, err)
	}
	h, err := harness.ReadHistory(filepath.Join(dir, artifact.HistoryFile))
	if err != nil {
		return fmt.Errorf("recheck %s: %w", dir, err)
	}
	var faults []artifact.FaultEvent
	if err := readJSON(filepath.Join(dir, artifact.FaultsFile), &faults); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("recheck %s: %w", dir, err)
	}
	if spec.Text != "" {
		fmt.Fprintf(w, "spec: %s (seed %d)\n", spec.Text, spec.Seed)
	}
	fmt.Fprintf(w, "history: %d ops, %d fault events\n", len(h), len(faults))
	run, skipped := plan(spec, h, faults)
	var errs []error
	for _, c := range run {
		res := Run(c, h, faults, dir, WithServerArgs(spec.ServerArgs), WithServerEnv(spec.ServerEnv))
		fmt.Fprint(w, res.String())
		if err := res.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	for _, s := range skipped {
		fmt.Fprintf(w, "%s: skipped: %s\n", s.name, s.why)
	}
	if len(errs) > 0 {
		return fmt.Errorf("recheck %s: %d of %d checks failed: %w", dir, len(errs), len(run), errors.Join(errs...))
	}
	return nil
}

// skip is a checker Recheck did not run, and why.
type skip struct{ name, why string }

// plan picks the checks to re-run: those the spec recorded, then every
// other checker whose inputs the artifacts hold and whose premises they
// meet; the rest are skipped with the reason.
func plan(spec artifact.Spec, h []artifact.Op, faults []artifact.FaultEvent) ([]artifact.CheckSpec, []skip) {
	run := slices.Clone(spec.Checks)
	recorded := func(name string) bool {
		return slices.ContainsFunc(run, func(c artifact.CheckSpec) bool { return c.Name == name })
	}
	var skipped []skip
	add := func(name, why string) {
		if recorded(name) {
			return
		}
		if why != "" {
			skipped = append(skipped, skip{name, why})
			return
		}
		run = append(run, artifact.CheckSpec{Name: name})
	}
	args := append(EnvFlags(spec.ServerEnv), spec.ServerArgs...)
	mem := memoryOf(args)
	ttlKeys := keysWithTTL(h)
	why := ""
	switch {
	case len(spec.Checks) > 0:
		why = "the spec did not run it: its faults or --sync may lose acknowledged writes, which the register model reports as violations"
	case lossy(faults, args) != "":
		why = fmt.Sprintf("the run's faults (%s) may lose acknowledged writes within the server's promise, which the register model reports as violations, and the spec recorded no check saying what it allows",
			lossy(faults, args))
	case mem.evicts():
		why = fmt.Sprintf("the server may evict keys (%s), which the register model cannot tell from lost writes; the eviction check covers them", mem)
	case len(ttlKeys) > 0:
		why = fmt.Sprintf("%d key(s) were written with a TTL and may expire without an op in the history; the ttl check covers them", len(ttlKeys))
	}
	add(NameLinearizable, why)
	add(NameIntegrity, "")
	why = ""
	switch {
	case recorded(NameLinearizable):
		why = "the linearizability check includes it"
	case Snapshot(h, nil).Checked == 0:
		why = "no batch in the history found a key"
	}
	add(NameSnapshot, why)
	add(NameTTL, TTL(h, Inputs{}).Inconclusive) // inconclusive only when nothing has a TTL
	why = ""
	switch {
	case len(args) == 0:
		why = "spec.json records no server arguments or KVSERVER_* variables, so no --max-memory"
	case !mem.limited():
		why = "the server ran without --max-memory"
	}
	add(NameEviction, why)
	add(NameDurable, "needs the moment of the restart or crash it judges from, which the spec chooses and spec.json records only for a durability check it ran")
	add(NameAtomicity, "needs the accounts and the total they keep, which spec.json records only for an atomicity check the spec ran")
	add(NameCounter, "needs the counter's key, which spec.json records only for a counter check the spec ran")
	return run, skipped
}

// lossy names the faults of a timeline that may make a correct server lose
// acknowledged writes: damage to its files (torn-write, corrupt,
// crash-states) under any --sync, and power-loss unless --sync is always
// (the default). Process faults (kill, pause, crashloop, ...) lose nothing
// acknowledged: the page cache outlives the process.
func lossy(faults []artifact.FaultEvent, args []string) string {
	sync := "always"
	for i, a := range args {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "sync" || !strings.HasPrefix(a, "-") {
			continue
		}
		if !ok && i+1 < len(args) {
			value = args[i+1]
		}
		sync = value
	}
	var names []string
	for _, f := range faults {
		switch f.Name {
		case "torn-write", "corrupt", "crash-states":
		case "power-loss":
			if sync == "always" {
				continue
			}
			f.Name += " under --sync " + sync
		default:
			continue
		}
		if !slices.Contains(names, f.Name) {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
