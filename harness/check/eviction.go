package check

import (
	"fmt"
	"net/http"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Eviction checks what a history shows of a server under --max-memory
// (read from in.ServerArgs), the part of the eviction promise a history can
// show:
//
//   - a survivor is exact and current: a key found at revision r holds the
//     bytes of the write that made r, and r is not older than a write of
//     the key acknowledged before the read began (eviction removes keys,
//     it never brings back an old version);
//
//   - an evicted key is a clean 404: no read answers a 5xx (but 503, a
//     server starting) outside a fault window;
//
//   - with noeviction, nothing vanishes: a read that finds no key whose
//     last acknowledged write set it (with no TTL, no write or fault in
//     between) is a lost key.
//
//   - with an evicting policy and a hot set (in.HotKeys: keys the spec kept
//     in use), at least 95% of the hot keys read from in.HotFrom on are
//     still there: the policy evicted the cold keys, not the ones in use.
//
// What it cannot see — the dataset size against the limit — is the spec's
// to check live, from /metrics. Without a memory limit in the arguments the
// result is inconclusive.
func Eviction(h []artifact.Op, in Inputs) Result {
	res := Result{Check: NameEviction}
	mem := memoryOf(in.ServerArgs)
	if !mem.limited() {
		res.Inconclusive = "the server's arguments set no --max-memory: nothing was evictable"
		return res
	}
	writes := map[string][]effect{} // key -> every write that may have happened
	atRev := map[string]map[uint64]effect{}
	acked := map[string]*ackedWrites{}
	ttl := map[string]bool{}
	for _, op := range h {
		for _, e := range finalEffects(op) {
			writes[e.Key] = append(writes[e.Key], e)
			ttl[e.Key] = ttl[e.Key] || e.TTL != ""
			if e.Rev == 0 {
				continue
			}
			if atRev[e.Key] == nil {
				atRev[e.Key], acked[e.Key] = map[uint64]effect{}, &ackedWrites{}
			}
			atRev[e.Key][e.Rev] = e
			acked[e.Key].ws = append(acked[e.Key].ws, e)
		}
	}
	for _, a := range acked {
		a.index()
	}
	for _, op := range h {
		if v, ok := uncleanRead(op, in.Faults); ok {
			res.Checked++
			res.Violations = append(res.Violations, v)
			continue
		}
		for _, r := range reads(op) {
			if op.Kind == harness.KindBatch && writtenBefore(op, r.Key) {
				continue
			}
			res.Checked++
			var v *Violation
			switch {
			case r.Found:
				v = survivorProblem(r, acked[r.Key], atRev[r.Key], in.Faults)
			case !mem.evicts() && !ttl[r.Key]:
				v = vanished(r, writes[r.Key], in.Faults)
			}
			if v != nil {
				res.Violations = append(res.Violations, *v)
			}
		}
	}
	if mem.evicts() && len(in.HotKeys) > 0 {
		res.Checked++
		if v := hotLost(h, in); v != nil {
			res.Violations = append(res.Violations, *v)
		}
	}
	return res
}

// hotSurvival is the share of the hot set an evicting policy must keep.
const hotSurvival = 0.95

// hotLost flags a hot set that did not survive: of the hot keys read from
// in.HotFrom on (each judged by its last such read), fewer than 95% found.
func hotLost(h []artifact.Op, in Inputs) *Violation {
	hot := make(map[string]bool, len(in.HotKeys))
	for _, k := range in.HotKeys {
		hot[k] = true
	}
	last := map[string]read{}
	for _, op := range h {
		if op.Call < in.HotFrom || (op.Kind != harness.KindGet && op.Kind != harness.KindHead) {
			continue
		}
		for _, r := range reads(op) {
			if hot[r.Key] && (last[r.Key].Op.Kind == "" || r.Op.Call >= last[r.Key].Op.Call) {
				last[r.Key] = r
			}
		}
	}
	var alive int
	var gone []artifact.Op
	for _, r := range last {
		if r.Found {
			alive++
		} else if len(gone) < 5 {
			gone = append(gone, r.Op)
		}
	}
	if len(last) == 0 || float64(alive) >= hotSurvival*float64(len(last)) {
		return nil
	}
	return &Violation{Ops: gone,
		Message: fmt.Sprintf("the policy evicted keys in use: only %d of the %d hot keys read from %.3fs on survived (want at least %.0f%%)",
			alive, len(last), in.HotFrom, hotSurvival*100)}
}

// uncleanRead flags a read answered with a server error outside a fault
// window.
func uncleanRead(op artifact.Op, faults []artifact.FaultEvent) (Violation, bool) {
	if op.Kind != harness.KindGet && op.Kind != harness.KindHead {
		return Violation{}, false
	}
	if op.Status < 500 || op.Status == http.StatusServiceUnavailable || faultBetween(faults, op.Call, op.Return) {
		return Violation{}, false
	}
	return Violation{Key: op.Key, Ops: []artifact.Op{op},
		Message: fmt.Sprintf("key %q: the read at %.3fs answered %d %s; under memory pressure a key is either there or a clean 404",
			op.Key, op.Call, op.Status, op.Error)}, true
}

// survivorProblem checks a key found under memory pressure: exact bytes at
// its revision, and not older than what was acknowledged before the read.
func survivorProblem(r read, acked *ackedWrites, atRev map[uint64]effect, faults []artifact.FaultEvent) *Violation {
	if r.Rev == 0 {
		return nil
	}
	if w, ok := atRev[r.Rev]; ok && (!w.Present || w.Value.SHA256 != r.Value.SHA256) {
		want := "a delete"
		if w.Present {
			want = w.Value.String()
		}
		return &Violation{Key: r.Key, Ops: []artifact.Op{w.Op, r.Op},
			Message: fmt.Sprintf("key %q: the read at %.3fs found %s at revision %d, but the write of revision %d was %s",
				r.Key, r.Op.Call, r.Value, r.Rev, r.Rev, want)}
	}
	if w := acked.newer(r.Rev, r.Op.Call, faults); w != nil {
		return &Violation{Key: r.Key, Ops: []artifact.Op{w.Op, r.Op},
			Message: fmt.Sprintf("key %q: an old version survived: the read at %.3fs found revision %d, but revision %d had been acknowledged at %.3fs",
				r.Key, r.Op.Call, r.Rev, w.Rev, w.Op.Return)}
	}
	return nil
}

// vanished flags a key found absent although its last acknowledged write
// set it and nothing (no other write, no fault) came in between.
func vanished(r read, ws []effect, faults []artifact.FaultEvent) *Violation {
	last, ok := settledWrite(r, ws, faults)
	if !ok {
		return nil
	}
	return &Violation{Key: r.Key, Ops: []artifact.Op{last.Op, r.Op},
		Message: fmt.Sprintf("key %q: lost under noeviction: written at %.3fs (acknowledged at %.3fs) and found absent by the read at %.3fs",
			r.Key, last.Op.Call, last.Op.Return, r.Op.Call)}
}

// settledWrite is the write a read of a key must see when nothing else can
// explain what it found: the last write acknowledged before the read began,
// if it set the key (not a delete), no fault window lies between the two,
// and no other write of the key may have taken effect in between (one
// unknown, or overlapping the read or that last write).
func settledWrite(r read, ws []effect, faults []artifact.FaultEvent) (effect, bool) {
	li := -1
	for i, w := range ws {
		if w.Op.Outcome == artifact.OutcomeOK && w.Op.Return < r.Op.Call && (li < 0 || w.Op.Return > ws[li].Op.Return) {
			li = i
		}
	}
	if li < 0 || !ws[li].Present || faultBetween(faults, ws[li].Op.Return, r.Op.Call) {
		return effect{}, false
	}
	last := ws[li]
	for i, w := range ws {
		overlaps := w.Op.Call < r.Op.Return && (w.Op.Outcome == artifact.OutcomeUnknown || w.Op.Return > last.Op.Call)
		if i != li && overlaps {
			return effect{}, false // another write may have come between
		}
	}
	return last, true
}

// writtenBefore reports whether a batch writes key before it reads it.
func writtenBefore(op artifact.Op, key string) bool {
	in, err := harness.DecodeInput(op.Input)
	if err != nil {
		return false
	}
	for _, b := range in.Ops {
		switch {
		case b.Key != key:
		case b.Op == harness.BatchSet || b.Op == harness.BatchDelete:
			return true
		case b.Op == harness.BatchGet:
			return false
		}
	}
	return false
}
