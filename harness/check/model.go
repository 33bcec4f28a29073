package check

import (
	"fmt"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/kvchaos/kvchaos/harness"
)

// The register model: one register per key, partitioned by key, so porcupine
// checks each key on its own. A state is whether the key exists, the sha256
// of its value and its revision (0 when an indeterminate write left it
// unknown; the next read that reports a revision pins it).
//
// Writes whose outcome is unknown (timeout, reset) get an open-ended return
// time (etcd's convention): they may take effect at any moment after their
// call, or never (the end of time). A conditional write whose condition
// cannot be decided (revision unknown) may go either way, so the model is
// nondeterministic (porcupine's power-set construction).
//
// Successful writes of a key also form a chain: each names the revision of
// the write before it (Prev, filled by tighten), and may only apply on top
// of it — unless a write of unknown outcome may have come in between
// (Loose). This rules out, at the first step, orders that revisions forbid.
type regState struct {
	Exists bool
	Value  string // sha256 hex
	Rev    uint64
	Loose  bool
}

// subOp is one step on a single key: a put, a delete, a get or a check, as
// a single request or as the projection of a batch onto the key.
type subOp struct {
	Op       string // set, delete, get, check
	Value    string // set: sha256
	IfMatch  uint64 // set/delete/check: required revision
	IfAbsent bool   // set/check: key must not exist
	// MustExist: a single DELETE of an absent key fails (404).
	MustExist bool
	// Saw is what a successful write's answer said about the key just
	// before it: a PUT answered 201 Created or a delete answered
	// deleted:false saw it absent, a PUT answered 200 or a delete answered
	// deleted:true saw it present.
	Saw seen
	// Index is the op's index in its batch (0 for a single request).
	Index int
	// Get results (batch get or single get).
	Found    bool
	GotValue string
	GotRev   uint64
}

// seen is an answer's word on whether a key existed.
type seen int8

const (
	seenNothing seen = iota
	seenAbsent
	seenPresent
)

// holds says whether the observation agrees with s.
func (o seen) holds(s regState) bool {
	return o == seenNothing || (o == seenPresent) == s.Exists
}

// regInput is one porcupine operation on one key.
type regInput struct {
	Ops []subOp
	// Op is the index of the artifact.Op in the history it came from.
	Op int
	// Chained: Prev is the revision of the key's previous successful
	// write (0: none), which this write must follow.
	Chained bool
	Prev    uint64
}

// regOutput says how the operation ended.
type regOutput struct {
	Unknown bool
	// Failed is a definite failure with an observation: a condition did
	// not hold (412, 409 at FailedIndex, 404 on a single delete).
	Failed      bool
	FailedIndex int
	// Rev is the revision a successful write committed at (0 for reads).
	Rev uint64
}

// apply runs the sub-ops of a successful write or read on s. It returns
// false when an observation contradicts s.
func apply(s regState, in regInput, out regOutput) (bool, regState) {
	wrote := false
	// orderOK checks the first write of the op: revisions rise, and a
	// chained write follows its predecessor.
	orderOK := func() bool {
		if wrote || out.Rev == 0 {
			return true
		}
		wrote = true
		if s.Rev != 0 && out.Rev <= s.Rev {
			return false
		}
		return !in.Chained || s.Loose || s.Rev == in.Prev
	}
	for _, o := range in.Ops {
		switch o.Op {
		case harness.BatchSet:
			if !condHolds(s, o) || !o.Saw.holds(s) || !orderOK() {
				return false, s
			}
			s = regState{Exists: true, Value: o.Value, Rev: out.Rev, Loose: out.Rev == 0}
		case harness.BatchDelete:
			if !condHolds(s, o) || (o.MustExist && !s.Exists) || !o.Saw.holds(s) || !orderOK() {
				return false, s
			}
			s = regState{Rev: out.Rev, Loose: out.Rev == 0}
		case harness.BatchCheck:
			if !condHolds(s, o) {
				return false, s
			}
			if o.IfMatch != 0 {
				s.Rev = o.IfMatch
			}
		case harness.BatchGet:
			if o.Found != s.Exists {
				return false, s
			}
			if o.Found {
				if o.GotValue != s.Value || (s.Rev != 0 && o.GotRev != 0 && o.GotRev != s.Rev) {
					return false, s
				}
				if s.Rev == 0 {
					s.Rev = o.GotRev
				}
			}
		}
	}
	return true, s
}

// condHolds evaluates an op's condition; an unknown revision matches any.
func condHolds(s regState, o subOp) bool {
	if o.IfAbsent && s.Exists {
		return false
	}
	if o.IfMatch != 0 && (!s.Exists || (s.Rev != 0 && s.Rev != o.IfMatch)) {
		return false
	}
	return true
}

// condCanFail says whether an op's condition could be false in s.
func condCanFail(s regState, o subOp) bool {
	switch {
	case o.IfAbsent:
		return s.Exists
	case o.IfMatch != 0:
		return !s.Exists || s.Rev == 0 || s.Rev != o.IfMatch
	case o.MustExist:
		return !s.Exists
	}
	return false
}

func step(state, input, output any) []any {
	s, in, out := state.(regState), input.(regInput), output.(regOutput)
	switch {
	case out.Unknown:
		// Took effect (if its conditions can hold) or did not.
		next := []any{s}
		unknownRev := out
		unknownRev.Rev = 0
		if ok, ns := apply(s, in, unknownRev); ok {
			next = append(next, ns)
		}
		return next
	case out.Failed:
		// Nothing applied; ops before the failed one held, it did not.
		cur := s
		for _, o := range in.Ops {
			if o.Index == out.FailedIndex {
				if !condCanFail(cur, o) {
					return nil
				}
				return []any{s}
			}
			if o.Index > out.FailedIndex {
				break
			}
			ok, ns := apply(cur, regInput{Ops: []subOp{o}}, regOutput{})
			if !ok {
				return nil
			}
			cur = ns
		}
		return []any{s} // the failed op was on another key
	default:
		if ok, ns := apply(s, in, out); ok {
			return []any{ns}
		}
		return nil
	}
}

// registerModel is porcupine's model of the store, partitioned by key.
var registerModel = (&porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Metadata.(opMeta).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []any { return []any{regState{}} },
	Step: step,
	DescribeOperation: func(input, output any) string {
		return describeReg(input.(regInput), output.(regOutput))
	},
	DescribeState: func(state any) string {
		s := state.(regState)
		if !s.Exists {
			return "absent"
		}
		rev := "?"
		if s.Rev != 0 {
			rev = fmt.Sprint(s.Rev)
		}
		return fmt.Sprintf("%s @%s", short(s.Value), rev)
	},
	DescribeOperationMetadata: func(info any) string {
		if m, ok := info.(opMeta); ok {
			return m.Text
		}
		return ""
	},
}).ToModel()

// opMeta travels with each porcupine operation.
type opMeta struct {
	Key  string
	Text string
	// Role and Rev feed tighten: a successful write of the key committed
	// at Rev, or a successful read that saw the key at Rev.
	Role role
	Rev  uint64
}

// role is what an operation tells about a key's revision order.
type role int

const (
	roleOther role = iota
	roleWrite
	roleRead
	// roleCASFail is a write refused by If-Match Rev (412).
	roleCASFail
	// roleUnknownWrite is a write whose outcome is unknown.
	roleUnknownWrite
	// roleAbsent saw the key absent: a get that found nothing, a DELETE
	// answered 404.
	roleAbsent
	// rolePresent saw the key exist without a revision: a PUT refused by
	// If-None-Match.
	rolePresent
)

func describeReg(in regInput, out regOutput) string {
	s := ""
	for i, o := range in.Ops {
		if i > 0 {
			s += "; "
		}
		switch o.Op {
		case harness.BatchSet:
			s += "put " + short(o.Value)
		case harness.BatchGet:
			if o.Found {
				s += fmt.Sprintf("get → %s @%d", short(o.GotValue), o.GotRev)
			} else {
				s += "get → absent"
			}
		case harness.BatchCheck:
			if o.IfAbsent {
				s += "check absent"
			} else {
				s += fmt.Sprintf("check @%d", o.IfMatch)
			}
		default:
			s += o.Op
		}
		if o.Op == harness.BatchSet && o.IfMatch != 0 {
			s += fmt.Sprintf(" if @%d", o.IfMatch)
		}
		if o.IfAbsent && o.Op != harness.BatchCheck {
			s += " if absent"
		}
		switch o.Saw {
		case seenAbsent:
			s += " (was absent)"
		case seenPresent:
			s += " (was present)"
		}
	}
	switch {
	case out.Unknown:
		s += " → ?"
	case out.Failed:
		s += fmt.Sprintf(" → failed at op %d", out.FailedIndex)
	case out.Rev != 0:
		s += fmt.Sprintf(" → @%d", out.Rev)
	}
	return s
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	if sha == "" {
		return "∅"
	}
	return sha
}
