package check

import (
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness"
)

// TestRegisterModelUsesCreatedAndDeleted: what a write's answer says about
// the key before it (201 Created or 200, deleted true or false) must agree
// with the register.
func TestRegisterModelUsesCreatedAndDeleted(t *testing.T) {
	del := []harness.BatchOp{harness.Del("k")}
	tests := []struct {
		name string
		h    *hb
		want string
	}{
		{"201 on a new key, 200 on an overwrite", new(hb).putAnswered(0, "k", "a", 0, 1, 1, true).putAnswered(0, "k", "b", 2, 3, 2, false), ""},
		{"201 on a key that existed", new(hb).putAnswered(0, "k", "a", 0, 1, 1, true).putAnswered(1, "k", "b", 2, 3, 2, true), "not linearizable"},
		{"200 on a key that did not exist", new(hb).putAnswered(0, "k", "a", 0, 1, 1, false), "not linearizable"},
		{"201 again after a delete", new(hb).putAnswered(0, "k", "a", 0, 1, 1, true).del(0, "k", 2, 3, 2, true).putAnswered(0, "k", "b", 4, 5, 3, true), ""},
		{"concurrent puts on a new key: one creates", new(hb).putAnswered(0, "k", "a", 0, 3, 2, false).putAnswered(1, "k", "b", 1, 2, 1, true), ""},
		{"concurrent puts on a new key: both create", new(hb).putAnswered(0, "k", "a", 0, 3, 2, true).putAnswered(1, "k", "b", 1, 2, 1, true), "not linearizable"},
		{"batch delete of an absent key answers deleted:false", new(hb).batch(0, del, 0, 1, 1, []harness.BatchResult{delRes("k", false)}, -1), ""},
		{"batch delete of an absent key answers deleted:true", new(hb).batch(0, del, 0, 1, 1, []harness.BatchResult{delRes("k", true)}, -1), "not linearizable"},
		{"batch delete of a present key answers deleted:false", new(hb).put(0, "k", "a", 0, 1, 1).
			batch(0, del, 2, 3, 2, []harness.BatchResult{delRes("k", false)}, -1), "not linearizable"},
		{"batch set on a present key answers created", new(hb).put(0, "k", "a", 0, 1, 1).
			batch(0, []harness.BatchOp{harness.Set("k", []byte("b"))}, 2, 3, 2, []harness.BatchResult{setRes("k", 2, true)}, -1), "not linearizable"},
		{"batch set then delete of a new key", new(hb).
			batch(0, []harness.BatchOp{harness.Set("k", []byte("b")), harness.Del("k")}, 0, 1, 1, []harness.BatchResult{setRes("k", 1, true), delRes("k", true)}, -1).
			get(0, "k", "", 2, 3, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verdict(t, Linearizable(tt.h.ops, LinearizableOptions{Timeout: 10 * time.Second}), tt.want)
		})
	}
}
