package check

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// RunOption adds to what Run knows of the run besides the history and its
// faults.
type RunOption func(*Inputs)

// WithServerArgs gives Run the server's arguments (artifact.Spec.ServerArgs):
// the eviction check reads its memory limit from them, and an evicting
// server makes the linearizability check inconclusive.
func WithServerArgs(args []string) RunOption {
	return func(in *Inputs) { in.ServerArgs = append(in.ServerArgs, args...) }
}

// WithServerEnv gives Run the server's KVSERVER_* variables
// (artifact.Spec.ServerEnv), read as the flags they stand for, before the
// arguments.
func WithServerEnv(env []string) RunOption {
	return func(in *Inputs) { in.ServerArgs = append(EnvFlags(env), in.ServerArgs...) }
}

// Run runs one checker, as named and parameterised by spec, over a history.
// faults annotate a linearizability visualisation, written to
// dir/porcupine.html on failure when dir is not empty, and excuse what a
// fault may explain in the snapshot, TTL and eviction checks.
func Run(spec artifact.CheckSpec, h []artifact.Op, faults []artifact.FaultEvent, dir string, opts ...RunOption) Result {
	in := Inputs{Faults: faults}
	for _, o := range opts {
		o(&in)
	}
	switch spec.Name {
	case NameLinearizable:
		o := LinearizableOptions{Timeout: time.Duration(spec.TimeoutSeconds * float64(time.Second)), Faults: faults, ServerArgs: in.ServerArgs}
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
	case NameSnapshot:
		return Snapshot(h, faults)
	case NameTTL:
		return TTL(h, in)
	case NameEviction:
		in.HotKeys, in.HotFrom = spec.Keys, spec.From
		return Eviction(h, in)
	}
	return Result{Check: spec.Name, Inconclusive: fmt.Sprintf("unknown checker %q", spec.Name)}
}
