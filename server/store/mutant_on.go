//go:build kvmutant

package store

import (
	"os"
	"strings"
)

// In a kvmutant build, KVSERVER_MUTANT names the bugs to switch on.
func init() {
	for _, name := range strings.Split(os.Getenv("KVSERVER_MUTANT"), ",") {
		switch strings.TrimSpace(name) {
		case "lose-writes":
			mutant.loseWrites = true
		case "stale-read":
			mutant.staleRead = true
		case "half-batch":
			mutant.halfBatch = true
		case "split-batch":
			mutant.splitBatch = true
		case "ttl-reset":
			mutant.ttlReset = true
		case "evict-wrong":
			mutant.evictWrong = true
		case "no-fsync":
			mutant.noFsync = true
		}
	}
}
