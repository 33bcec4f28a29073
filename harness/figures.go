package harness

import (
	"github.com/kvchaos/kvchaos/harness/artifact"
)

// LatencyFigures summarises a history for the report: operations per
// second over the span of the ops, latency percentiles of the successful
// ones in milliseconds, and counts by outcome.
func LatencyFigures(ops []artifact.Op) artifact.Figures {
	f := artifact.Figures{}
	if len(ops) == 0 {
		return f
	}
	first, last := ops[0].Call, ops[0].Return
	var lat []float64
	for _, op := range ops {
		first = min(first, op.Call)
		last = max(last, op.Return)
		switch op.Outcome {
		case artifact.OutcomeOK:
			f["ops_ok"]++
			lat = append(lat, (op.Return-op.Call)*1000)
		case artifact.OutcomeFail:
			f["ops_fail"]++
		case artifact.OutcomeUnknown:
			f["ops_unknown"]++
		}
	}
	f["ops"] = float64(len(ops))
	if span := last - first; span > 0 {
		f["ops_per_sec"] = float64(len(ops)) / span
	}
	f["p50_ms"] = Percentile(lat, 50)
	f["p99_ms"] = Percentile(lat, 99)
	f["p999_ms"] = Percentile(lat, 99.9)
	f["max_ms"] = Percentile(lat, 100)
	return f
}
