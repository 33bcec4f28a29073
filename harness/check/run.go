package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Run runs one checker, as named and parameterised by spec, over a history.
// faults annotate a linearizability visualisation, written to
// dir/porcupine.html on failure when dir is not empty.
func Run(spec artifact.CheckSpec, h []artifact.Op, faults []artifact.FaultEvent, dir string) Result {
	switch spec.Name {
	case NameLinearizable:
		o := LinearizableOptions{Timeout: time.Duration(spec.TimeoutSeconds * float64(time.Second)), Faults: faults}
		if dir != "" {
			o.VisualizePath = filepath.Join(dir, artifact.PorcupineFile)
		}
		return Linearizable(h, o)
	case NameDurable:
		return Durable(h, spec.From)
	case NameIntegrity:
		return Integrity(h)
	case NameAtomicity:
		return Atomicity(h, spec.Keys, spec.Total)
	case NameCounter:
		if len(spec.Keys) != 1 {
			return Result{Check: NameCounter, Inconclusive: "a counter check needs exactly one key"}
		}
		return Counter(h, spec.Keys[0], spec.From)
	}
	return Result{Check: spec.Name, Inconclusive: fmt.Sprintf("unknown checker %q", spec.Name)}
}

// Recheck re-runs the checkers recorded in a spec's artifact folder (its
// spec.json names them; without any, integrity and linearizability) over
// the saved history and fault timeline, without a server. It writes each
// verdict to w and returns an error when any check fails or is
// inconclusive.
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
	checks := spec.Checks
	if len(checks) == 0 {
		checks = []artifact.CheckSpec{{Name: NameIntegrity}, {Name: NameLinearizable}}
	}
	if spec.Text != "" {
		fmt.Fprintf(w, "spec: %s (seed %d)\n", spec.Text, spec.Seed)
	}
	fmt.Fprintf(w, "history: %d ops, %d fault events\n", len(h), len(faults))
	var errs []error
	for _, c := range checks {
		res := Run(c, h, faults, dir)
		fmt.Fprint(w, res.String())
		if err := res.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("recheck %s: %d of %d checks failed: %w", dir, len(errs), len(checks), errors.Join(errs...))
	}
	return nil
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
