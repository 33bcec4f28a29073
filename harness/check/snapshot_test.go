package check

import (
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// TestSnapshot plants torn batch reads: a key from the future (above the
// batch's revision) and a key from the past (older than a write
// acknowledged before the batch began).
func TestSnapshot(t *testing.T) {
	getAB := []harness.BatchOp{harness.GetOp("a"), harness.GetOp("b")}
	transfer := func() *hb { // a and b written twice, all acknowledged by t=4
		return new(hb).put(0, "a", "a1", 0, 1, 1).put(0, "b", "b1", 0, 1, 2).put(0, "a", "a2", 2, 3, 3).put(0, "b", "b2", 2, 3, 4)
	}
	kill := []artifact.FaultEvent{{Name: "kill", Start: 3.5, End: 3.5}}
	tests := []struct {
		name   string
		h      *hb
		faults []artifact.FaultEvent
		want   string
	}{
		{"one snapshot", transfer().batch(1, getAB, 5, 6, 4, []harness.BatchResult{getRes("a", "a2", 3), getRes("b", "b2", 4)}, -1), nil, ""},
		{"a key from the past", transfer().batch(1, getAB, 5, 6, 4, []harness.BatchResult{getRes("a", "a2", 3), getRes("b", "b1", 2)}, -1), nil,
			`"b" at revision 2, older than its revision 4`},
		{"a key from the future", new(hb).put(0, "a", "a1", 0, 1, 1).put(0, "b", "b1", 0, 1, 2).put(0, "a", "a2", 2, 7, 3).
			batch(1, getAB, 5, 6, 2, []harness.BatchResult{getRes("a", "a2", 3), getRes("b", "b1", 2)}, -1), nil,
			`"a" at revision 3, above the batch's own revision 2`},
		{"a fault between excuses the past (durability's question)", transfer().batch(1, getAB, 5, 6, 4, []harness.BatchResult{getRes("a", "a2", 3), getRes("b", "b1", 2)}, -1), kill, ""},
		{"a batch reads its own write", transfer().batch(1, []harness.BatchOp{harness.Set("b", []byte("b3")), harness.GetOp("b"), harness.GetOp("a")}, 5, 6, 5,
			[]harness.BatchResult{setRes("b", 5, false), getRes("b", "b3", 5), getRes("a", "a2", 3)}, -1), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { verdict(t, Snapshot(tt.h.ops, tt.faults), tt.want) })
	}
}

// TestLinearizableCatchesTornBatchRead: a batch that saw a key from the
// future, which each key's register alone cannot see (the write of a was
// still running), fails the linearizability check.
func TestLinearizableCatchesTornBatchRead(t *testing.T) {
	h := new(hb).put(0, "a", "a1", 0, 1, 1).put(0, "b", "b1", 0, 1, 2).put(0, "a", "a2", 2, 7, 3).
		batch(1, []harness.BatchOp{harness.GetOp("a"), harness.GetOp("b")}, 5, 6, 2, []harness.BatchResult{getRes("a", "a2", 3), getRes("b", "b1", 2)}, -1)
	verdict(t, Linearizable(h.ops, LinearizableOptions{Timeout: 10 * time.Second}), "torn batch read")
}
