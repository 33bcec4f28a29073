package check

import (
	"fmt"
	"sort"

	"github.com/anishathalye/porcupine"

	"github.com/kvchaos/kvchaos/harness"
)

// tighten narrows the [call, return] intervals of one key's operations
// using what revisions imply, before porcupine searches. Revisions rise
// with every write, so in any linearization:
//
//   - an op that saw or wrote revision r comes before every write with a
//     higher revision: its return can be cut to the earliest return of
//     those writes;
//   - a write with revision r comes after every op that saw or wrote a
//     lower revision: its call can be moved to the latest call of those;
//   - a read of revision r comes after the write of r, and that write
//     before every read of r.
//
// Any linearization of the history satisfies these, so the narrowed
// history is linearizable exactly when the original is — but the search no
// longer tries the many orders the revisions already rule out, which is
// what lets porcupine decide one key with 64 concurrent clients. An
// interval that becomes empty is itself a violation: conflict describes it.
func tighten(part []porcupine.Operation) ([]porcupine.Operation, string) {
	out := append([]porcupine.Operation(nil), part...)
	type ref = revRef
	var writes, revd, casFails []ref // writes; every op with a revision; refused CAS
	writeOf := map[uint64]int{}
	unknownWrites, deletes := false, false
	var absent, observed []int // absent reads; reads of existence without revision
	for i, op := range out {
		m := op.Metadata.(opMeta)
		for _, o := range op.Input.(regInput).Ops {
			deletes = deletes || o.Op == harness.BatchDelete
		}
		switch {
		case m.Role == roleAbsent:
			absent = append(absent, i)
			observed = append(observed, i)
			continue
		case m.Role == rolePresent:
			observed = append(observed, i)
			continue
		case m.Role == roleUnknownWrite:
			unknownWrites = true
			continue
		case m.Role == roleCASFail:
			casFails = append(casFails, ref{i, m.Rev})
			continue
		case m.Role == roleOther || op.Return == never:
			continue
		}
		revd = append(revd, ref{i, m.Rev})
		if m.Role == roleWrite {
			writes = append(writes, ref{i, m.Rev})
			writeOf[m.Rev] = i
		}
	}
	if len(writes) == 0 {
		return out, ""
	}
	sort.Slice(writes, func(a, b int) bool { return writes[a].rev < writes[b].rev })
	for k, w := range writes {
		in := out[w.i].Input.(regInput)
		in.Chained = true
		if k > 0 {
			in.Prev = writes[k-1].rev
		}
		out[w.i].Input = in
	}
	sort.Slice(revd, func(a, b int) bool { return revd[a].rev < revd[b].rev })

	// sufMinRet[k]: earliest return (and its op) among writes[k:].
	sufMin := make([]int, len(writes)+1)
	sufMin[len(writes)] = -1
	for k := len(writes) - 1; k >= 0; k-- {
		sufMin[k] = sufMin[k+1]
		if j := writes[k].i; sufMin[k] < 0 || part[j].Return < part[sufMin[k]].Return {
			sufMin[k] = j
		}
	}
	// Every op with rev r returns before the writes with rev > r return.
	for _, x := range revd {
		k := sort.Search(len(writes), func(k int) bool { return writes[k].rev > x.rev })
		if j := sufMin[k]; j >= 0 && part[j].Return < out[x.i].Return {
			out[x.i].Return = part[j].Return
		}
	}
	// Every write with rev r is called after the ops with rev < r are.
	latest := -1
	for a, b := 0, 0; b < len(writes); b++ {
		for a < len(revd) && revd[a].rev < writes[b].rev {
			if latest < 0 || part[revd[a].i].Call > part[latest].Call {
				latest = revd[a].i
			}
			a++
		}
		// +1 ns so that the write sorts after the op that bounds it
		// (porcupine does not order equal timestamps).
		if w := writes[b].i; latest >= 0 && part[latest].Call >= out[w].Call {
			out[w].Call = part[latest].Call + 1
		}
	}
	// A CAS refused by If-Match r, called after an op with revision r had
	// returned, comes after the write that followed r (without unknown
	// writes, nothing else can have changed the revision).
	// Without deletes, a key is absent only before its first write: every
	// read that found nothing comes before every successful write.
	if !deletes && len(absent) > 0 {
		first, last := writes[0].i, absent[0]
		for _, w := range writes {
			if part[w.i].Return < part[first].Return {
				first = w.i
			}
		}
		for _, a := range absent {
			if part[first].Return < out[a].Return {
				out[a].Return = part[first].Return
			}
			if part[a].Call > part[last].Call {
				last = a
			}
		}
		for _, w := range writes {
			if part[last].Call >= out[w.i].Call {
				out[w.i].Call = part[last].Call + 1
			}
		}
	}
	if !unknownWrites {
		tightenWindows(part, out, writes2idx(writes), observed)
	}
	if !unknownWrites {
		// firstRet holds, per revision at which the key was present, the
		// earliest return of an op that saw or made it. A write that left
		// the key absent (a delete) does not count: an If-Match on that
		// revision is refused because the key is gone, not because a later
		// write replaced it.
		firstRet := map[uint64]int64{}
		for _, x := range revd {
			if m := part[x.i].Metadata.(opMeta); m.Role == roleWrite && !leavesPresent(part[x.i].Input.(regInput)) {
				continue
			}
			if t, ok := firstRet[x.rev]; !ok || part[x.i].Return < t {
				firstRet[x.rev] = part[x.i].Return
			}
		}
		for _, f := range casFails {
			t, ok := firstRet[f.rev]
			if !ok || t >= part[f.i].Call {
				continue
			}
			k := sort.Search(len(writes), func(k int) bool { return writes[k].rev > f.rev })
			if k < len(writes) && part[writes[k].i].Call > out[f.i].Call {
				out[f.i].Call = part[writes[k].i].Call
			}
		}
	}
	// A read of r after the write of r; that write before its reads return.
	for _, x := range revd {
		m := part[x.i].Metadata.(opMeta)
		w, ok := writeOf[x.rev]
		if m.Role != roleRead || !ok {
			continue
		}
		if part[w].Call > out[x.i].Call {
			out[x.i].Call = part[w].Call
		}
		if part[x.i].Return < out[w].Return {
			out[w].Return = part[x.i].Return
		}
	}
	for i := range out {
		if out[i].Call > out[i].Return {
			return out, fmt.Sprintf("revisions put this operation after one that had already returned before it was called: %s",
				part[i].Metadata.(opMeta).Text)
		}
	}
	return out, ""
}

// revRef is an op (by index) and its revision.
type revRef struct {
	i   int
	rev uint64
}

func (r revRef) idx() int { return r.i }

func writes2idx[T interface{ idx() int }](ws []T) []int {
	out := make([]int, len(ws))
	for i, w := range ws {
		out[i] = w.idx()
	}
	return out
}

// tightenWindows narrows each observation of existence without a revision
// (a 404, an If-None-Match refusal). Writes in revision order cut the key's
// life into windows, each absent or present; the observation lies in one of
// the windows of its kind that its interval overlaps. So it comes after the
// write that opens the first such window and before the write that closes
// the last one, and those writes are bounded by it in turn.
func tightenWindows(part, out []porcupine.Operation, writes []int, observed []int) {
	exists := make([]bool, len(writes)+1) // state in window k (after writes[k-1])
	for k, w := range writes {
		exists[k+1] = leavesPresent(part[w].Input.(regInput))
	}
	for _, g := range observed {
		wantExists := part[g].Metadata.(opMeta).Role == rolePresent
		first, last := -1, -1
		for k := 0; k <= len(writes); k++ {
			if exists[k] != wantExists {
				continue
			}
			if k > 0 && part[g].Return < part[writes[k-1]].Call {
				continue // the window opens after g returned
			}
			if k < len(writes) && part[g].Call > part[writes[k]].Return {
				continue // the window closed before g was called
			}
			if first < 0 {
				first = k
			}
			last = k
		}
		if first < 0 {
			continue // no window fits: porcupine will say so
		}
		if first > 0 {
			open := writes[first-1]
			out[g].Call = max(out[g].Call, part[open].Call)
			out[open].Return = min(out[open].Return, part[g].Return)
		}
		if last < len(writes) {
			closeW := writes[last]
			out[g].Return = min(out[g].Return, part[closeW].Return)
			if part[g].Call >= out[closeW].Call {
				out[closeW].Call = part[g].Call + 1
			}
		}
	}
}

// leavesPresent says whether a write leaves the key present (its last
// write sub-op is a set).
func leavesPresent(in regInput) bool {
	present := false
	for _, o := range in.Ops {
		switch o.Op {
		case harness.BatchSet:
			present = true
		case harness.BatchDelete:
			present = false
		}
	}
	return present
}
