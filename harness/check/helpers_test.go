package check

import (
	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// hb builds histories for the checkers' self-tests. Times are in seconds.
// A successful put answers Created (201) when the builder has not seen the
// key written, or has seen it deleted, in the order ops are added: tests
// add ops in their linearization order unless they mean otherwise.
type hb struct {
	ops  []artifact.Op
	live map[string]bool
}

// created notes a successful write of key and says whether it was new.
func (b *hb) created(key string) bool {
	if b.live == nil {
		b.live = map[string]bool{}
	}
	was := b.live[key]
	b.live[key] = true
	return !was
}

func ref(v string) *harness.ValueRef { r := harness.RefOf([]byte(v)); return &r }

func (b *hb) put(client int, key, val string, call, ret float64, rev uint64) *hb {
	b.ops = append(b.ops, artifact.Op{Client: client, Kind: harness.KindPut, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Input: harness.OpInput{Value: ref(val)}, Output: harness.OpOutput{Revision: rev, Created: b.created(key)}})
	return b
}

func (b *hb) putUnknown(client int, key, val string, call, ret float64) *hb {
	b.ops = append(b.ops, artifact.Op{Client: client, Kind: harness.KindPut, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeUnknown, Input: harness.OpInput{Value: ref(val)}})
	return b
}

func (b *hb) cas(client int, key, val string, ifMatch uint64, call, ret float64, rev uint64, ok bool) *hb {
	op := artifact.Op{Client: client, Kind: harness.KindCAS, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Input: harness.OpInput{Value: ref(val), IfMatch: ifMatch}, Output: harness.OpOutput{Revision: rev}}
	if !ok {
		op.Outcome, op.Status, op.Error, op.Output = artifact.OutcomeFail, 412, "PRECONDITION_FAILED", nil
	}
	b.ops = append(b.ops, op)
	return b
}

func (b *hb) get(client int, key, val string, call, ret float64, rev uint64) *hb {
	out := harness.OpOutput{Found: true, Value: ref(val), Revision: rev}
	if val == "" && rev == 0 {
		out = harness.OpOutput{}
	}
	b.ops = append(b.ops, artifact.Op{Client: client, Kind: harness.KindGet, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Output: out})
	return b
}

func (b *hb) del(client int, key string, call, ret float64, rev uint64, found bool) *hb {
	op := artifact.Op{Client: client, Kind: harness.KindDelete, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Output: harness.OpOutput{Revision: rev, Found: true}}
	if !found {
		op.Outcome, op.Status, op.Error, op.Output = artifact.OutcomeFail, 404, "KEY_NOT_FOUND", nil
	}
	if b.live != nil {
		b.live[key] = false
	}
	b.ops = append(b.ops, op)
	return b
}

// batch records a batch; failAt >= 0 makes it a 409 at that op index.
func (b *hb) batch(client int, ops []harness.BatchOp, call, ret float64, rev uint64, results []harness.BatchResult, failAt int) *hb {
	rec := make([]harness.BatchOp, len(ops))
	for i, o := range ops {
		rec[i] = o
		if o.Op == harness.BatchSet {
			r := harness.RefOf(o.Value)
			rec[i].Ref, rec[i].Value = &r, nil
		}
	}
	op := artifact.Op{Client: client, Kind: harness.KindBatch, Key: ops[0].Key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Input: harness.OpInput{Ops: rec}, Output: harness.OpOutput{Revision: rev, Results: results}}
	if failAt >= 0 {
		i := failAt
		op.Outcome, op.Status, op.Error, op.Output = artifact.OutcomeFail, 409, "BATCH_CONDITION_FAILED", harness.OpOutput{FailedOp: &i}
	}
	b.ops = append(b.ops, op)
	return b
}

func getRes(key, val string, rev uint64) harness.BatchResult {
	if val == "" {
		return harness.BatchResult{Op: harness.BatchGet, Key: key}
	}
	return harness.BatchResult{Op: harness.BatchGet, Key: key, Found: true, Ref: ref(val), Revision: rev}
}

// putAnswered records a successful put whose answer says created (201) or
// not (200), whatever the builder thinks.
func (b *hb) putAnswered(client int, key, val string, call, ret float64, rev uint64, created bool) *hb {
	b.created(key)
	b.ops = append(b.ops, artifact.Op{Client: client, Kind: harness.KindPut, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Input: harness.OpInput{Value: ref(val)}, Output: harness.OpOutput{Revision: rev, Created: created}})
	return b
}

func delRes(key string, deleted bool) harness.BatchResult {
	return harness.BatchResult{Op: harness.BatchDelete, Key: key, Deleted: deleted}
}

func setRes(key string, rev uint64, created bool) harness.BatchResult {
	return harness.BatchResult{Op: harness.BatchSet, Key: key, Revision: rev, Created: created}
}

// putTTL records a successful put with a TTL argument.
func (b *hb) putTTL(client int, key, val, ttl string, call, ret float64, rev uint64) *hb {
	b.ops = append(b.ops, artifact.Op{Client: client, Kind: harness.KindPut, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Input: harness.OpInput{Value: ref(val), TTL: ttl}, Output: harness.OpOutput{Revision: rev, Created: b.created(key)}})
	return b
}

// getTTL records a GET that found val at rev reporting ttlMs remaining
// (0: no X-Kv-Ttl-Ms header).
func (b *hb) getTTL(client int, key, val string, call, ret float64, rev uint64, ttlMs int64) *hb {
	b.ops = append(b.ops, artifact.Op{Client: client, Kind: harness.KindGet, Key: key, Call: call, Return: ret,
		Outcome: artifact.OutcomeOK, Output: harness.OpOutput{Found: true, Value: ref(val), Revision: rev, TTLMillis: ttlMs}})
	return b
}

// readFails records a GET answered with an error status.
func (b *hb) readFails(client int, key string, call, ret float64, status int, code string) *hb {
	outcome := artifact.OutcomeFail
	if status == 500 {
		outcome = artifact.OutcomeUnknown
	}
	b.ops = append(b.ops, artifact.Op{Client: client, Kind: harness.KindGet, Key: key, Call: call, Return: ret,
		Outcome: outcome, Status: status, Error: code})
	return b
}
