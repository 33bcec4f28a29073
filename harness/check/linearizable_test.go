package check

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

func TestLinearizable(t *testing.T) {
	tests := []struct {
		name string
		h    *hb
		want string // "" = pass; else a substring of the failure
	}{
		{"sequential put get", new(hb).put(0, "k", "a", 0, 1, 1).get(1, "k", "a", 2, 3, 1), ""},
		{"concurrent read sees either", new(hb).put(0, "k", "a", 0, 1, 1).put(0, "k", "b", 2, 5, 2).get(1, "k", "a", 3, 4, 1), ""},
		{"stale read", new(hb).put(0, "k", "a", 0, 1, 1).put(0, "k", "b", 2, 3, 2).get(1, "k", "a", 4, 5, 1), "stale read"},
		{"lost write", new(hb).put(0, "k", "a", 0, 1, 1).get(1, "k", "", 2, 3, 0), "not linearizable"},
		{"read of a value never current", new(hb).put(0, "k", "a", 0, 1, 1).get(1, "k", "zzz", 2, 3, 1), "not linearizable"},
		{"revision goes backwards", new(hb).put(0, "k", "a", 0, 1, 5).put(0, "k", "b", 2, 3, 4), "not linearizable"},
		{"unknown write may have happened", new(hb).put(0, "k", "a", 0, 1, 1).putUnknown(1, "k", "b", 2, 3).get(2, "k", "b", 9, 10, 7), ""},
		{"unknown write may not have happened", new(hb).put(0, "k", "a", 0, 1, 1).putUnknown(1, "k", "b", 2, 3).get(2, "k", "a", 9, 10, 1), ""},
		{"two CAS on one revision both win", new(hb).put(0, "k", "a", 0, 1, 1).
			cas(1, "k", "b", 1, 2, 3, 2, true).cas(2, "k", "c", 1, 4, 5, 3, true), "not linearizable"},
		{"CAS loses to a concurrent CAS", new(hb).put(0, "k", "a", 0, 1, 1).
			cas(1, "k", "b", 1, 2, 4, 2, true).cas(2, "k", "c", 1, 3, 5, 0, false), ""},
		{"CAS refused although revision matched", new(hb).put(0, "k", "a", 0, 1, 1).cas(1, "k", "b", 1, 2, 3, 0, false), "not linearizable"},
		{"delete then absent", new(hb).put(0, "k", "a", 0, 1, 1).del(0, "k", 2, 3, 2, true).get(1, "k", "", 4, 5, 0).del(1, "k", 6, 7, 0, false), ""},
		{"delete says absent while present", new(hb).put(0, "k", "a", 0, 1, 1).del(1, "k", 2, 3, 0, false), "not linearizable"},
		{"batch applied whole", new(hb).put(0, "a", "a0", 0, 1, 1).put(0, "b", "b0", 0, 1, 2).
			batch(1, []harness.BatchOp{harness.CheckRev("a", 1), harness.Set("a", []byte("a1")), harness.Set("b", []byte("b1"))}, 2, 3, 3, nil, -1).
			batch(2, []harness.BatchOp{harness.GetOp("a"), harness.GetOp("b")}, 4, 5, 3, []harness.BatchResult{getRes("a", "a1", 3), getRes("b", "b1", 3)}, -1), ""},
		{"half-applied batch", new(hb).put(0, "a", "a0", 0, 1, 1).put(0, "b", "b0", 0, 1, 2).
			batch(1, []harness.BatchOp{harness.Set("a", []byte("a1")), harness.Set("b", []byte("b1"))}, 2, 3, 3, nil, -1).
			get(2, "a", "a1", 4, 5, 3).get(2, "b", "b0", 6, 7, 2), "not linearizable"},
		{"batch get sees its own earlier set", new(hb).
			batch(1, []harness.BatchOp{harness.Set("a", []byte("x")), harness.GetOp("a")}, 0, 1, 1, []harness.BatchResult{{Op: "set", Key: "a", Created: true}, getRes("a", "x", 1)}, -1), ""},
		{"batch check failed although it held", new(hb).put(0, "a", "a0", 0, 1, 1).
			batch(1, []harness.BatchOp{harness.CheckRev("a", 1), harness.Set("a", []byte("a1"))}, 2, 3, 0, nil, 0), "not linearizable"},
		{"batch check failed and nothing applied", new(hb).put(0, "a", "a0", 0, 1, 1).
			batch(1, []harness.BatchOp{harness.Set("b", []byte("b1")), harness.CheckRev("a", 9)}, 2, 3, 0, nil, 1).get(2, "b", "", 4, 5, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Linearizable(tt.h.ops, LinearizableOptions{Timeout: 10 * time.Second})
			err := res.Err()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want a pass, got %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("planted violation not found:\n%s", res)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("failure %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestLinearizableFromJSON checks a history read back from history.json,
// where inputs and outputs lost their Go types.
func TestLinearizableFromJSON(t *testing.T) {
	h := new(hb).put(0, "k", "a", 0, 1, 1).put(0, "k", "b", 2, 3, 2).get(1, "k", "a", 4, 5, 1)
	b, err := json.Marshal(h.ops)
	if err != nil {
		t.Fatal(err)
	}
	var back []artifact.Op
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if Linearizable(back, LinearizableOptions{}).OK() {
		t.Fatal("stale read passed after a JSON round trip")
	}
}

func TestLinearizableVisualizesWithFaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "porcupine.html")
	h := new(hb).put(0, "k", "a", 0, 1, 1).put(0, "k", "b", 2, 3, 2).get(1, "k", "a", 4, 5, 1)
	res := Linearizable(h.ops, LinearizableOptions{VisualizePath: path, Faults: []artifact.FaultEvent{{Name: "kill", Start: 3.5, End: 3.5}}})
	if res.OK() || len(res.Files) != 1 {
		t.Fatalf("result %+v", res)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "kill") {
		t.Fatal("fault annotation missing from the visualisation")
	}
	if !strings.Contains(res.String(), path) {
		t.Fatalf("message does not name the visualisation:\n%s", res)
	}
}

func TestLinearizableTimeoutIsInconclusive(t *testing.T) {
	h := new(hb)
	for i := 0; i < 40; i++ {
		h.putUnknown(i, "k", string(rune('a'+i%26))+"x", float64(i)/100, 1)
	}
	h.get(50, "k", "zz", 2, 3, 9)
	res := Linearizable(h.ops, LinearizableOptions{Timeout: time.Nanosecond})
	if res.OK() || res.Inconclusive == "" {
		t.Fatalf("want inconclusive, got %+v", res)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "inconclusive") {
		t.Fatalf("err %v", err)
	}
}

// TestRevisionOrderAcrossKeys: the store-wide revision must rise between
// writes to different keys too, which per-key partitions cannot see.
func TestRevisionOrderAcrossKeys(t *testing.T) {
	backwards := new(hb).put(0, "a", "x", 0, 1, 10).put(1, "b", "y", 2, 3, 5)
	res := Linearizable(backwards.ops, LinearizableOptions{})
	if res.OK() || !strings.Contains(res.Err().Error(), "revision went backwards") {
		t.Fatalf("a revision going backwards across keys passed: %v", res.Err())
	}
	fine := new(hb).put(0, "a", "x", 0, 1, 1).put(1, "b", "y", 2, 3, 2).
		put(2, "c", "z", 2.5, 4, 4).put(3, "d", "w", 2.6, 3.5, 3) // concurrent: any order
	if err := Linearizable(fine.ops, LinearizableOptions{}).Err(); err != nil {
		t.Fatalf("a valid history was flagged: %v", err)
	}
}
