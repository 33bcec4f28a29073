package store

// mutations are deliberate bugs, compiled in only with the kvmutant build
// tag (see mutant_on.go), that let kvchaos prove its checkers catch a server
// that lies: `go build -tags kvmutant ./cmd/kvserver` and
// KVSERVER_MUTANT=lose-writes,stale-read,... In a normal build every field
// is false and the checks below cost one predictable branch.
type mutations struct {
	loseWrites bool // acknowledge sets but never log them
	staleRead  bool // GET sometimes returns the previous value
	halfBatch  bool // log only the first half of a transaction's changes
	splitBatch bool // log each change of a transaction as a record of its own
	ttlReset   bool // on restart, every TTL starts again from its full length
	evictWrong bool // LRU evicts the most recently used keys
	noFsync    bool // never fsync
}

var mutant mutations

// mutantResetTTL gives a recovered key its full TTL again, counted from now
// (the ttl-reset mutant). written is the commit time when known.
func mutantResetTTL(expiresAt, written, now int64) int64 {
	if written == 0 || expiresAt <= written {
		return expiresAt
	}
	return now + (expiresAt - written)
}
