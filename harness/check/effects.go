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
	// TTL is the TTL argument of a set ("" for none).
	TTL string
	// Rev is the revision the write committed at (0 when unknown).
	Rev uint64
	Op  artifact.Op
}

// writeEffects lists every write sub-op of an op that took effect or may
// have (outcome ok or unknown), in the op's order; a definite failure has
// none. A batch may write one key several times: finalEffects keeps the
// last.
func writeEffects(op artifact.Op) []effect {
	if op.Outcome == artifact.OutcomeFail {
		return nil
	}
	in, err := harness.DecodeInput(op.Input)
	if err != nil {
		return nil
	}
	var rev uint64
	if op.Outcome == artifact.OutcomeOK {
		out, _ := harness.DecodeOutput(op.Output)
		rev = out.Revision
	}
	switch op.Kind {
	case harness.KindPut, harness.KindCAS:
		if in.Value == nil {
			return []effect{{Key: op.Key, Rev: rev, Op: op}} // conditional delete
		}
		return []effect{{Key: op.Key, Present: true, Value: *in.Value, TTL: in.TTL, Rev: rev, Op: op}}
	case harness.KindDelete:
		return []effect{{Key: op.Key, Rev: rev, Op: op}}
	case harness.KindBatch:
		var out []effect
		for _, b := range in.Ops {
			switch b.Op {
			case harness.BatchSet:
				e := effect{Key: b.Key, Present: true, TTL: b.TTL, Rev: rev, Op: op}
				if b.Ref != nil {
					e.Value = *b.Ref
				}
				out = append(out, e)
			case harness.BatchDelete:
				out = append(out, effect{Key: b.Key, Rev: rev, Op: op})
			}
		}
		return out
	}
	return nil
}

// finalEffects is writeEffects with one effect per key: the state the op
// leaves the key in. A batch applies its ops in order, so of
// [set k, delete k] only the delete remains, and of [delete k, set k] only
// the set.
func finalEffects(op artifact.Op) []effect {
	all := writeEffects(op)
	if len(all) < 2 {
		return all
	}
	last := map[string]int{}
	for i, e := range all {
		last[e.Key] = i
	}
	out := all[:0:0]
	for i, e := range all {
		if last[e.Key] == i {
			out = append(out, e)
		}
	}
	return out
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
