package reports

import "time"

// Meta describes a run as the CLI started it; it is written to run.json
// before the suites run and completed after. The zero value means the run
// was not started by the CLI (plain `ginkgo --json-report`): the reports
// then show what report.json alone tells.
type Meta struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Seed     int64         `json:"seed"`
	Commit   string        `json:"commit,omitempty"` // of the kvchaos checkout
	Version  string        `json:"version,omitempty"`
	// Target is the server under test.
	Target Target `json:"target"`
	// Suites, LabelFilter and Focus select what ran.
	Suites      []string `json:"suites,omitempty"`
	LabelFilter string   `json:"label_filter,omitempty"`
	Focus       string   `json:"focus,omitempty"`
	// Env holds the KVCHAOS_* variables the suites were given.
	Env map[string]string `json:"env,omitempty"`
	// Command is the ginkgo command line that ran.
	Command  []string `json:"command,omitempty"`
	ExitCode int      `json:"exit_code"`
	Machine  Machine  `json:"machine"`
}

// Target is the server binary the suites drove; an empty Binary means the
// suites built the bundled kvserver.
type Target struct {
	Binary string   `json:"binary,omitempty"`
	Args   []string `json:"args,omitempty"`
	// Version is the server's /api/v1/version body, as a spec recorded it.
	Version map[string]any `json:"version,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	Host     string `json:"host,omitempty"`
	OS       string `json:"os,omitempty"`
	Arch     string `json:"arch,omitempty"`
	CPUs     int    `json:"cpus,omitempty"`
	MemBytes uint64 `json:"mem_bytes,omitempty"`
	Kernel   string `json:"kernel,omitempty"`
	Go       string `json:"go,omitempty"`
}
