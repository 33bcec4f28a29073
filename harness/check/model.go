package check

import (
	"fmt"
	"math"
	"net/http"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
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

// never is the return time of an operation whose outcome is unknown.
const never = math.MaxInt64 / 2

func nanos(sec float64) int64 { return int64(sec * 1e9) }

// toPorcupine projects a history onto per-key register operations. Lists,
// failed ops without an observation (400, 413, 503, 507) and unknown reads
// are left out: they constrain nothing.
func toPorcupine(h []artifact.Op) ([]porcupine.Operation, error) {
	var ops []porcupine.Operation
	for i, op := range h {
		in, err := harness.DecodeInput(op.Input)
		if err != nil {
			return nil, err
		}
		out, err := harness.DecodeOutput(op.Output)
		if err != nil {
			return nil, err
		}
		perKey, ro, keep := project(op, in, out)
		if !keep {
			continue
		}
		ret := nanos(op.Return)
		if ro.Unknown {
			ret = never
		}
		keys := make([]string, 0, len(perKey))
		for k := range perKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			meta := opMeta{Key: k, Text: Describe(op)}
			switch {
			case op.Outcome == artifact.OutcomeOK:
				meta.Role, meta.Rev = roleOf(perKey[k], ro)
			case ro.Unknown:
				meta.Role = roleUnknownWrite
			case ro.Failed && len(perKey[k]) == 1:
				switch o := perKey[k][0]; {
				case o.Op == harness.BatchSet && o.IfMatch != 0:
					meta.Role, meta.Rev = roleCASFail, o.IfMatch
				case o.Op == harness.BatchSet && o.IfAbsent:
					meta.Role = rolePresent
				case o.Op == harness.BatchDelete && o.MustExist && o.IfMatch == 0:
					meta.Role = roleAbsent
				}
			}
			ops = append(ops, porcupine.Operation{
				ClientId: op.Client,
				Input:    regInput{Ops: perKey[k], Op: i},
				Call:     nanos(op.Call),
				Output:   ro,
				Return:   ret,
				Metadata: meta,
			})
		}
	}
	return ops, nil
}

// project turns one recorded op into sub-ops per key and an output.
func project(op artifact.Op, in harness.OpInput, out harness.OpOutput) (map[string][]subOp, regOutput, bool) {
	ro := regOutput{Rev: out.Revision}
	switch op.Outcome {
	case artifact.OutcomeUnknown:
		if op.Kind == harness.KindGet || op.Kind == harness.KindHead || op.Kind == harness.KindList {
			return nil, ro, false
		}
		ro.Unknown = true
	case artifact.OutcomeFail:
		switch {
		case op.Error == "PRECONDITION_FAILED":
		case op.Error == "KEY_NOT_FOUND" && op.Kind != harness.KindBatch:
		case op.Error == "BATCH_CONDITION_FAILED" && out.FailedOp != nil:
			ro.FailedIndex = *out.FailedOp
		default:
			return nil, ro, false // definitely not applied, nothing observed
		}
		ro.Failed = true
	}
	sub := map[string][]subOp{}
	value := func(r *harness.ValueRef) string {
		if r == nil {
			return ""
		}
		return r.SHA256
	}
	switch op.Kind {
	case harness.KindGet:
		s := subOp{Op: harness.BatchGet, Found: out.Found, GotValue: value(out.Value), GotRev: out.Revision}
		sub[op.Key] = []subOp{s}
		ro.Rev = 0
	case harness.KindPut, harness.KindCAS:
		if in.Value == nil { // a conditional delete
			s := subOp{Op: harness.BatchDelete, IfMatch: in.IfMatch, MustExist: true}
			if op.Outcome == artifact.OutcomeOK {
				s.Saw = sawDeleted(out.Found)
			}
			sub[op.Key] = []subOp{s}
			break
		}
		s := subOp{Op: harness.BatchSet, Value: value(in.Value), IfMatch: in.IfMatch, IfAbsent: in.IfNoneMatch}
		if op.Outcome == artifact.OutcomeOK {
			// 201 Created: the key was new; 200: it was overwritten.
			s.Saw = seenPresent
			if out.Created || op.Status == http.StatusCreated {
				s.Saw = seenAbsent
			}
		}
		sub[op.Key] = []subOp{s}
	case harness.KindDelete:
		s := subOp{Op: harness.BatchDelete, MustExist: true}
		if op.Outcome == artifact.OutcomeOK {
			s.Saw = sawDeleted(out.Found)
		}
		sub[op.Key] = []subOp{s}
	case harness.KindBatch:
		for i, b := range in.Ops {
			s := subOp{Op: b.Op, Index: i}
			var res *harness.BatchResult
			if op.Outcome == artifact.OutcomeOK && i < len(out.Results) && out.Results[i].Op == b.Op && out.Results[i].Key == b.Key {
				res = &out.Results[i]
			}
			switch b.Op {
			case harness.BatchSet:
				s.Value = value(b.Ref)
				if res != nil {
					s.Saw = seenPresent
					if res.Created {
						s.Saw = seenAbsent
					}
				}
			case harness.BatchDelete:
				if res != nil {
					s.Saw = sawDeleted(res.Deleted)
				}
			case harness.BatchCheck:
				s.IfMatch = b.Revision
				s.IfAbsent = b.Exists != nil && !*b.Exists
			case harness.BatchGet:
				if op.Outcome != artifact.OutcomeOK {
					continue
				}
				if i < len(out.Results) {
					r := out.Results[i]
					s.Found, s.GotValue = r.Found, value(r.Ref)
					if r.Found {
						s.GotRev = r.Revision
					}
				}
			}
			sub[b.Key] = append(sub[b.Key], s)
		}
	default:
		return nil, ro, false
	}
	return sub, ro, len(sub) > 0
}

// sawDeleted is what a delete's answer (deleted: true or false) says.
func sawDeleted(deleted bool) seen {
	if deleted {
		return seenPresent
	}
	return seenAbsent
}

// roleOf says whether a successful op's projection onto one key wrote it
// (at the op's commit revision) or only read it at a known revision.
func roleOf(sub []subOp, out regOutput) (role, uint64) {
	var readRev uint64
	for _, o := range sub {
		switch o.Op {
		case harness.BatchSet, harness.BatchDelete:
			if out.Rev != 0 {
				return roleWrite, out.Rev
			}
			return roleOther, 0
		case harness.BatchGet:
			if o.Found && o.GotRev != 0 && len(sub) == 1 {
				readRev = o.GotRev
			}
			if !o.Found && len(sub) == 1 {
				return roleAbsent, 0
			}
		}
	}
	if readRev != 0 {
		return roleRead, readRev
	}
	return roleOther, 0
}
