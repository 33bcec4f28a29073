package check

import (
	"math"
	"net/http"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

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
