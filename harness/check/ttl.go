package check

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// TTL tolerances, the promises: the remaining TTL a read reports is
// within ttlTolerance of the truth, and a key is gone within expiryGrace
// after its deadline. earlyGrace allows for the server's clock against the
// harness's before a key found missing counts as expired early.
const (
	ttlTolerance = time.Second
	expiryGrace  = 50 * time.Millisecond
	earlyGrace   = 50 * time.Millisecond
)

// TTL checks what a history shows of its keys' TTLs, on the run clock
// (which keeps running across server restarts):
//
//   - a key found at the revision of a write with TTL d was read before
//     that write's deadline (at most its return + d, plus expiryGrace);
//   - the remaining TTL a GET reports (X-Kv-Ttl-Ms) lies within
//     ttlTolerance of d minus the time since the write — so a TTL restarted
//     from its full length after a restart, or lost, is caught — and a key
//     written without a TTL reports none;
//   - a key whose last acknowledged write set it with TTL d is not missing
//     before call + d, when no other write, no fault window and no eviction
//     (in.ServerArgs) may explain it.
//
// A history where no write has a TTL and no read reports one is
// inconclusive: there is nothing to check.
func TTL(h []artifact.Op, in Inputs) Result {
	res := Result{Check: NameTTL}
	writes := map[string][]effect{}
	atRev := map[string]map[uint64]effect{}
	any := false
	for _, op := range h {
		for _, e := range finalEffects(op) {
			writes[e.Key] = append(writes[e.Key], e)
			any = any || (e.TTL != "" && op.Outcome == artifact.OutcomeOK)
			if e.Rev != 0 {
				if atRev[e.Key] == nil {
					atRev[e.Key] = map[uint64]effect{}
				}
				atRev[e.Key][e.Rev] = e
			}
		}
	}
	for _, op := range h {
		if op.Kind == harness.KindGet && op.Outcome == artifact.OutcomeOK && !any {
			out, _ := harness.DecodeOutput(op.Output)
			any = out.TTLMillis > 0
		}
	}
	if !any {
		res.Inconclusive = "no acknowledged write in the history has a TTL and no read reports one"
		return res
	}
	evicts := memoryOf(in.ServerArgs).evicts()
	for _, op := range h {
		for _, r := range reads(op) {
			if op.Kind == harness.KindBatch && writtenBefore(op, r.Key) {
				continue
			}
			var v *Violation
			if r.Found {
				w, ok := atRev[r.Key][r.Rev]
				if !ok || r.Rev == 0 {
					continue // no known write made what it saw
				}
				v = ttlOfSurvivor(r, w)
			} else {
				if evicts {
					continue
				}
				v = expiredEarly(r, writes[r.Key], in.Faults)
			}
			res.Checked++
			if v != nil {
				res.Violations = append(res.Violations, *v)
			}
		}
	}
	return res
}

// ttlOfSurvivor checks a key found at the revision of write w: read before
// w's deadline, and (for a GET) the remaining TTL it reported.
func ttlOfSurvivor(r read, w effect) *Violation {
	out, _ := harness.DecodeOutput(r.Op.Output)
	reported := time.Duration(-1)
	if r.Op.Kind == harness.KindGet && out.TTLMillis > 0 {
		reported = time.Duration(out.TTLMillis) * time.Millisecond
	}
	d, ok := parseTTL(w.TTL)
	if !ok {
		if r.Op.Kind == harness.KindGet && reported > 0 {
			return &Violation{Key: r.Key, Ops: []artifact.Op{w.Op, r.Op},
				Message: fmt.Sprintf("key %q: written without a TTL at %.3fs, but the read at %.3fs reports %s remaining", r.Key, w.Op.Call, r.Op.Call, reported)}
		}
		return nil
	}
	since := func(t float64) time.Duration { return time.Duration((t) * float64(time.Second)) }
	deadline := since(w.Op.Return) + d
	if since(r.Op.Call) > deadline+expiryGrace {
		return &Violation{Key: r.Key, Ops: []artifact.Op{w.Op, r.Op},
			Message: fmt.Sprintf("key %q: served after it expired: written with ttl %s (acknowledged at %.3fs), still found by the read at %.3fs, %s after its deadline%s",
				r.Key, w.TTL, w.Op.Return, r.Op.Call, (since(r.Op.Call) - deadline).Round(time.Millisecond), resetHint(reported, d))}
	}
	if r.Op.Kind != harness.KindGet {
		return nil
	}
	if reported < 0 {
		return &Violation{Key: r.Key, Ops: []artifact.Op{w.Op, r.Op},
			Message: fmt.Sprintf("key %q: written with ttl %s at %.3fs, but the read at %.3fs reports no TTL: it lost its TTL", r.Key, w.TTL, w.Op.Call, r.Op.Call)}
	}
	// The truth lies in [d - (read return - write call), d - (read call - write return)].
	lo := d - since(r.Op.Return-w.Op.Call) - ttlTolerance
	hi := d - since(r.Op.Call-w.Op.Return) + ttlTolerance
	if reported < lo || reported > hi {
		return &Violation{Key: r.Key, Ops: []artifact.Op{w.Op, r.Op},
			Message: fmt.Sprintf("key %q: written with ttl %s at %.3fs; the read at %.3fs reports %s remaining, want %s ± %s%s",
				r.Key, w.TTL, w.Op.Call, r.Op.Call, reported, (d - since(r.Op.Call-w.Op.Return)).Round(time.Millisecond), ttlTolerance, resetHint(reported, d))}
	}
	return nil
}

// expiredEarly flags a key found missing before its TTL ran out, when its
// last acknowledged write set it with a TTL and nothing else (another
// write, a fault) may explain its absence.
func expiredEarly(r read, ws []effect, faults []artifact.FaultEvent) *Violation {
	w, ok := settledWrite(r, ws, faults)
	if !ok {
		return nil
	}
	d, ok := parseTTL(w.TTL)
	if !ok {
		return nil // not a TTL'd key: durability's and eviction's question
	}
	earliest := time.Duration(w.Op.Call*float64(time.Second)) + d
	if ret := time.Duration(r.Op.Return * float64(time.Second)); ret < earliest-earlyGrace {
		return &Violation{Key: r.Key, Ops: []artifact.Op{w.Op, r.Op},
			Message: fmt.Sprintf("key %q: expired early: written with ttl %s at %.3fs, but the read at %.3fs found it missing %s before its deadline",
				r.Key, w.TTL, w.Op.Call, r.Op.Call, (earliest - ret).Round(time.Millisecond))}
	}
	return nil
}

// parseTTL reads a TTL argument the way kvserver does: a Go duration
// ("90s", "36h") or whole seconds ("90").
func parseTTL(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		if secs <= 0 || secs > int64(time.Duration(1<<63-1)/time.Second) {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

// resetHint explains a remaining TTL that looks restarted from its full
// length.
func resetHint(reported, d time.Duration) string {
	if reported > d-ttlTolerance {
		return fmt.Sprintf(" (reported %s: the TTL was reset to its full length)", reported)
	}
	return ""
}
