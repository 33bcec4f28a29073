package check

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// simulate builds a linearizable history of one key: clients issue ops with
// random overlapping intervals; each takes effect at a random point inside
// its interval, in that order, against a register with rising revisions.
func simulate(seed uint64, clients, opsPer int, deletes bool) []artifact.Op {
	r := rand.New(rand.NewPCG(seed, 1))
	type pending struct {
		op    artifact.Op
		point float64
	}
	var all []pending
	for c := 0; c < clients; c++ {
		t := r.Float64() * 0.01
		for n := 0; n < opsPer; n++ {
			call := t + r.Float64()*0.002
			ret := call + 0.001 + r.Float64()*0.02
			p := pending{op: artifact.Op{Client: c, Key: "k", Call: call, Return: ret, Outcome: artifact.OutcomeOK}, point: call + r.Float64()*(ret-call)}
			switch x := r.IntN(100); {
			case x < 50:
				p.op.Kind = harness.KindGet
			case x < 90 || !deletes:
				p.op.Kind = harness.KindPut
				v := harness.RefOf([]byte(fmt.Sprintf("c%d-%d", c, n)))
				p.op.Input = harness.OpInput{Value: &v}
			default:
				p.op.Kind = harness.KindDelete
			}
			all = append(all, p)
			t = ret
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].point < all[j].point })
	var rev uint64
	var cur *harness.ValueRef
	var curRev uint64
	out := make([]artifact.Op, 0, len(all))
	for _, p := range all {
		op := p.op
		switch op.Kind {
		case harness.KindGet:
			if cur == nil {
				op.Output = harness.OpOutput{}
			} else {
				op.Output = harness.OpOutput{Found: true, Value: cur, Revision: curRev}
			}
		case harness.KindPut:
			rev++
			in := op.Input.(harness.OpInput)
			op.Output = harness.OpOutput{Revision: rev, Created: cur == nil}
			cur, curRev = in.Value, rev
		case harness.KindDelete:
			if cur == nil {
				op.Outcome, op.Error, op.Status = artifact.OutcomeFail, "KEY_NOT_FOUND", 404
			} else {
				rev++
				cur, curRev = nil, 0
				op.Output = harness.OpOutput{Revision: rev, Found: true}
			}
		}
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

func TestLinearizableDecidesHighConcurrency(t *testing.T) {
	tests := []struct {
		name         string
		clients, ops int
		deletes      bool
	}{
		{"64 clients, one key, no deletes", 64, 20, false},
		{"16 clients, one key, deletes", 16, 20, true},
		{"64 clients, one key, deletes", 64, 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				h := simulate(seed, tt.clients, tt.ops, tt.deletes)
				start := time.Now()
				if err := Linearizable(h, LinearizableOptions{Timeout: 20 * time.Second}).Err(); err != nil {
					t.Fatalf("seed %d: a linearizable history failed: %v", seed, err)
				}
				t.Logf("seed %d: %d ops decided in %s", seed, len(h), time.Since(start))
			}
		})
	}
}

// TestLinearizableCatchesPlantedStaleRead plants one stale read (an older
// value and revision) into a big linearizable history.
func TestLinearizableCatchesPlantedStaleRead(t *testing.T) {
	h := simulate(9, 64, 20, false)
	var reads []int
	for i, op := range h {
		out, _ := harness.DecodeOutput(op.Output)
		if op.Kind == harness.KindGet && out.Found && out.Revision > 5 {
			reads = append(reads, i)
		}
	}
	victim := reads[len(reads)/2]
	// The value of an early write, acknowledged long before the read.
	var early artifact.Op
	for _, op := range h {
		out, _ := harness.DecodeOutput(op.Output)
		if op.Kind == harness.KindPut && out.Revision == 2 {
			early = op
		}
	}
	in, _ := harness.DecodeInput(early.Input)
	h[victim].Output = harness.OpOutput{Found: true, Value: in.Value, Revision: 2}
	res := Linearizable(h, LinearizableOptions{Timeout: 20 * time.Second})
	if res.OK() || res.Inconclusive != "" {
		t.Fatalf("planted stale read: %+v", res)
	}
	if !strings.Contains(res.String(), "stale read") {
		t.Fatalf("message does not name the stale read:\n%s", res)
	}
}

// TestTightenAgreesWithPlainSearch compares the verdict with and without
// tighten on many small histories, linearizable ones and ones with a read
// pointed at another write: narrowing must never change the answer.
func TestTightenAgreesWithPlainSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	disagree := 0
	illegal := 0
	for seed := uint64(1); seed <= 300; seed++ {
		h := simulate(seed, 4, 5, seed%2 == 0)
		if seed%3 != 0 {
			// Point a random read at a random write's value and revision.
			var gets, puts []int
			for i, op := range h {
				switch op.Kind {
				case harness.KindGet:
					gets = append(gets, i)
				case harness.KindPut:
					puts = append(puts, i)
				}
			}
			if len(gets) > 0 && len(puts) > 0 {
				g, p := gets[r.IntN(len(gets))], puts[r.IntN(len(puts))]
				in, _ := harness.DecodeInput(h[p].Input)
				out, _ := harness.DecodeOutput(h[p].Output)
				h[g].Output = harness.OpOutput{Found: true, Value: in.Value, Revision: out.Revision}
			}
		}
		ops, err := toPorcupine(h)
		if err != nil {
			t.Fatal(err)
		}
		plain := porcupine.CheckOperations(registerModel, ops)
		got := Linearizable(h, LinearizableOptions{Timeout: 10 * time.Second})
		if got.Inconclusive != "" {
			t.Fatalf("seed %d: inconclusive", seed)
		}
		if plain != got.OK() {
			disagree++
			t.Errorf("seed %d: plain search says %v, tightened says %v:\n%s", seed, plain, got.OK(), got)
		}
		if !plain {
			illegal++
		}
	}
	if illegal == 0 {
		t.Fatal("no mutated history was illegal: the test proves nothing")
	}
	t.Logf("%d of 300 histories illegal, %d disagreements", illegal, disagree)
}

// TestRefusedCASOnADeletedRevisionIsLinearizable: If-Match on the revision
// a DELETE returned is refused because the key is gone, not because a later
// write replaced it; tightening must not treat it as the latter (a false
// positive found in review).
func TestRefusedCASOnADeletedRevisionIsLinearizable(t *testing.T) {
	h := new(hb).put(0, "k", "a", 0, 1, 1).del(0, "k", 2, 3, 2, true).
		cas(1, "k", "x", 2, 4, 5, 0, false).
		put(0, "k", "b", 6, 7, 3)
	if err := Linearizable(h.ops, LinearizableOptions{}).Err(); err != nil {
		t.Fatalf("a linearizable history was flagged: %v", err)
	}
}
