package check

import (
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// effect is what a write op does to one key if it takes effect.
type effect struct {
	Key     string
	Present bool // false: the key is deleted
	Value   harness.ValueRef
	TTL     bool
	Op      artifact.Op
}

// writeEffects lists the effects of a write op that took effect or may have
// (outcome ok or unknown); a definite failure has none.
func writeEffects(op artifact.Op) []effect {
	if op.Outcome == artifact.OutcomeFail {
		return nil
	}
	in, err := harness.DecodeInput(op.Input)
	if err != nil {
		return nil
	}
	switch op.Kind {
	case harness.KindPut, harness.KindCAS:
		if in.Value == nil {
			return []effect{{Key: op.Key, Op: op}} // conditional delete
		}
		return []effect{{Key: op.Key, Present: true, Value: *in.Value, TTL: in.TTL != "", Op: op}}
	case harness.KindDelete:
		return []effect{{Key: op.Key, Op: op}}
	case harness.KindBatch:
		var out []effect
		for _, b := range in.Ops {
			switch b.Op {
			case harness.BatchSet:
				e := effect{Key: b.Key, Present: true, TTL: b.TTL != "", Op: op}
				if b.Ref != nil {
					e.Value = *b.Ref
				}
				out = append(out, e)
			case harness.BatchDelete:
				out = append(out, effect{Key: b.Key, Op: op})
			}
		}
		return out
	}
	return nil
}

// read is one observation of a key's value by a successful get.
type read struct {
	Key   string
	Found bool
	Value harness.ValueRef
	Rev   uint64
	Op    artifact.Op
}

// reads lists what a successful get or batch observed.
func reads(op artifact.Op) []read {
	if op.Outcome != artifact.OutcomeOK {
		return nil
	}
	out, err := harness.DecodeOutput(op.Output)
	if err != nil {
		return nil
	}
	switch op.Kind {
	case harness.KindGet:
		r := read{Key: op.Key, Found: out.Found, Rev: out.Revision, Op: op}
		if out.Value != nil {
			r.Value = *out.Value
		}
		return []read{r}
	case harness.KindBatch:
		var rs []read
		for _, res := range out.Results {
			if res.Op != harness.BatchGet {
				continue
			}
			r := read{Key: res.Key, Found: res.Found, Rev: res.Revision, Op: op}
			if res.Ref != nil {
				r.Value = *res.Ref
			}
			rs = append(rs, r)
		}
		return rs
	}
	return nil
}
