package check

import (
	"fmt"
	"testing"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

func TestTTL(t *testing.T) {
	kill := []artifact.FaultEvent{{Name: "kill", Start: 1.5, End: 1.5}}
	lru := []string{"--max-memory", "16MiB", "--eviction", "lru"}
	tests := []struct {
		name string
		h    *hb
		in   Inputs
		want string
	}{
		{"remaining TTL right", new(hb).putTTL(0, "k", "a", "10s", 0, 0.1, 1).getTTL(0, "k", "a", 2, 2.1, 1, 8000), Inputs{}, ""},
		{"whole seconds TTL", new(hb).putTTL(0, "k", "a", "90", 0, 0.1, 1).getTTL(0, "k", "a", 30, 30.1, 1, 60000), Inputs{}, ""},
		{"remaining TTL after a restart, shortened by the real time", new(hb).putTTL(0, "k", "a", "48h", 0, 0.1, 1).getTTL(0, "k", "a", 10, 10.1, 1, 48*3600e3-10e3), Inputs{Faults: kill}, ""},
		{"TTL reset after a restart", new(hb).putTTL(0, "k", "a", "48h", 0, 0.1, 1).getTTL(0, "k", "a", 10, 10.1, 1, 48*3600e3), Inputs{Faults: kill},
			"reset to its full length"},
		{"remaining TTL too short", new(hb).putTTL(0, "k", "a", "10s", 0, 0.1, 1).getTTL(0, "k", "a", 2, 2.1, 1, 5000), Inputs{}, "reports 5s remaining, want 8.1s ± 1s"},
		{"TTL lost", new(hb).putTTL(0, "k", "a", "10s", 0, 0.1, 1).getTTL(0, "k", "a", 2, 2.1, 1, 0), Inputs{}, "lost its TTL"},
		{"TTL gained", new(hb).put(0, "k", "a", 0, 0.1, 1).getTTL(0, "k", "a", 2, 2.1, 1, 5000), Inputs{}, "written without a TTL"},
		{"served after it expired", new(hb).putTTL(0, "k", "a", "1s", 0, 0.1, 1).get(0, "k", "a", 1.3, 1.4, 1), Inputs{}, "served after it expired"},
		{"gone on time", new(hb).putTTL(0, "k", "a", "1s", 0, 0.1, 1).get(0, "k", "", 1.2, 1.3, 0), Inputs{}, ""},
		{"expired early", new(hb).putTTL(0, "k", "a", "10s", 0, 0.1, 1).get(0, "k", "", 2, 2.1, 0), Inputs{}, "expired early"},
		{"missing after a fault: durability's question", new(hb).putTTL(0, "k", "a", "10s", 0, 0.1, 1).get(0, "k", "", 2, 2.1, 0), Inputs{Faults: kill}, ""},
		{"missing under eviction", new(hb).putTTL(0, "k", "a", "10s", 0, 0.1, 1).get(0, "k", "", 2, 2.1, 0), Inputs{ServerArgs: lru}, ""},
		{"deleted before it expired", new(hb).putTTL(0, "k", "a", "10s", 0, 0.1, 1).del(1, "k", 1, 1.1, 2, true).get(0, "k", "", 2, 2.1, 0), Inputs{}, ""},
		{"rewritten without a TTL lives on", new(hb).putTTL(0, "k", "a", "1s", 0, 0.1, 1).put(0, "k", "b", 0.5, 0.6, 2).getTTL(0, "k", "b", 3, 3.1, 2, 0), Inputs{}, ""},
		{"no TTL in the history", new(hb).put(0, "k", "a", 0, 0.1, 1), Inputs{}, "inconclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { verdict(t, TTL(tt.h.ops, tt.in), tt.want) })
	}
}

func TestEviction(t *testing.T) {
	lru := Inputs{ServerArgs: []string{"--max-memory", "16MiB", "--eviction", "lru"}}
	noev := Inputs{ServerArgs: []string{"--max-memory", "16MiB"}}
	tests := []struct {
		name string
		h    *hb
		in   Inputs
		want string
	}{
		{"evicted keys are 404s, survivors exact", new(hb).put(0, "a", "x", 0, 1, 1).put(0, "b", "y", 0, 1, 2).
			get(0, "a", "", 2, 3, 0).get(0, "b", "y", 2, 3, 2), lru, ""},
		{"an old version survives", new(hb).put(0, "a", "x", 0, 1, 1).put(0, "a", "y", 2, 3, 2).get(0, "a", "x", 4, 5, 1), lru, "an old version survived"},
		{"a survivor's bytes differ from its revision's write", new(hb).put(0, "a", "x", 0, 1, 1).put(0, "b", "z", 0, 1, 2).get(0, "a", "z", 4, 5, 1), lru,
			"but the write of revision 1 was"},
		{"a read answers 500", new(hb).put(0, "a", "x", 0, 1, 1).readFails(0, "a", 2, 3, 500, "INTERNAL"), lru, "clean 404"},
		{"a 503 while starting is no verdict", new(hb).put(0, "a", "x", 0, 1, 1).readFails(0, "a", 2, 3, 503, "UNAVAILABLE"), lru, ""},
		{"noeviction loses a key", new(hb).put(0, "a", "x", 0, 1, 1).get(0, "a", "", 2, 3, 0), noev, "lost under noeviction"},
		{"noeviction: deleted, not lost", new(hb).put(0, "a", "x", 0, 1, 1).del(0, "a", 1.5, 1.6, 2, true).get(0, "a", "", 2, 3, 0), noev, ""},
		{"noeviction: a concurrent delete may explain it", new(hb).put(0, "a", "x", 0, 1, 1).get(0, "a", "", 2, 3, 0).del(1, "a", 2.5, 3.5, 2, true), noev, ""},
		{"no memory limit", new(hb).put(0, "a", "x", 0, 1, 1), Inputs{}, "inconclusive"},
		{"the hot set survives", hotSet(20, 1), withHot(lru), ""},
		{"the policy evicted the hot set", hotSet(20, 2), withHot(lru), "only 18 of the 20 hot keys"},
		{"noeviction: a missing hot key is a lost key", hotSet(20, 2), withHot(noev), "lost under noeviction"},
		{"reads before HotFrom do not count", hotSet(20, 0).get(0, "h0", "", 1, 1.1, 0), withHot(lru), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { verdict(t, Eviction(tt.h.ops, tt.in), tt.want) })
	}
}

// hotSet writes 20 hot keys h0..h19 and reads them back from 10s on, the
// first gone of them absent (at most 20).
func hotSet(n, gone int) *hb {
	b := new(hb)
	for i := range n {
		b.put(0, fmt.Sprintf("h%d", i), "v", float64(i)/100, float64(i)/100+0.005, uint64(i+1))
	}
	for i := range n {
		k, v, rev := fmt.Sprintf("h%d", i), "v", uint64(i+1)
		if i < gone {
			v, rev = "", 0
		}
		b.get(0, k, v, 10+float64(i)/100, 10+float64(i)/100+0.005, rev)
	}
	return b
}

// withHot adds the hot set of hotSet, read from 10s on, to in.
func withHot(in Inputs) Inputs {
	for i := range 20 {
		in.HotKeys = append(in.HotKeys, fmt.Sprintf("h%d", i))
	}
	in.HotFrom = 10
	return in
}
