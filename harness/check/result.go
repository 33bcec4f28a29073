// Package check decides whether a recorded history tells the truth: it holds
// the checkers (linearizability with porcupine, durability after restarts,
// integrity of every value read, atomicity of batches) and Recheck, which
// re-runs them on a saved artifact folder without a server.
//
// It also checks that batch reads see one snapshot, that TTLs are kept and
// that eviction removes keys cleanly. Every checker takes a history
// ([]artifact.Op, as recorded by harness.Client or read back from
// history.json) and returns a Result that collects every violation with its
// evidence, so a spec reports them all at once.
package check

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Names of the checkers (artifact.CheckSpec.Name).
const (
	NameLinearizable = "linearizability"
	NameDurable      = "durability"
	NameIntegrity    = "integrity"
	NameAtomicity    = "atomicity"
	NameCounter      = "counter"
	NameSnapshot     = "snapshot"
	NameTTL          = "ttl"
	NameEviction     = "eviction"
)

// ErrViolation is wrapped by the error of a Result with violations.
var ErrViolation = errors.New("history violates the server's guarantees")

// ErrInconclusive is wrapped by the error of a Result that could not decide
// (a porcupine timeout, keys that TTLs or eviction may remove without an op
// in the history) and found no violation. It is a failure, never a pass.
var ErrInconclusive = errors.New("check inconclusive")

// Violation is one thing the server did wrong, with its evidence.
type Violation struct {
	// Key is the key concerned ("" for a store-wide violation).
	Key string
	// Message says in plain words what was expected and what was seen.
	Message string
	// Ops are the operations that show it.
	Ops []artifact.Op
}

// Result is a checker's verdict. The zero value is a pass over nothing.
type Result struct {
	// Check is the checker's name.
	Check string
	// Checked counts the operations (or keys) examined.
	Checked    int
	Violations []Violation
	// Inconclusive, when set, says why the checker could not decide.
	Inconclusive string
	// Files are artifacts the checker wrote (porcupine.html).
	Files []string
}

// OK reports whether the check passed: no violation and a conclusion.
func (r Result) OK() bool { return len(r.Violations) == 0 && r.Inconclusive == "" }

// Err is nil for a pass, else an error whose text lists every violation
// (up to 20) with its evidence. Violations win over inconclusiveness: what
// was found is reported even when part of the history could not be judged.
func (r Result) Err() error {
	switch {
	case r.OK():
		return nil
	case len(r.Violations) > 0:
		return fmt.Errorf("%w\n%s", ErrViolation, r.String())
	}
	return fmt.Errorf("%s: %w: %s", r.Check, ErrInconclusive, r.Inconclusive)
}

// String is a human summary of the result.
func (r Result) String() string {
	var b strings.Builder
	switch {
	case len(r.Violations) > 0:
		fmt.Fprintf(&b, "%s: %d violation(s) in %d checked:\n", r.Check, len(r.Violations), r.Checked)
		if r.Inconclusive != "" {
			fmt.Fprintf(&b, "  (and inconclusive: %s)\n", r.Inconclusive)
		}
	case r.Inconclusive != "":
		fmt.Fprintf(&b, "%s: INCONCLUSIVE over %d ops: %s\n", r.Check, r.Checked, r.Inconclusive)
	default:
		fmt.Fprintf(&b, "%s: ok (%d checked)\n", r.Check, r.Checked)
	}
	for i, v := range r.Violations {
		if i == 20 {
			fmt.Fprintf(&b, "  … and %d more\n", len(r.Violations)-20)
			break
		}
		fmt.Fprintf(&b, "  - %s\n", v.Message)
		for j, op := range v.Ops {
			if j == 6 {
				fmt.Fprintf(&b, "      … %d more ops\n", len(v.Ops)-6)
				break
			}
			fmt.Fprintf(&b, "      %s\n", Describe(op))
		}
	}
	for _, f := range r.Files {
		fmt.Fprintf(&b, "  see %s\n", f)
	}
	return b.String()
}

// Describe renders one op for a message:
// "client 3 put "k" = sha256:ab12… (64 bytes) [1.203s–1.207s] ok rev 17".
func Describe(op artifact.Op) string {
	in, _ := harness.DecodeInput(op.Input)
	out, _ := harness.DecodeOutput(op.Output)
	var b strings.Builder
	fmt.Fprintf(&b, "client %d %s %q", op.Client, op.Kind, op.Key)
	switch op.Kind {
	case harness.KindPut, harness.KindCAS:
		if in.Value != nil {
			fmt.Fprintf(&b, " = %s", in.Value)
		}
		if in.IfMatch != 0 {
			fmt.Fprintf(&b, " if-match %d", in.IfMatch)
		}
		if in.IfNoneMatch {
			b.WriteString(" if-none-match")
		}
	case harness.KindBatch:
		parts := make([]string, len(in.Ops))
		for i, o := range in.Ops {
			parts[i] = describeBatchOp(o)
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(parts, "; "))
	}
	if in.TTL != "" {
		fmt.Fprintf(&b, " ttl %s", in.TTL)
	}
	ret := fmt.Sprintf("%.3fs", op.Return)
	if op.Outcome == artifact.OutcomeUnknown {
		ret = "?"
	}
	fmt.Fprintf(&b, " [%.3fs–%s] %s", op.Call, ret, op.Outcome)
	if op.Error != "" {
		fmt.Fprintf(&b, " (%s)", op.Error)
	}
	if op.Outcome == artifact.OutcomeOK {
		switch {
		case (op.Kind == harness.KindGet || op.Kind == harness.KindHead) && !out.Found:
			b.WriteString(" → not found")
		case op.Kind == harness.KindGet && out.Value != nil:
			fmt.Fprintf(&b, " → %s rev %d", out.Value, out.Revision)
		case out.Revision != 0:
			fmt.Fprintf(&b, " rev %d", out.Revision)
		}
		for _, r := range out.Results {
			if r.Op == harness.BatchGet {
				if r.Found && r.Ref != nil {
					fmt.Fprintf(&b, " get %q → %s", r.Key, r.Ref)
				} else {
					fmt.Fprintf(&b, " get %q → not found", r.Key)
				}
			}
		}
	}
	return b.String()
}

func describeBatchOp(o harness.BatchOp) string {
	switch o.Op {
	case harness.BatchSet:
		if o.Ref != nil {
			return fmt.Sprintf("set %q=%s", o.Key, o.Ref)
		}
		return fmt.Sprintf("set %q", o.Key)
	case harness.BatchCheck:
		if o.Exists != nil && !*o.Exists {
			return fmt.Sprintf("check %q absent", o.Key)
		}
		return fmt.Sprintf("check %q rev %d", o.Key, o.Revision)
	}
	return fmt.Sprintf("%s %q", o.Op, o.Key)
}
