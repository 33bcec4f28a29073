package check

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// LinearizableOptions tune Linearizable. The zero value checks with a 60 s
// budget and writes no visualisation.
type LinearizableOptions struct {
	// Timeout bounds the whole check. A key porcupine cannot decide in
	// time makes the result inconclusive (a failure, never a pass).
	Timeout time.Duration
	// VisualizePath, when set, is where porcupine's HTML visualisation of
	// the keys that failed is written (only on failure).
	VisualizePath string
	// Faults are drawn over the visualisation as annotations.
	Faults []artifact.FaultEvent
	// ServerArgs are the server's arguments: an evicting policy at a
	// --max-memory makes the per-key check inconclusive.
	ServerArgs []string
}

// Linearizable checks that the history's KV operations (get, put, CAS,
// delete and batches, projected per key) are linearizable with respect to
// a register per key whose revisions rise with every write, that the
// store-wide revision rises across keys, and that batch reads see one
// snapshot (Snapshot).
//
// Keys that vanish without an op in the history make the register model
// unsound: it would call an expiry or an eviction a lost write. So keys
// written with a TTL are left out of the per-key check, and a server that
// may evict (o.ServerArgs) is not checked per key at all; either makes the
// result inconclusive, with the reason, unless a violation is found
// elsewhere. The cross-key checks stay sound and always run.
func Linearizable(h []artifact.Op, o LinearizableOptions) Result {
	res := Result{Check: NameLinearizable}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	ops, err := toPorcupine(h)
	if err != nil {
		res.Inconclusive = err.Error()
		return res
	}
	res.Violations = append(res.Violations, revisionOrder(h)...)
	res.Violations = append(res.Violations, Snapshot(h, nil).Violations...)
	var unsound []string
	if mem := memoryOf(o.ServerArgs); mem.evicts() {
		unsound = append(unsound, fmt.Sprintf("the server may evict keys (%s): a key can vanish without an op in the history, which the register model cannot tell from a lost write, so no key was checked on its own (the store-revision and snapshot checks ran)", mem))
		ops = nil
	} else if ttl := keysWithTTL(h); len(ttl) > 0 {
		ops = slices.DeleteFunc(ops, func(op porcupine.Operation) bool { return ttl[op.Metadata.(opMeta).Key] })
		unsound = append(unsound, fmt.Sprintf("%d key(s) were written with a TTL (%s): they may expire without an op in the history, which the register model cannot tell from a lost write, so they were left out of the per-key check",
			len(ttl), listKeys(sortedKeys(ttl), 5)))
	}
	res.Checked = len(ops)
	parts := registerModel.Partition(ops)
	deadline := time.Now().Add(o.Timeout)
	var illegal [][]porcupine.Operation
	var undecided []string
	for _, part := range parts {
		key := part[0].Metadata.(opMeta).Key
		left := time.Until(deadline)
		if left <= 0 {
			undecided = append(undecided, key)
			continue
		}
		narrowed, conflict := tighten(part)
		if conflict != "" {
			illegal = append(illegal, part)
			v := Violation{Key: key, Message: fmt.Sprintf("key %q: not linearizable: %s", key, conflict)}
			if msg, ops := staleRead(h, key); msg != "" {
				v.Message, v.Ops = fmt.Sprintf("key %q: not linearizable: %s", key, msg), ops
			}
			res.Violations = append(res.Violations, v)
			continue
		}
		switch porcupine.CheckOperationsTimeout(registerModel, narrowed, left) {
		case porcupine.Illegal:
			illegal = append(illegal, narrowed)
			res.Violations = append(res.Violations, explain(h, key, narrowed, min(left, 10*time.Second)))
		case porcupine.Unknown:
			undecided = append(undecided, key)
		}
	}
	if len(undecided) > 0 {
		unsound = append(unsound, fmt.Sprintf("porcupine did not decide %d of %d keys within %s (%s); shrink the workload (fewer clients or ops per key) or raise the timeout",
			len(undecided), len(parts), o.Timeout, listKeys(undecided, 5)))
	}
	res.Inconclusive = strings.Join(unsound, "; ")
	if len(illegal) > 0 && o.VisualizePath != "" {
		if err := visualize(illegal, o); err == nil {
			res.Files = append(res.Files, o.VisualizePath)
		}
	}
	return res
}

// explain builds the violation of one key: a plain-words stale read when
// there is one, and porcupine's longest explanation and the op it could not
// place.
func explain(h []artifact.Op, key string, part []porcupine.Operation, budget time.Duration) Violation {
	v := Violation{Key: key}
	if msg, ops := staleRead(h, key); msg != "" {
		v.Message = fmt.Sprintf("key %q: not linearizable: %s", key, msg)
		v.Ops = ops
		return v
	}
	v.Message = fmt.Sprintf("key %q: not linearizable: no order of its %d operations explains what the clients saw", key, len(part))
	_, info := porcupine.CheckOperationsVerbose(registerModel, part, budget)
	lin := info.PartialLinearizationsOperations()
	if len(lin) == 0 {
		return v
	}
	var longest []porcupine.Operation
	for _, l := range lin[0] {
		if len(l) > len(longest) {
			longest = l
		}
	}
	placed := map[int]bool{}
	state := registerModel.Init()
	for _, op := range longest {
		placed[op.Input.(regInput).Op] = true
		_, state = registerModel.Step(state, op.Input, op.Output)
	}
	var stuck *porcupine.Operation
	for i := range part {
		op := &part[i]
		if !placed[op.Input.(regInput).Op] && (stuck == nil || op.Return < stuck.Return) {
			stuck = op
		}
	}
	if stuck != nil {
		idx := stuck.Input.(regInput).Op
		v.Message += fmt.Sprintf("; the longest explanation places %d of them, leaving the key %s, and then cannot place: %s",
			len(longest), registerModel.DescribeState(state), Describe(h[idx]))
		v.Ops = append(v.Ops, h[idx])
	}
	return v
}

// staleRead finds a read of key that returned a revision older than one
// whose write had been acknowledged before the read began.
func staleRead(h []artifact.Op, key string) (string, []artifact.Op) {
	type write struct {
		rev uint64
		op  artifact.Op
	}
	var writes []write
	for _, op := range h {
		if op.Outcome != artifact.OutcomeOK || (op.Kind != harness.KindPut && op.Kind != harness.KindCAS && op.Kind != harness.KindBatch) {
			continue
		}
		out, _ := harness.DecodeOutput(op.Output)
		if out.Revision != 0 && touches(op, key) {
			writes = append(writes, write{out.Revision, op})
		}
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].op.Return < writes[j].op.Return })
	for _, op := range h {
		if op.Outcome != artifact.OutcomeOK || op.Kind != harness.KindGet || op.Key != key {
			continue
		}
		out, _ := harness.DecodeOutput(op.Output)
		if !out.Found || out.Revision == 0 {
			continue
		}
		for _, w := range writes {
			if w.op.Return < op.Call && w.rev > out.Revision {
				return fmt.Sprintf("stale read: the get called at %.4fs returned revision %d, but revision %d had been acknowledged at %.4fs, before the get began",
					op.Call, out.Revision, w.rev, w.op.Return), []artifact.Op{w.op, op}
			}
		}
	}
	return "", nil
}

// keysWithTTL lists the keys that a write which took effect or may have
// (ok or unknown) gave a TTL.
func keysWithTTL(h []artifact.Op) map[string]bool {
	keys := map[string]bool{}
	for _, op := range h {
		for _, e := range writeEffects(op) {
			if e.TTL != "" {
				keys[e.Key] = true
			}
		}
	}
	return keys
}

// touches reports whether a write op sets key.
func touches(op artifact.Op, key string) bool {
	if op.Kind != harness.KindBatch {
		in, _ := harness.DecodeInput(op.Input)
		return op.Key == key && in.Value != nil
	}
	in, _ := harness.DecodeInput(op.Input)
	for _, b := range in.Ops {
		if b.Key == key && b.Op == harness.BatchSet {
			return true
		}
	}
	return false
}

func visualize(parts [][]porcupine.Operation, o LinearizableOptions) error {
	var all []porcupine.Operation
	var last int64
	for _, p := range parts {
		all = append(all, p...)
		for _, op := range p {
			if op.Return != never && op.Return > last {
				last = op.Return
			}
		}
	}
	// An open-ended return would squash the drawing: end unknown ops a
	// little after the last known return instead (drawing only).
	for i := range all {
		if all[i].Return == never {
			all[i].Return = last + int64(time.Second)
		}
	}
	_, info := porcupine.CheckOperationsVerbose(registerModel, all, 5*time.Second)
	var notes []porcupine.Annotation
	for _, f := range o.Faults {
		end := f.End
		if end < f.Start {
			end = f.Start
		}
		notes = append(notes, porcupine.Annotation{
			Tag: "faults", Start: nanos(f.Start), End: nanos(end),
			Description: f.Name, Details: f.Detail, BackgroundColor: "#fbd3d3",
		})
	}
	info.AddAnnotations(notes)
	if err := porcupine.VisualizePath(registerModel, info, o.VisualizePath); err != nil {
		return fmt.Errorf("visualize: %w", err)
	}
	return nil
}

func listKeys(keys []string, n int) string {
	if len(keys) > n {
		return fmt.Sprintf("%q and %d more", keys[:n], len(keys)-n)
	}
	return fmt.Sprintf("%q", keys)
}
