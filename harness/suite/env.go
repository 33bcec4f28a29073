package suite

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/kvchaos/kvchaos/harness"
	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/check"
	"github.com/kvchaos/kvchaos/harness/workload"
)

// Options configure a spec's server. The zero value runs the suite's
// server with its defaults on a fresh data dir, sampled every 100 ms.
type Options struct {
	// Bin overrides the server binary (a mutant build).
	Bin string
	// Args are extra server args, after the user's KVCHAOS_SERVER_ARGS.
	Args []string
	// Env is extra server environment (KEY=VALUE).
	Env []string
	// DataDir is the server's data dir; default a fresh temp dir.
	DataDir string
	// AfterStart runs right after each process start (cgroup placement).
	AfterStart func(pid int) error
	// AuthToken is sent by the spec's clients.
	AuthToken string
	// SampleEvery is the resource sampling interval (default 100 ms);
	// negative turns sampling off.
	SampleEvery time.Duration
	// StartTimeout bounds each start (default 30 s).
	StartTimeout time.Duration
}

// Env is one spec's world: its server, clock, history, seeded streams and
// artifact folder. Create it with New or Start inside a spec (It, or a
// BeforeEach); cleanup is registered for you.
type Env struct {
	Target  *harness.Target
	Clock   *harness.Clock
	History *harness.History
	// Streams are the spec's seeded random streams: the suite seed mixed
	// with the spec's text, so `ginkgo --seed N` replays them.
	Streams *workload.Streams
	// Seed is the streams' seed.
	Seed int64
	// Dir is the spec's artifact folder.
	Dir string

	spec     artifact.Spec
	sampler  *harness.Sampler
	sampleEv time.Duration
	figures  artifact.Figures
	logFile  *os.File
	// serverEnv are the KVSERVER_* variables the server starts with.
	serverEnv []string
}

// New prepares a spec's server without starting it (a fault injector may
// mount its data dir first). It registers the cleanup that saves the
// evidence, adds the report entries and kills the server.
func New(o Options) *Env {
	ginkgo.GinkgoHelper()
	report := ginkgo.CurrentSpecReport()
	full := report.FullText()
	h := fnv.New64a()
	_, _ = h.Write([]byte(full))
	seed := ginkgo.GinkgoRandomSeed() ^ int64(h.Sum64()>>1)
	e := &Env{
		Clock:    harness.NewClock(),
		Seed:     seed,
		Streams:  workload.NewStreams(seed),
		figures:  artifact.Figures{},
		sampleEv: o.SampleEvery,
	}
	e.History = harness.NewHistory(e.Clock)
	base := SpecID(full)
	id := claimID(base)
	e.Dir = filepath.Join(ArtifactRoot(), id)
	_ = os.RemoveAll(e.Dir) // a previous run of the same spec
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		Fail(fmt.Sprintf("artifact dir: %v", err))
	}
	f, err := os.Create(filepath.Join(e.Dir, artifact.ServerLogFile))
	if err != nil {
		Fail(fmt.Sprintf("server log: %v", err))
	}
	e.logFile = f
	bin := o.Bin
	if bin == "" {
		bin = ServerBin()
	}
	args := append(serverArgs(), o.Args...)
	// KVCHAOS_OWNER marks the process as kvchaos's, so `kvchaos cleanup`
	// finds it should a run be killed before its cleanup.
	env := append(append(serverEnv(), "KVCHAOS_OWNER="+id), o.Env...)
	// The server's own variables, which the checkers read as the flags
	// they stand for (the Target adds env to the harness's environment).
	for _, kv := range append(os.Environ(), env...) {
		if strings.HasPrefix(kv, "KVSERVER_") {
			e.serverEnv = append(e.serverEnv, kv)
		}
	}
	cfg := harness.TargetConfig{
		Bin: bin, Args: args, Env: env, DataDir: o.DataDir,
		Log: io.MultiWriter(f, ginkgo.GinkgoWriter), AfterStart: o.AfterStart, AuthToken: o.AuthToken,
		Clock: e.Clock, History: e.History, StartTimeout: o.StartTimeout,
		Transport: contractTransport(),
	}
	t, err := harness.NewTarget(cfg)
	if err != nil {
		Fail(err.Error())
	}
	e.Target = t
	e.spec = artifact.Spec{
		ID: id, Text: full, Location: report.LeafNodeLocation.String(), Labels: report.Labels(),
		Seed: ginkgo.GinkgoRandomSeed(), Repro: Repro(), ServerBin: bin,
	}
	ginkgo.DeferCleanup(func() { releaseID(base) })
	ginkgo.DeferCleanup(e.cleanup)
	ginkgo.DeferOnFailure(e.capture)
	return e
}

// active counts the Envs of each spec alive in this process, so a spec
// with two servers gets two artifact folders (<id>, <id>-2).
var (
	activeMu sync.Mutex
	active   = map[string]int{}
)

func claimID(base string) string {
	activeMu.Lock()
	defer activeMu.Unlock()
	n := active[base]
	active[base]++
	if n == 0 {
		return base
	}
	return fmt.Sprintf("%s-%d", base, n+1)
}

func releaseID(base string) {
	activeMu.Lock()
	defer activeMu.Unlock()
	if active[base]--; active[base] <= 0 {
		delete(active, base)
	}
}

// Start is New followed by a successful Start.
func Start(o Options) *Env {
	ginkgo.GinkgoHelper()
	e := New(o)
	e.Start()
	return e
}

// Start starts the server (failing the spec if it does not become ready)
// and the resource sampler, and records the server's version.
func (e *Env) Start() {
	ginkgo.GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.Target.Start(ctx); err != nil {
		Fail(fmt.Sprintf("start the server: %v", err))
	}
	if e.sampler == nil && e.sampleEv >= 0 {
		e.sampler = harness.StartSampler(e.Target, e.Clock, e.sampleEv)
	}
	if e.spec.ServerVersion == nil {
		probe := harness.NewClient(harness.ClientConfig{Endpoint: e.Target, AuthToken: e.Target.AuthToken()})
		if v, _, err := probe.Version(ctx); err == nil {
			e.spec.ServerVersion = v
		}
	}
}

// Restart restarts the server cleanly (SIGTERM, exit 0, start on the same
// data dir), or just starts it after a Kill.
func (e *Env) Restart() {
	ginkgo.GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if e.Target.Running() {
		start := e.Clock.Now()
		if err := e.Target.Stop(ctx); err != nil {
			Fail(fmt.Sprintf("stop the server: %v", err))
		}
		e.RecordFault(artifact.FaultEvent{Name: "restart", Start: start, End: e.Clock.Now(), Detail: "SIGTERM, clean exit"})
	}
	e.Start()
}

// Crash kills the server with SIGKILL (recorded as a fault) and starts it
// again on the same data dir.
func (e *Env) Crash() {
	ginkgo.GinkgoHelper()
	at := e.Clock.Now()
	if err := e.Target.Kill(); err != nil {
		Fail(fmt.Sprintf("kill the server: %v", err))
	}
	e.RecordFault(artifact.FaultEvent{Name: "SIGKILL", Start: at, End: at})
	e.Start()
}

// RecordFault records a fault window on the clock and in the schedule.
func (e *Env) RecordFault(ev artifact.FaultEvent) {
	e.Clock.RecordFault(ev)
}

// Client is a new recording client of the spec's server.
func (e *Env) Client() *harness.Client { return e.Target.Client() }

// Clients returns a workload.ClientFactory of the spec's server.
func (e *Env) Clients() workload.ClientFactory {
	return func(int) *harness.Client { return e.Target.Client() }
}

// Figure sets one of the spec's key numbers for the report.
func (e *Env) Figure(name string, v float64) { e.figures[name] = v }

// Figures sets several key numbers.
func (e *Env) Figures(f artifact.Figures) {
	for k, v := range f {
		e.figures[k] = v
	}
}

// Sampler is the spec's resource sampler (nil before Start or when off).
func (e *Env) Sampler() *harness.Sampler { return e.sampler }

// Check runs a checker over the spec's history so far, records it for
// `kvchaos recheck`, and fails the spec with every violation (and the
// re-run command) unless it passed.
func (e *Env) Check(cs artifact.CheckSpec) check.Result {
	ginkgo.GinkgoHelper()
	res := e.Run(cs)
	if err := res.Err(); err != nil {
		Fail(err.Error())
	}
	return res
}

// Run runs a checker like Check but returns the result without failing
// (mutant specs expect a failure).
func (e *Env) Run(cs artifact.CheckSpec) check.Result {
	e.spec.Checks = append(e.spec.Checks, cs)
	ginkgo.By(fmt.Sprintf("checking %s over %d ops", cs.Name, e.History.Len()))
	res := check.Run(cs, e.History.Ops(), e.Clock.Faults(), e.Dir, check.WithServerArgs(e.Target.Args()), check.WithServerEnv(e.serverEnv))
	e.figures["check_"+cs.Name+"_violations"] = float64(len(res.Violations))
	return res
}

// capture runs on the first failure, while the server still exists: it
// keeps the data dir, and asks a running server for its goroutines.
func (e *Env) capture() {
	if e.Target == nil {
		return
	}
	ginkgo.AddReportEntry("server log tail", e.Target.LogTail(60), ginkgo.ReportEntryVisibilityFailureOrVerbose)
	if dir := e.Target.DataDir(); dir != "" {
		if err := copyDir(dir, filepath.Join(e.Dir, artifact.DataDir)); err != nil {
			fmt.Fprintf(ginkgo.GinkgoWriter, "kvchaos: copy data dir: %v\n", err)
		}
	}
	if e.Target.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := e.Target.GoroutineDump(ctx); err != nil {
			fmt.Fprintf(ginkgo.GinkgoWriter, "kvchaos: goroutine dump: %v\n", err)
		}
	}
}

// cleanup stops the server and the sampler, writes the evidence and the
// report entries, and removes what a passing spec does not need.
func (e *Env) cleanup() {
	var samples []artifact.Sample
	if e.sampler != nil {
		samples = e.sampler.Stop()
	}
	_ = e.Target.Kill()
	races := e.Target.RaceReports()
	failed := ginkgo.CurrentSpecReport().Failed() || races > 0
	keepEnv := os.Getenv(EnvKeepArtifacts) == "1"
	keep := failed || keepEnv
	// A failed spec's data dir was copied into its artifacts (capture);
	// with KVCHAOS_KEEP_ARTIFACTS=1 a passing spec's is copied now. The temp
	// original then goes either way: only a missing copy keeps it.
	_, copyErr := os.Stat(filepath.Join(e.Dir, artifact.DataDir))
	if copyErr != nil && keepEnv {
		if dir := e.Target.DataDir(); dir != "" {
			copyErr = copyDir(dir, filepath.Join(e.Dir, artifact.DataDir))
		}
	}
	_ = e.Target.Cleanup(keep && copyErr != nil)
	_ = e.logFile.Close()

	ops := e.History.Ops()
	faults := e.Clock.Faults()
	// Empty lists, not null, in the JSON files.
	if ops == nil {
		ops = []artifact.Op{}
	}
	if faults == nil {
		faults = []artifact.FaultEvent{}
	}
	if samples == nil {
		samples = []artifact.Sample{}
	}
	e.spec.Failed = failed
	e.spec.ServerArgs, e.spec.ServerEnv = e.Target.Args(), e.serverEnv
	e.spec.FaultSchedule = faults
	for _, w := range []struct {
		name string
		v    any
	}{{artifact.SpecFile, e.spec}, {artifact.HistoryFile, ops}, {artifact.ResourcesFile, samples}, {artifact.FaultsFile, faults}} {
		if err := harness.WriteJSON(filepath.Join(e.Dir, w.name), w.v); err != nil {
			fmt.Fprintf(ginkgo.GinkgoWriter, "kvchaos: %v\n", err)
		}
	}

	figs := artifact.Figures{}
	if len(ops) > 0 {
		for k, v := range harness.LatencyFigures(ops) {
			figs[k] = v
		}
	}
	for k, v := range harness.ResourceFigures(samples) {
		figs[k] = v
	}
	for k, v := range e.figures {
		figs[k] = v
	}
	if len(faults) > 0 {
		figs["faults"] = float64(len(faults))
	}
	ginkgo.AddReportEntry(artifact.EntryFigures, figs, ginkgo.ReportEntryVisibilityFailureOrVerbose)
	ginkgo.AddReportEntry(artifact.EntryRepro, e.spec.Repro, ginkgo.ReportEntryVisibilityFailureOrVerbose)

	switch {
	case keep:
		ginkgo.AddReportEntry(artifact.EntryArtifacts, e.Dir, ginkgo.ReportEntryVisibilityFailureOrVerbose)
	case os.Getenv(EnvArtifactsDir) != "":
		// A reporting run (kvchaos run) charts passing specs too: keep the
		// small JSON evidence, drop the log.
		_ = os.Remove(filepath.Join(e.Dir, artifact.ServerLogFile))
		ginkgo.AddReportEntry(artifact.EntryArtifacts, e.Dir, ginkgo.ReportEntryVisibilityFailureOrVerbose)
	default:
		_ = os.RemoveAll(e.Dir)
	}
	if races > 0 {
		Fail(fmt.Sprintf("the server printed %d \"WARNING: DATA RACE\" report(s); see %s", races, filepath.Join(e.Dir, artifact.ServerLogFile)))
	}
}

// copyDir copies a data dir (cp -a keeps sparse files and modes).
func copyDir(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a %s %s: %w: %s", src, dst, err, out)
	}
	return nil
}

// Labels is a helper for specs that need to know their own labels.
func Labels() []string { return slices.Clone(ginkgo.CurrentSpecReport().Labels()) }

// Linearizability is the CheckSpec of a porcupine check with the default
// timeout.
func Linearizability() artifact.CheckSpec {
	return artifact.CheckSpec{Name: check.NameLinearizable}
}

// Integrity is the CheckSpec of an integrity check.
func Integrity() artifact.CheckSpec { return artifact.CheckSpec{Name: check.NameIntegrity} }

// Durability is the CheckSpec of a durability check whose final reads start
// at from.
func Durability(from float64) artifact.CheckSpec {
	return artifact.CheckSpec{Name: check.NameDurable, From: from}
}
