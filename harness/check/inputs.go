package check

import (
	"fmt"
	"strings"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Inputs are what a checker may know of a run besides its history: the
// fault timeline and the server's options (artifact.Spec.ServerArgs and
// ServerEnv). The zero value knows of no fault and no server option.
type Inputs struct {
	Faults []artifact.FaultEvent
	// ServerArgs are the server's options as flags: its KVSERVER_*
	// variables turned into flags (EnvFlags), then its arguments as
	// started, so that the arguments win as they do in kvserver.
	ServerArgs []string
	// HotKeys are keys an eviction check expects to survive: the spec
	// kept them in use and reads them again from HotFrom (run-clock
	// seconds) on. They come from the check's CheckSpec (Keys, From).
	HotKeys []string
	HotFrom float64
}

// envPrefix starts the environment variable of every kvserver flag.
const envPrefix = "KVSERVER_"

// EnvFlags turns the KVSERVER_<NAME>=value entries of env into the flags
// kvserver reads them as (--<name>=value: NAME lower-cased, _ as -), in
// order; the rest of env is ignored. Put before the arguments, they lose to
// them as in kvserver.
func EnvFlags(env []string) []string {
	var out []string
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		rest, isServer := strings.CutPrefix(name, envPrefix)
		if !ok || !isServer || rest == "" || value == "" {
			continue
		}
		out = append(out, "--"+strings.ReplaceAll(strings.ToLower(rest), "_", "-")+"="+value)
	}
	return out
}

// memory is what the server's arguments say about its memory limit.
type memory struct {
	// Limit is --max-memory as given ("" or "0": unlimited).
	Limit string
	// Policy is --eviction as given ("": the default, noeviction).
	Policy string
}

// memoryOf reads --max-memory and --eviction from a server's arguments, in
// any of the forms Go's flag package takes (-x v, --x v, -x=v, --x=v); the
// last one given wins.
func memoryOf(args []string) memory {
	var m memory
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		if !hasValue && i+1 < len(args) && (name == "max-memory" || name == "eviction") {
			i++
			value = args[i]
		}
		switch name {
		case "max-memory":
			m.Limit = value
		case "eviction":
			m.Policy = value
		}
	}
	return m
}

// limited says whether the server runs with a memory limit.
func (m memory) limited() bool {
	num := strings.TrimRightFunc(m.Limit, func(r rune) bool { return r == ' ' || r > '9' })
	return strings.Trim(num, "0.") != ""
}

// evicts says whether the server may remove keys to stay under its limit
// (any policy but noeviction, at a limit).
func (m memory) evicts() bool {
	return m.limited() && m.Policy != "" && m.Policy != "noeviction"
}

func (m memory) String() string {
	if !m.limited() {
		return "no --max-memory"
	}
	policy := m.Policy
	if policy == "" {
		policy = "noeviction"
	}
	return fmt.Sprintf("--max-memory %s --eviction %s", m.Limit, policy)
}
