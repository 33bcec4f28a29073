// Package store is kvserver's storage engine: the live data sits in an
// in-memory buntdb database, and durability comes from kvserver's own
// checksummed write-ahead log and snapshots (package wal), which close the gaps
// buntdb's append-only file leaves open: atomic transactions across crashes,
// fsync errors that reach the caller, nanosecond TTLs across restarts, a data
// directory that one process at a time may own, and a load that never panics
// or hangs on a damaged file.
//
// Every write is a transaction of ops (a PUT is a one-op transaction, a batch
// is many). Transactions from concurrent callers are grouped: one write() and,
// under SyncAlways, one fsync cover the whole group, and no caller is answered
// before the fsync that covers its transaction. A transaction becomes visible
// to readers only once it is durable by the configured policy.
package store

import (
	"errors"
	"fmt"
	"time"
)

// SyncPolicy says when an acknowledged write has reached stable storage.
type SyncPolicy string

// The sync policies. The zero value is not valid; Options.withDefaults picks
// SyncAlways.
const (
	// SyncAlways fsyncs the log before a write is acknowledged.
	SyncAlways SyncPolicy = "always"
	// SyncEverySec fsyncs the log once a second: a power loss may lose about
	// the last second of acknowledged writes.
	SyncEverySec SyncPolicy = "everysec"
	// SyncNever leaves flushing to the operating system.
	SyncNever SyncPolicy = "never"
)

// ParseSyncPolicy parses "always", "everysec" or "never".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch p := SyncPolicy(s); p {
	case SyncAlways, SyncEverySec, SyncNever:
		return p, nil
	}
	return "", fmt.Errorf("unknown sync policy %q (want always, everysec or never)", s)
}

// EvictionPolicy says what happens when a write would take the accounted
// dataset size over Options.MaxMemory.
type EvictionPolicy string

// The eviction policies.
const (
	// NoEviction rejects the write with ErrMemoryLimit.
	NoEviction EvictionPolicy = "noeviction"
	// LRU evicts the least recently used keys.
	LRU EvictionPolicy = "lru"
	// LFU evicts the least frequently used keys (a decaying counter).
	LFU EvictionPolicy = "lfu"
)

// ParseEvictionPolicy parses "noeviction", "lru" or "lfu".
func ParseEvictionPolicy(s string) (EvictionPolicy, error) {
	switch p := EvictionPolicy(s); p {
	case NoEviction, LRU, LFU:
		return p, nil
	}
	return "", fmt.Errorf("unknown eviction policy %q (want noeviction, lru or lfu)", s)
}

// Errors returned by the store. The HTTP layer maps each to a status and an
// error code.
var (
	// ErrNotFound: the key does not exist (or has expired).
	ErrNotFound = errors.New("key not found")
	// ErrDiskFull: the log could not be written because the disk is full
	// (ENOSPC or EDQUOT). Nothing of the transaction was applied.
	ErrDiskFull = errors.New("disk full")
	// ErrIO: writing or syncing the log failed for another reason (EIO...).
	// Nothing of the transaction was applied.
	ErrIO = errors.New("storage i/o error")
	// ErrMemoryLimit: the write would take the dataset over MaxMemory and
	// the policy is NoEviction (or nothing evictable is left).
	ErrMemoryLimit = errors.New("memory limit reached")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
	// ErrLocked: another process holds the data directory.
	ErrLocked = errors.New("data directory in use")
	// ErrCorrupt: a data file is damaged in the middle (not a torn tail).
	// The error's text names the file, the offset and the fix.
	ErrCorrupt = errors.New("data file corrupt")
)

// ConditionError reports that a condition of a transaction did not hold: a
// check op, an If-Match or an If-None-Match. Nothing of the transaction was
// applied.
type ConditionError struct {
	// OpIndex is the index of the op whose condition failed.
	OpIndex int
	// Key is that op's key.
	Key string
	// Reason says what was expected and what was found.
	Reason string
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("condition failed at op %d (key %q): %s", e.OpIndex, e.Key, e.Reason)
}

// OpKind is the kind of one op of a transaction.
type OpKind string

// The op kinds.
const (
	OpSet    OpKind = "set"
	OpDelete OpKind = "delete"
	OpGet    OpKind = "get"
	OpCheck  OpKind = "check"
)

// Op is one operation of a transaction. Conditions are evaluated against the
// state left by the ops before it in the same transaction.
type Op struct {
	Kind OpKind
	Key  string
	// Value and ContentType are stored by OpSet.
	Value       []byte
	ContentType string
	// TTL, when > 0, makes an OpSet key expire TTL after the commit.
	TTL time.Duration

	// IfRevision, when non-zero, is a condition: the key must exist with
	// exactly this revision (If-Match on PUT/DELETE, check op with revision).
	IfRevision uint64
	// IfAbsent is a condition: the key must not exist (If-None-Match: * on
	// PUT, check op with exists=false).
	IfAbsent bool
	// MustExist makes an OpDelete of an absent key fail the transaction
	// with ErrNotFound (a single DELETE answers 404; a batch delete of an
	// absent key is not an error).
	MustExist bool
}

// Meta describes a stored key without its value.
type Meta struct {
	Key         string
	Size        int
	Revision    uint64
	ContentType string
	// ExpiresAt is zero for a key without TTL.
	ExpiresAt time.Time
}

// Entry is a stored key with its value.
type Entry struct {
	Meta
	Value []byte
}

// OpResult is the outcome of one op of a committed transaction.
type OpResult struct {
	Kind OpKind
	Key  string
	// Set: Created is true for a new key; Meta describes the key as written.
	Created bool
	// Delete: Deleted is false when the key was absent.
	Deleted bool
	// Get: Found, and Entry when found.
	Found bool
	Entry *Entry
	// Meta is the key's state after the op (set) or before it (delete,
	// get, check), when the key exists.
	Meta *Meta
}

// TxResult is the outcome of a committed transaction.
type TxResult struct {
	// Revision is the store revision the transaction committed at (or the
	// current revision for a transaction without writes).
	Revision uint64
	Results  []OpResult
}

// Stats is a point-in-time view of the store for /metrics and /readyz.
type Stats struct {
	Keys         int
	DatasetBytes int64
	MaxMemory    int64
	Revision     uint64
	Evictions    uint64
	Expirations  uint64

	LogBytes      int64 // bytes in the write-ahead log segments
	SnapshotBytes int64 // bytes of the newest snapshot
	Snapshots     uint64
	Commits       uint64 // transactions committed
	Groups        uint64 // log writes (a group of transactions each)
	Fsyncs        uint64
	FsyncSeconds  float64 // total time spent in fsync
	WriteErrors   uint64

	RecoveryDuration   time.Duration
	RecoveredTornBytes int64 // bytes cut from a torn log tail at the last start

	// Degraded is non-nil while the last log write failed and no later one
	// has succeeded.
	Degraded error
}
