// Package suite is the Ginkgo bootstrap every kvchaos suite calls: it picks
// or builds the server binary once per run, gives each spec its own Target,
// run clock, history, seeded streams and artifact folder, saves the
// evidence, adds the report entries, and makes every failure message end
// with the command that re-runs just that spec.
//
// A suite's entry file is three lines:
//
//	func TestAPI(t *testing.T) {
//		RegisterFailHandler(suite.Fail)
//		RunSpecs(t, "api")
//	}
//	var _ = suite.Setup("api", suite.Build{})
//
// and a spec starts with env := suite.Start(suite.Options{...}).
package suite

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega/gexec"
)

// ServerPackage is the bundled server's import path.
const ServerPackage = "github.com/kvchaos/kvchaos/cmd/kvserver"

// Environment variables the bootstrap reads.
const (
	// EnvServerBin names a server binary to use instead of building one.
	EnvServerBin = "KVCHAOS_SERVER_BIN"
	// EnvServerArgs is a JSON array of extra args for every server start.
	EnvServerArgs = "KVCHAOS_SERVER_ARGS"
	// EnvServerEnv is a JSON object of extra environment for the server.
	EnvServerEnv = "KVCHAOS_SERVER_ENV"
	// EnvRace=1 builds the server with -race and fails a spec whose server
	// printed "WARNING: DATA RACE".
	EnvRace = "KVCHAOS_RACE"
	// EnvMutantBin names a kvmutant build to use for mutant specs.
	EnvMutantBin = "KVCHAOS_MUTANT_BIN"
	// EnvArtifactsDir is the artifact root.
	EnvArtifactsDir = "KVCHAOS_ARTIFACTS_DIR"
	// EnvKeepArtifacts=1 keeps data dirs and artifacts of passing specs.
	EnvKeepArtifacts = "KVCHAOS_KEEP_ARTIFACTS"
)

var (
	flagServerBin = flag.String("kvchaos.server-bin", "", "server binary to test instead of building cmd/kvserver (also "+EnvServerBin+")")
	flagRace      = flag.Bool("kvchaos.race", false, "build the server with -race and fail specs on a data race (also "+EnvRace+"=1)")
)

// Build says what a suite needs built besides the server.
type Build struct {
	// Mutants lets MutantBin build the kvmutant server (go build -tags
	// kvmutant) for the specs that ask for it.
	Mutants bool
	// Race lets RaceBin build a -race server for the specs that ask for
	// it, whatever KVCHAOS_RACE says.
	Race bool
}

// binaries are the paths process 1 built or chose, shared with all.
type binaries struct {
	Server  string `json:"server"`
	Custom  bool   `json:"custom"` // the server came from the user
	Race    bool   `json:"race"`
	Version string `json:"version"` // the ldflags version stamped by our build
}

var (
	suiteName string
	bins      binaries
)

// buildVersion is stamped into the server the suites build, so the version
// spec can check the build metadata end to end.
const (
	buildVersion = "v0.0.0-kvchaos-suite"
	buildCommit  = "suitecommit0"
	buildTime    = "2026-01-02T03:04:05Z"
)

// Setup registers the suite-level nodes: process 1 builds (or picks) the
// server once, every process receives the path, and the build is removed
// after the suite. name is the suite's folder under suites/, used in the
// re-run command. Call it at the top level: var _ = suite.Setup("api", ...).
func Setup(name string, b Build) bool {
	suiteName = name
	ginkgo.SynchronizedBeforeSuite(func() []byte {
		var out binaries
		out.Race = *flagRace || os.Getenv(EnvRace) == "1"
		if bin := firstNonEmpty(*flagServerBin, os.Getenv(EnvServerBin)); bin != "" {
			out.Server, out.Custom = bin, true
		} else {
			args := []string{"-ldflags", fmt.Sprintf("-X main.version=%s -X main.commit=%s -X main.buildTime=%s", buildVersion, buildCommit, buildTime)}
			if out.Race {
				args = append(args, "-race")
			}
			path, err := gexec.Build(ServerPackage, args...)
			if err != nil {
				ginkgo.Fail(fmt.Sprintf("build %s: %v", ServerPackage, err))
			}
			out.Server, out.Version = path, buildVersion
		}
		data, _ := json.Marshal(out)
		return data
	}, func(data []byte) {
		if err := json.Unmarshal(data, &bins); err != nil {
			Fail("decode server binaries: " + err.Error())
		}
		mutants = b.Mutants
		races = b.Race
	})
	// Mutant and race builds happen lazily, in the process that needs them;
	// each process removes its own builds when it is done, except process 1,
	// whose build directory also holds the server every process runs: it is
	// removed only after all the others have finished.
	ginkgo.SynchronizedAfterSuite(func() {
		if ginkgo.GinkgoParallelProcess() != 1 {
			gexec.CleanupBuildArtifacts()
		}
	}, gexec.CleanupBuildArtifacts)
	return true
}

var (
	mutants, races bool
	mutantOnce     sync.Once
	mutantBin      string
	mutantWhyNot   string
	raceOnce       sync.Once
	raceBin        string
	raceWhyNot     string
)

// ServerBin is the server binary under test.
func ServerBin() string { return bins.Server }

// CustomServer reports whether the user chose the binary (nothing built).
func CustomServer() bool { return bins.Custom }

// Race reports whether the server was built with -race.
func Race() bool { return bins.Race }

// BuildInfo is the build metadata stamped into the server the suite built
// (empty strings for a user's binary).
func BuildInfo() (version, commit, builtAt, goVersion string) {
	if bins.Custom {
		return "", "", "", ""
	}
	return buildVersion, buildCommit, buildTime, runtime.Version()
}

// MutantBin is the kvmutant build of the server (go build -tags kvmutant,
// built once per process on first use, or KVCHAOS_MUTANT_BIN), or skips
// the spec saying why there is none.
func MutantBin() string {
	mutantOnce.Do(func() {
		switch {
		case os.Getenv(EnvMutantBin) != "":
			mutantBin = os.Getenv(EnvMutantBin)
		case !mutants:
			mutantWhyNot = "the suite did not ask for mutant builds (suite.Build{Mutants: true})"
		case bins.Custom:
			mutantWhyNot = "mutant specs need the bundled kvserver built with -tags kvmutant; set " + EnvMutantBin
		default:
			path, err := gexec.Build(ServerPackage, "-tags", "kvmutant")
			if err != nil {
				mutantWhyNot = fmt.Sprintf("kvmutant build failed: %v", err)
			}
			mutantBin = path
		}
	})
	if mutantBin == "" {
		ginkgo.Skip(mutantWhyNot)
	}
	return mutantBin
}

// RaceBin is a -race build of the server (built once per process on first
// use; the server under test itself when KVCHAOS_RACE=1), or skips the spec
// saying why there is none. A spec whose server prints a data race fails.
func RaceBin() string {
	raceOnce.Do(func() {
		switch {
		case bins.Race:
			raceBin = bins.Server
		case !races:
			raceWhyNot = "the suite did not ask for race builds (suite.Build{Race: true})"
		case bins.Custom:
			raceWhyNot = "race specs need the bundled kvserver, or " + EnvRace + "=1 with a race-built " + EnvServerBin
		default:
			path, err := gexec.Build(ServerPackage, "-race")
			if err != nil {
				raceWhyNot = fmt.Sprintf("-race build failed: %v", err)
			}
			raceBin = path
		}
	})
	if raceBin == "" {
		ginkgo.Skip(raceWhyNot)
	}
	return raceBin
}

// serverArgs and serverEnv are the user's extra args and env for every start.
func serverArgs() []string {
	var args []string
	if s := os.Getenv(EnvServerArgs); s != "" {
		if err := json.Unmarshal([]byte(s), &args); err != nil {
			args = strings.Fields(s)
		}
	}
	return args
}

func serverEnv() []string {
	var m map[string]string
	var out []string
	if s := os.Getenv(EnvServerEnv); s != "" && json.Unmarshal([]byte(s), &m) == nil {
		for k, v := range m {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
