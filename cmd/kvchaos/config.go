package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// defaultConfigFile is read when it exists and --config is not given.
const defaultConfigFile = "kvchaos.yaml"

// Config is the content of kvchaos.yaml; flags override it. The zero value
// runs every suite under ./suites against the bundled kvserver, with the
// suites' own fault defaults, and writes to reports/.
type Config struct {
	// Target is the server under test.
	Target TargetConfig `json:"target"`
	// Suites are the suite directories (ginkgo -r walks each).
	Suites []string `json:"suites"`
	// Labels is a Ginkgo label filter expression, e.g. "!slow".
	Labels string `json:"labels"`
	// Focus is a regular expression on spec text.
	Focus string `json:"focus"`
	// Seed fixes the random seed; 0 picks one from the clock (and a new
	// one for each repetition under --repeat / --until-it-fails).
	Seed int64 `json:"seed"`
	// Parallel runs each suite's specs in parallel processes (ginkgo -p).
	Parallel bool `json:"parallel"`
	// Timeout bounds the whole ginkgo run, e.g. "60m"; "" is ginkgo's default.
	Timeout string `json:"timeout"`
	// Faults tunes fault intensity; the suites read it from env vars.
	Faults FaultConfig `json:"faults"`
	// Out is the report directory.
	Out string `json:"out"`
}

// TargetConfig names the server binary the suites drive. An empty Binary
// lets the suites build the bundled kvserver.
type TargetConfig struct {
	Binary string            `json:"binary"`
	Args   []string          `json:"args"`
	Env    map[string]string `json:"env"`
	// Race builds the bundled server with -race and fails a spec whose
	// server reports a data race (KVCHAOS_RACE=1).
	Race bool `json:"race"`
}

// FaultConfig is the fault intensity; zero fields leave the suites'
// defaults in place.
type FaultConfig struct {
	// Crashes is how many SIGKILLs a crash-recovery spec injects.
	Crashes int `json:"crashes"`
	// FillLevels are the bytes left free when a disk is filled, e.g.
	// ["0", "4KiB", "1MiB"].
	FillLevels []string `json:"fill_levels"`
	// MemoryLimits are cgroup memory limits to run under, e.g. ["128MiB"].
	MemoryLimits []string `json:"memory_limits"`
	// CPUQuota is the share of one core a starved server gets, e.g. "5%".
	CPUQuota string `json:"cpu_quota"`
	// Duration bounds a workload, e.g. "30s".
	Duration string `json:"duration"`
	// Clients is the number of concurrent clients of a workload.
	Clients int `json:"clients"`
}

// loadConfig reads a config file strictly: an unknown key is an error that
// names it. A missing default file is the zero Config; a missing file the
// user named is an error.
func loadConfig(path string, named bool) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !named {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if c.Timeout != "" {
		if _, err := time.ParseDuration(c.Timeout); err != nil {
			return c, fmt.Errorf("config %s: timeout: %w", path, err)
		}
	}
	return c, nil
}

// withDefaults fills what neither the file nor the flags set.
func (c Config) withDefaults() Config {
	if len(c.Suites) == 0 {
		c.Suites = []string{"./suites"}
	}
	if c.Out == "" {
		c.Out = "reports"
	}
	return c
}

// suiteEnv is the environment the suites get from the config: the target
// and the fault intensity, as KVCHAOS_* variables. Lists are
// comma-separated; server args and env are JSON (an array and an object),
// so values with spaces survive.
func (c Config) suiteEnv() map[string]string {
	env := map[string]string{}
	if c.Target.Binary != "" {
		env["KVCHAOS_SERVER_BIN"] = c.Target.Binary
	}
	if len(c.Target.Args) > 0 {
		b, _ := json.Marshal(c.Target.Args)
		env["KVCHAOS_SERVER_ARGS"] = string(b)
	}
	if len(c.Target.Env) > 0 {
		b, _ := json.Marshal(c.Target.Env)
		env["KVCHAOS_SERVER_ENV"] = string(b)
	}
	if c.Target.Race {
		env["KVCHAOS_RACE"] = "1"
	}
	f := c.Faults
	set := func(k, v string) {
		if v != "" {
			env[k] = v
		}
	}
	if f.Crashes > 0 {
		set("KVCHAOS_CRASHES", strconv.Itoa(f.Crashes))
	}
	if f.Clients > 0 {
		set("KVCHAOS_CLIENTS", strconv.Itoa(f.Clients))
	}
	set("KVCHAOS_FILL_LEVELS", strings.Join(f.FillLevels, ","))
	set("KVCHAOS_MEMORY_LIMITS", strings.Join(f.MemoryLimits, ","))
	set("KVCHAOS_CPU_QUOTA", f.CPUQuota)
	set("KVCHAOS_DURATION", f.Duration)
	return env
}

// envList renders env as sorted KEY=VALUE pairs.
func envList(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
