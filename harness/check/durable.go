package check

import (
	"fmt"
	"sort"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Durable checks that every write acknowledged before from (run-clock
// seconds, typically the moment of a crash or restart) survived: each read
// that starts at or after from must see, for its key, the last acknowledged
// write or a write that was concurrent with it or unknown (a write whose
// outcome is unknown may or may not have happened). A write survived when
// the read shows its bytes at its revision or a later one: the same bytes
// at an older revision are a rollback to an earlier identical write, a lost
// write. Keys written with a TTL are skipped. Writes at or after from are not considered; reads of keys
// that were never written before from are not checked.
func Durable(h []artifact.Op, from float64) Result {
	res := Result{Check: NameDurable}
	writes := map[string][]effect{}
	ttl := map[string]bool{}
	rewritten := map[string]float64{} // key -> first write call at or after from
	for _, op := range h {
		for _, e := range finalEffects(op) {
			if op.Call >= from {
				if t, ok := rewritten[e.Key]; !ok || op.Call < t {
					rewritten[e.Key] = op.Call
				}
				continue
			}
			writes[e.Key] = append(writes[e.Key], e)
			ttl[e.Key] = ttl[e.Key] || e.TTL != ""
		}
	}
	// The earliest read of each key after from, before it was written again.
	first := map[string]read{}
	for _, op := range h {
		if op.Call < from {
			continue
		}
		for _, r := range reads(op) {
			// A read still running when the key was written again may
			// already see that write: only reads that returned before it
			// show what survived.
			if t, ok := rewritten[r.Key]; ok && op.Return >= t {
				continue
			}
			if f, ok := first[r.Key]; !ok || op.Call < f.Op.Call {
				first[r.Key] = r
			}
		}
	}
	for _, key := range sortedKeys(first) {
		ws, ok := writes[key]
		if !ok || ttl[key] {
			continue
		}
		res.Checked++
		if v, bad := durableViolation(first[key], ws); bad {
			res.Violations = append(res.Violations, v)
		}
	}
	return res
}

// durableViolation compares a read with the writes that may be current.
func durableViolation(r read, ws []effect) (Violation, bool) {
	var lastAcked *effect
	for i := range ws {
		w := &ws[i]
		if w.Op.Outcome == artifact.OutcomeOK && (lastAcked == nil || w.Op.Return > lastAcked.Op.Return) {
			lastAcked = w
		}
	}
	// A write stays a candidate unless it was acknowledged and a later
	// acknowledged write began after it returned. A write of unknown
	// outcome may take effect at any moment after its call, so it stays.
	var candidates []effect
	for _, w := range ws {
		superseded := false
		for _, w2 := range ws {
			if w.Op.Outcome == artifact.OutcomeOK && w2.Op.Outcome == artifact.OutcomeOK && w2.Op.Call > w.Op.Return {
				superseded = true
				break
			}
		}
		if !superseded {
			candidates = append(candidates, w)
		}
	}
	if lastAcked == nil {
		candidates = append(candidates, effect{Key: r.Key}) // may never have been written
	}
	var rolledBack *effect // a candidate whose bytes the read shows at an older revision
	for i, c := range candidates {
		if c.Present != r.Found || (c.Present && c.Value.SHA256 != r.Value.SHA256) {
			continue
		}
		if !c.Present || r.Rev == 0 || r.Rev >= minRev(c, ws) {
			return Violation{}, false
		}
		rolledBack = &candidates[i]
	}
	v := Violation{Key: r.Key}
	want := "it to be absent"
	if lastAcked != nil && lastAcked.Present {
		want = lastAcked.Value.String()
		if lastAcked.Rev != 0 {
			want += fmt.Sprintf(" at revision %d or later", lastAcked.Rev)
		}
	}
	got := "nothing (404)"
	switch {
	case rolledBack != nil:
		got = fmt.Sprintf("the same bytes at revision %d, older than the %d they were written at (%.3fs): a rollback to an earlier identical write",
			r.Rev, minRev(*rolledBack, ws), rolledBack.Op.Call)
	case r.Found:
		got = r.Value.String()
		for _, w := range ws {
			if w.Present && w.Value.SHA256 == r.Value.SHA256 {
				got += fmt.Sprintf(", an older value (written at %.3fs)", w.Op.Call)
				break
			}
		}
	}
	if lastAcked != nil {
		v.Message = fmt.Sprintf("key %q: lost write: the write acknowledged at %.3fs wanted %s, but the read at %.3fs found %s",
			r.Key, lastAcked.Op.Return, want, r.Op.Call, got)
		v.Ops = []artifact.Op{lastAcked.Op, r.Op}
	} else {
		v.Message = fmt.Sprintf("key %q: the read at %.3fs found %s, which no write of the key could have left", r.Key, r.Op.Call, got)
		v.Ops = []artifact.Op{r.Op}
	}
	return v, true
}

// minRev is the lowest revision at which a read may show c's value: c's own
// when it was acknowledged, else one above every write of the key
// acknowledged before c was called (0: any).
func minRev(c effect, ws []effect) uint64 {
	if c.Op.Outcome == artifact.OutcomeOK {
		return c.Rev
	}
	var floor uint64
	for _, w := range ws {
		if w.Op.Outcome == artifact.OutcomeOK && w.Op.Return < c.Op.Call && w.Rev >= floor {
			floor = w.Rev + 1
		}
	}
	return floor
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
