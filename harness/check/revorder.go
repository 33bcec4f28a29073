package check

import (
	"fmt"
	"sort"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// revisionOrder checks the store-wide revision counter across keys, which
// the per-key register model cannot see: a write that began after another
// write had been acknowledged must commit at a higher revision, and a
// read-only batch (which answers the current revision) must not answer one
// below a revision already acknowledged. Reads of single keys carry the
// key's own revision and are not compared. Unknown and failed ops carry no
// revision and are skipped.
func revisionOrder(h []artifact.Op) []Violation {
	type revOp struct {
		op    artifact.Op
		rev   uint64
		write bool
	}
	var ops []revOp
	for _, op := range h {
		if op.Outcome != artifact.OutcomeOK {
			continue
		}
		write := false
		switch op.Kind {
		case harness.KindPut, harness.KindCAS, harness.KindDelete:
			write = true
		case harness.KindBatch:
			in, err := harness.DecodeInput(op.Input)
			if err != nil {
				continue
			}
			for _, b := range in.Ops {
				write = write || b.Op == harness.BatchSet || b.Op == harness.BatchDelete
			}
		default:
			continue
		}
		out, err := harness.DecodeOutput(op.Output)
		if err != nil || out.Revision == 0 {
			continue
		}
		ops = append(ops, revOp{op: op, rev: out.Revision, write: write})
	}
	byReturn := append([]revOp(nil), ops...)
	sort.Slice(byReturn, func(i, j int) bool { return byReturn[i].op.Return < byReturn[j].op.Return })
	sort.Slice(ops, func(i, j int) bool { return ops[i].op.Call < ops[j].op.Call })
	var (
		vs   []Violation
		best *revOp // the highest revision acknowledged so far
		next int
	)
	for i := range ops {
		o := &ops[i]
		for ; next < len(byReturn) && byReturn[next].op.Return < o.op.Call; next++ {
			if b := &byReturn[next]; b.write && (best == nil || b.rev > best.rev) {
				best = b
			}
		}
		if best == nil {
			continue
		}
		if (o.write && o.rev <= best.rev) || (!o.write && o.rev < best.rev) {
			vs = append(vs, Violation{
				Message: fmt.Sprintf("the store revision went backwards: client %d's %s of %q began at %.4fs, after revision %d had been acknowledged (client %d's %s of %q, returned at %.4fs), and answered revision %d",
					o.op.Client, o.op.Kind, o.op.Key, o.op.Call, best.rev, best.op.Client, best.op.Kind, best.op.Key, best.op.Return, o.rev),
				Ops: []artifact.Op{best.op, o.op},
			})
			if len(vs) >= 20 {
				break
			}
		}
	}
	return vs
}
