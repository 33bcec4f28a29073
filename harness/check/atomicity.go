package check

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Atomicity checks the bank invariant: every successful read of all the
// accounts in one batch (an atomic snapshot) sums to total. Balances are
// decimal integers, read back from the values' inline text. A batch that is
// half-applied — one leg of a transfer without the other — breaks the sum.
func Atomicity(h []artifact.Op, accounts []string, total int64) Result {
	res := Result{Check: NameAtomicity}
	want := map[string]bool{}
	for _, a := range accounts {
		want[a] = true
	}
	for _, op := range h {
		rs := reads(op)
		if len(rs) == 0 {
			continue
		}
		bal := map[string]int64{}
		var bad []string
		for _, r := range rs {
			if !want[r.Key] {
				continue
			}
			if !r.Found {
				bal[r.Key] = 0
				bad = append(bad, r.Key+"=missing")
				continue
			}
			n, err := strconv.ParseInt(r.Value.Inline, 10, 64)
			if err != nil {
				bal[r.Key] = 0
				bad = append(bad, fmt.Sprintf("%s=%s (not a number)", r.Key, r.Value))
				continue
			}
			bal[r.Key] = n
		}
		if len(bal) != len(accounts) {
			continue // not a snapshot of every account
		}
		res.Checked++
		var sum int64
		parts := make([]string, 0, len(accounts))
		for _, a := range accounts {
			sum += bal[a]
			parts = append(parts, fmt.Sprintf("%s=%d", a, bal[a]))
		}
		if sum != total || len(bad) > 0 {
			msg := fmt.Sprintf("the snapshot of all %d accounts at %.3fs sums to %d, want %d: a transfer was applied in part (%s)",
				len(accounts), op.Call, sum, total, strings.Join(parts, " "))
			if len(bad) > 0 {
				msg += "; bad balances: " + strings.Join(bad, ", ")
			}
			res.Violations = append(res.Violations, Violation{Message: msg, Ops: []artifact.Op{op}})
		}
	}
	if res.Checked == 0 {
		res.Inconclusive = "no read of all the accounts in one batch"
	}
	return res
}

// Counter checks a counter incremented by compare-and-set: the last value
// read from key at or after from must be at least the number of
// acknowledged increments (no lost update) and at most that plus the
// increments whose outcome is unknown. An increment is a successful or
// unknown CAS (If-Match) on key; values are decimal integers.
func Counter(h []artifact.Op, key string, from float64) Result {
	res := Result{Check: NameCounter}
	var acked, unknown int64
	var final *read
	for _, op := range h {
		if op.Key == key && op.Kind == harness.KindCAS {
			switch op.Outcome {
			case artifact.OutcomeOK:
				acked++
			case artifact.OutcomeUnknown:
				unknown++
			}
		}
		if op.Call >= from {
			for _, r := range reads(op) {
				if r.Key == key {
					r := r
					final = &r
				}
			}
		}
	}
	res.Checked = int(acked + unknown)
	if final == nil {
		res.Inconclusive = fmt.Sprintf("no read of %q after %.3fs", key, from)
		return res
	}
	n, err := strconv.ParseInt(final.Value.Inline, 10, 64)
	if !final.Found || err != nil {
		res.Violations = append(res.Violations, Violation{Key: key,
			Message: fmt.Sprintf("counter %q: the final read found %s, not a number", key, final.Value), Ops: []artifact.Op{final.Op}})
		return res
	}
	switch {
	case n < acked:
		res.Violations = append(res.Violations, Violation{Key: key, Ops: []artifact.Op{final.Op},
			Message: fmt.Sprintf("counter %q: lost update: %d increments were acknowledged but the counter reads %d (%d lost)", key, acked, n, acked-n)})
	case n > acked+unknown:
		res.Violations = append(res.Violations, Violation{Key: key, Ops: []artifact.Op{final.Op},
			Message: fmt.Sprintf("counter %q: reads %d, more than the %d acknowledged plus %d unknown increments", key, n, acked, unknown)})
	}
	return res
}
