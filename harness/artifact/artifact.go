// Package artifact defines the on-disk form of one spec's evidence: what the
// harness writes next to a spec (history, resource samples, fault events, the
// spec's seed and reproduction command) and what the reports package and the
// `kvchaos recheck` / `kvchaos report` commands read back. It holds types and
// file names only, so both sides agree without importing each other's logic.
//
// Layout, one folder a spec under the run's artifact root
// (KVCHAOS_ARTIFACTS_DIR, default reports/artifacts):
//
//	<root>/<spec-id>/spec.json       Spec
//	<root>/<spec-id>/history.json    []Op
//	<root>/<spec-id>/resources.json  []Sample
//	<root>/<spec-id>/faults.json     []FaultEvent
//	<root>/<spec-id>/server.log      the server's stdout and stderr
//	<root>/<spec-id>/porcupine.html  linearizability visualisation (on failure)
//	<root>/<spec-id>/data/           the server's data dir (kept on failure)
//
// Times are seconds on the run's monotonic clock: 0 is the moment the spec's
// harness clock started. The spec-id is a filesystem-safe slug of the spec's
// full text plus a short hash, stable across runs with the same seed.
package artifact

// File names inside a spec's artifact folder.
const (
	SpecFile      = "spec.json"
	HistoryFile   = "history.json"
	ResourcesFile = "resources.json"
	FaultsFile    = "faults.json"
	ServerLogFile = "server.log"
	PorcupineFile = "porcupine.html"
	DataDir       = "data"
)

// Report entry names the harness adds with Ginkgo's AddReportEntry. The
// reports package reads them back from report.json (where they are JSON).
const (
	// EntryFigures carries a Figures value: the key numbers of the spec,
	// shown in the HTML tables and as JUnit properties.
	EntryFigures = "kvchaos.figures"
	// EntryArtifacts carries the spec's artifact folder (a string path,
	// relative to the report directory when possible).
	EntryArtifacts = "kvchaos.artifacts"
	// EntryRepro carries the shell command that re-runs just this spec.
	EntryRepro = "kvchaos.repro"
)

// Figures are a spec's key numbers, by name: "ops_per_sec", "p50_ms",
// "p99_ms", "p999_ms", "rss_peak_bytes", "recovery_ms", "lost_writes"...
// Units are in the name.
type Figures map[string]float64

// Spec describes one spec's run.
type Spec struct {
	ID        string   `json:"id"`
	Text      string   `json:"text"`     // full spec text (containers + leaf)
	Location  string   `json:"location"` // file:line of the leaf node
	Labels    []string `json:"labels,omitempty"`
	Seed      int64    `json:"seed"`
	Repro     string   `json:"repro"` // command that re-runs just this spec
	ServerBin string   `json:"server_bin"`
	// ServerArgs are the arguments of the last server start.
	ServerArgs []string `json:"server_args,omitempty"`
	// ServerEnv are the KVSERVER_* variables the server started with
	// (kvserver reads every flag from one too); the rest of its
	// environment is not recorded.
	ServerEnv []string `json:"server_env,omitempty"`
	// ServerVersion is the server's /api/v1/version body, verbatim.
	ServerVersion map[string]any `json:"server_version,omitempty"`
	// FaultSchedule is the fault plan as it actually ran (seeded choices).
	FaultSchedule []FaultEvent `json:"fault_schedule,omitempty"`
	Failed        bool         `json:"failed"`
	// Checks are the checkers the spec ran over its history, with their
	// parameters, so `kvchaos recheck` can run them again.
	Checks []CheckSpec `json:"checks,omitempty"`
}

// CheckSpec names one checker run over a spec's history and its parameters
// (harness/check.Run runs one).
type CheckSpec struct {
	// Name is the checker: "linearizability", "durability", "integrity",
	// "atomicity" or "counter".
	Name string `json:"name"`
	// From is the run-clock second where a durability check's final reads
	// start (writes before it must have survived).
	From float64 `json:"from,omitempty"`
	// Keys are an atomicity check's accounts, or a counter check's key.
	Keys []string `json:"keys,omitempty"`
	// Total is the sum the accounts must always have.
	Total int64 `json:"total,omitempty"`
	// TimeoutSeconds bounds a linearizability check (0: the default).
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
}

// Outcome of a recorded operation, Jepsen's convention.
const (
	OutcomeOK      = "ok"      // the server answered and the op took effect (or was a read)
	OutcomeFail    = "fail"    // a definite error: the op did not take effect
	OutcomeUnknown = "unknown" // timeout, reset: a write may or may not have happened
)

// Op is one recorded client operation.
type Op struct {
	Client int     `json:"client"`
	Kind   string  `json:"kind"` // get, put, delete, cas, batch, list, head
	Key    string  `json:"key,omitempty"`
	Call   float64 `json:"call"`   // seconds, run clock
	Return float64 `json:"return"` // seconds, run clock; for unknown: when the client gave up
	// Outcome is OutcomeOK, OutcomeFail or OutcomeUnknown.
	Outcome string `json:"outcome"`
	Status  int    `json:"status,omitempty"` // HTTP status, 0 when none
	Error   string `json:"error,omitempty"`  // error code or text
	// Input and Output carry the op's arguments and results (values as
	// sha256 hex plus length when large, revisions, batch ops...).
	Input  any `json:"input,omitempty"`
	Output any `json:"output,omitempty"`
}

// Sample is one resource sample of the server process.
type Sample struct {
	T          float64 `json:"t"`
	RSS        uint64  `json:"rss"`
	CPUPercent float64 `json:"cpu"`
	Threads    int32   `json:"threads"`
	FDs        int32   `json:"fds"`
	ReadBytes  uint64  `json:"read_bytes"`  // disk bytes read (cumulative)
	WriteBytes uint64  `json:"write_bytes"` // disk bytes written (cumulative)
}

// FaultEvent is one fault window: injected at Start, healed at End (End is
// zero while not healed, or equal to Start for an instant fault like SIGKILL).
type FaultEvent struct {
	Name   string  `json:"name"`
	Start  float64 `json:"start"`
	End    float64 `json:"end"`
	Detail string  `json:"detail,omitempty"`
	Error  string  `json:"error,omitempty"`
}
