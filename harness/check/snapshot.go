package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Snapshot checks that every successful batch that read keys saw one
// snapshot of the store, whatever the workload: each key it found carries a
// revision no higher than the store revision the batch answered (no key
// from the future), and none lower than a write of that key acknowledged
// before the batch began (no key from the past). A batch that saw some keys
// after a transfer and others before it is torn. The bank invariant
// (Atomicity) catches torn reads of its accounts; this catches them in any
// batch.
//
// A key the batch wrote before reading it is held only to the first rule. A
// write whose acknowledgement and the batch are separated by a fault window
// (faults) is not held against the batch: whether a crash may lose it is
// Durable's question. Keys found absent are not judged (TTL and eviction
// remove keys without an op in the history).
func Snapshot(h []artifact.Op, faults []artifact.FaultEvent) Result {
	res := Result{Check: NameSnapshot}
	acked := map[string]*ackedWrites{}
	for _, op := range h {
		if op.Outcome != artifact.OutcomeOK {
			continue
		}
		for _, e := range finalEffects(op) {
			if e.Rev == 0 {
				continue
			}
			if acked[e.Key] == nil {
				acked[e.Key] = &ackedWrites{}
			}
			acked[e.Key].ws = append(acked[e.Key].ws, e)
		}
	}
	for _, a := range acked {
		a.index()
	}
	for _, op := range h {
		if op.Outcome != artifact.OutcomeOK || op.Kind != harness.KindBatch {
			continue
		}
		if v, judged := tornRead(op, acked, faults); judged {
			res.Checked++
			if v != nil {
				res.Violations = append(res.Violations, *v)
			}
		}
	}
	return res
}

// tornRead judges one batch; judged is false when it found no key.
func tornRead(op artifact.Op, acked map[string]*ackedWrites, faults []artifact.FaultEvent) (v *Violation, judged bool) {
	in, err := harness.DecodeInput(op.Input)
	if err != nil {
		return nil, false
	}
	out, err := harness.DecodeOutput(op.Output)
	if err != nil {
		return nil, false
	}
	wrote := map[string]bool{} // keys the batch wrote before reading them
	var seen []string          // "key@rev" of every key found, for the message
	var problems []string
	var evidence []artifact.Op
	for i, b := range in.Ops {
		if b.Op == harness.BatchSet || b.Op == harness.BatchDelete {
			wrote[b.Key] = true
			continue
		}
		if b.Op != harness.BatchGet || i >= len(out.Results) {
			continue
		}
		r := out.Results[i]
		if !r.Found || r.Revision == 0 {
			continue
		}
		judged = true
		seen = append(seen, fmt.Sprintf("%s@%d", b.Key, r.Revision))
		if out.Revision != 0 && r.Revision > out.Revision {
			problems = append(problems, fmt.Sprintf("%q at revision %d, above the batch's own revision %d", b.Key, r.Revision, out.Revision))
			continue
		}
		if wrote[b.Key] {
			continue
		}
		if w := acked[b.Key].newer(r.Revision, op.Call, faults); w != nil {
			problems = append(problems, fmt.Sprintf("%q at revision %d, older than its revision %d acknowledged at %.4fs, before the batch began",
				b.Key, r.Revision, w.Rev, w.Op.Return))
			evidence = append(evidence, w.Op)
		}
	}
	if len(problems) == 0 {
		return nil, judged
	}
	return &Violation{
		Key: op.Key,
		Message: fmt.Sprintf("torn batch read: client %d's batch called at %.4fs answered store revision %d and saw %s, which is no single snapshot: it saw %s",
			op.Client, op.Call, out.Revision, strings.Join(seen, " "), strings.Join(problems, "; ")),
		Ops: append(evidence, op),
	}, true
}

// ackedWrites are one key's acknowledged writes in return order, with the
// running maximum of their revisions, so a read asks in O(log n) whether
// any write acknowledged before it is newer than what it saw.
type ackedWrites struct {
	ws     []effect
	maxRev []uint64 // maxRev[i]: highest revision among ws[:i+1]
}

func (a *ackedWrites) index() {
	sort.Slice(a.ws, func(i, j int) bool { return a.ws[i].Op.Return < a.ws[j].Op.Return })
	a.maxRev = make([]uint64, len(a.ws))
	for i, w := range a.ws {
		a.maxRev[i] = w.Rev
		if i > 0 {
			a.maxRev[i] = max(a.maxRev[i], a.maxRev[i-1])
		}
	}
}

// newer returns a write acknowledged before t with a revision above rev
// and no fault window between its acknowledgement and t, or nil.
func (a *ackedWrites) newer(rev uint64, t float64, faults []artifact.FaultEvent) *effect {
	if a == nil {
		return nil
	}
	n := sort.Search(len(a.ws), func(i int) bool { return a.ws[i].Op.Return >= t })
	if n == 0 || a.maxRev[n-1] <= rev {
		return nil
	}
	for i := n - 1; i >= 0; i-- {
		w := &a.ws[i]
		if faultBetween(faults, w.Op.Return, t) {
			return nil // this and every earlier write are separated from t by a fault
		}
		if w.Rev > rev {
			return w
		}
	}
	return nil
}

// faultBetween reports whether a fault window overlaps [from, to].
func faultBetween(faults []artifact.FaultEvent, from, to float64) bool {
	for _, f := range faults {
		if f.Start <= to && max(f.End, f.Start) >= from {
			return true
		}
	}
	return false
}
