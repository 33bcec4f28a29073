package check

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// TestLinearizableWithTTLAndEviction: keys that vanish without an op (an
// expiry, an eviction) would look like lost writes to the register model.
// The result must be inconclusive with the reason — never a pass, never a
// false failure — while violations on keys it can judge still count.
func TestLinearizableWithTTLAndEviction(t *testing.T) {
	lru := []string{"--max-memory", "16MiB", "--eviction", "lru"}
	tests := []struct {
		name string
		h    *hb
		args []string
		want string // "" = pass; "inconclusive: <reason>"; else a violation
	}{
		{"a TTL'd key expires", new(hb).putTTL(0, "k", "a", "1s", 0, 1, 1).get(1, "k", "", 5, 6, 0), nil,
			"inconclusive: 1 key(s) were written with a TTL"},
		{"a stale read on another key still fails", new(hb).putTTL(0, "k", "a", "1s", 0, 1, 1).get(1, "k", "", 5, 6, 0).
			put(0, "j", "a", 0, 1, 2).put(0, "j", "b", 2, 3, 3).get(1, "j", "a", 4, 5, 2), nil, "stale read"},
		{"an evicting server drops a key", new(hb).put(0, "k", "a", 0, 1, 1).get(1, "k", "", 2, 3, 0), lru,
			"inconclusive: the server may evict keys (--max-memory 16MiB --eviction lru)"},
		{"an evicting server: the store revision still counts", new(hb).put(0, "a", "x", 0, 1, 10).put(1, "b", "y", 2, 3, 5), lru,
			"revision went backwards"},
		{"noeviction loses a key", new(hb).put(0, "k", "a", 0, 1, 1).get(1, "k", "", 2, 3, 0), []string{"--max-memory=16MiB", "--eviction=noeviction"},
			"not linearizable"},
		{"no limit, no TTL: a plain pass", new(hb).put(0, "k", "a", 0, 1, 1).get(1, "k", "a", 2, 3, 1), []string{"--eviction", "lru"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Linearizable(tt.h.ops, LinearizableOptions{Timeout: 10 * time.Second, ServerArgs: tt.args})
			err := res.Err()
			reason, inconclusive := strings.CutPrefix(tt.want, "inconclusive: ")
			switch {
			case tt.want == "":
				if err != nil {
					t.Fatalf("want a pass, got %v", err)
				}
			case inconclusive:
				if !errors.Is(err, ErrInconclusive) || len(res.Violations) > 0 || !strings.Contains(res.Inconclusive, reason) {
					t.Fatalf("want inconclusive (%s), got %v", reason, err)
				}
			default:
				if !errors.Is(err, ErrViolation) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("want a violation saying %q, got %v", tt.want, err)
				}
			}
		})
	}
}

func TestMemoryOf(t *testing.T) {
	tests := []struct {
		args   []string
		evicts bool
		limit  bool
	}{
		{nil, false, false},
		{[]string{"--max-memory", "64MiB", "--eviction", "lfu"}, true, true},
		{[]string{"-max-memory=1GB", "-eviction=lru"}, true, true},
		{[]string{"--max-memory", "64MiB"}, false, true},
		{[]string{"--max-memory", "0", "--eviction", "lru"}, false, false},
		{[]string{"--eviction", "lru", "--max-memory", "64MiB", "--eviction", "noeviction"}, false, true},
		{[]string{"--max-memory", "0MiB", "--eviction", "lfu"}, false, false},
	}
	for _, tt := range tests {
		m := memoryOf(tt.args)
		if m.evicts() != tt.evicts || m.limited() != tt.limit {
			t.Errorf("%q: evicts %v limited %v, want %v %v", tt.args, m.evicts(), m.limited(), tt.evicts, tt.limit)
		}
	}
}

// TestServerEnvIsReadAsFlags checks that a limit set through KVSERVER_*
// variables counts like the flags, and that the arguments win over them as
// they do in kvserver.
func TestServerEnvIsReadAsFlags(t *testing.T) {
	if got := EnvFlags([]string{"PATH=/bin", "KVSERVER_MAX_MEMORY=16MiB", "KVSERVER_GC_HEADROOM=20", "KVSERVER_=x", "KVSERVER_SYNC="}); !slices.Equal(got,
		[]string{"--max-memory=16MiB", "--gc-headroom=20"}) {
		t.Fatalf("EnvFlags = %q", got)
	}
	h := new(hb).put(0, "a", "x", 0, 1, 1).get(0, "a", "", 2, 3, 0).ops
	env := []string{"KVSERVER_MAX_MEMORY=16MiB", "KVSERVER_EVICTION=lru"}
	if r := Run(artifact.CheckSpec{Name: NameEviction}, h, nil, "", WithServerEnv(env)); r.Inconclusive != "" || r.Err() != nil {
		t.Fatalf("eviction with the limit in the environment: %s", r)
	}
	// The same absent key under noeviction, set on the command line over
	// the environment's lru, is a lost key.
	r := Run(artifact.CheckSpec{Name: NameEviction}, h, nil, "", WithServerArgs([]string{"--eviction", "noeviction"}), WithServerEnv(env))
	if r.Err() == nil {
		t.Fatalf("the command line's noeviction did not win over the environment's lru: %s", r)
	}
}
