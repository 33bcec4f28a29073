package check

import (
	"fmt"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Integrity checks that every value a successful read returned is, byte for
// byte (sha256 and length), a value some client wrote to that key (a write
// that succeeded or whose outcome is unknown). It catches torn, mixed-up and
// corrupted values whatever the workload.
func Integrity(h []artifact.Op) Result {
	res := Result{Check: NameIntegrity}
	written := map[string]map[string]bool{} // key -> sha -> written
	owner := map[string]string{}            // sha -> a key it was written to
	for _, op := range h {
		for _, e := range writeEffects(op) {
			if !e.Present {
				continue
			}
			if written[e.Key] == nil {
				written[e.Key] = map[string]bool{}
			}
			written[e.Key][e.Value.SHA256] = true
			owner[e.Value.SHA256] = e.Key
		}
	}
	for _, op := range h {
		for _, r := range reads(op) {
			if !r.Found {
				continue
			}
			res.Checked++
			if written[r.Key][r.Value.SHA256] {
				continue
			}
			msg := fmt.Sprintf("key %q: the read at %.3fs returned %s, which no client ever wrote to this key", r.Key, r.Op.Call, r.Value)
			if k, ok := owner[r.Value.SHA256]; ok {
				msg += fmt.Sprintf(" (it is a value written to key %q)", k)
			}
			res.Violations = append(res.Violations, Violation{Key: r.Key, Message: msg, Ops: []artifact.Op{r.Op}})
		}
	}
	return res
}
