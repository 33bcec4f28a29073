// Package reports turns one chaos run — Ginkgo's report.json plus the
// harness's per-spec artifact folders — into what people and CI read: JUnit
// XML, a self-contained index.html with fault timelines and resource charts,
// a Markdown summary, and one line of trend history per run.
//
// It reads the suites' output only from disk (report.json, artifacts and the
// CLI's run.json), never from the server: Load builds a Run, and the
// Write* functions render it.
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// File names inside a report directory.
const (
	ReportFile  = "report.json"   // Ginkgo's JSON report of the whole run
	MetaFile    = "run.json"      // Meta, written by the CLI
	JUnitFile   = "junit.xml"     // JUnit XML for CI
	HTMLFile    = "index.html"    // the self-contained HTML report
	SummaryFile = "summary.md"    // Markdown summary
	TrendFile   = "history.jsonl" // one TrendPoint a line, appended per run
)

// Run is one chaos run read back from a report directory. The zero value is
// an empty run with no suites.
type Run struct {
	Dir    string // the report directory
	Meta   Meta
	Suites []Suite
}

// Suite is one Ginkgo suite of a run.
type Suite struct {
	Name   string       // Ginkgo's suite description
	Path   string       // the suite's package directory
	Report types.Report // Ginkgo's report, as read
	Specs  []Spec       // the It specs, in run order, plus failed setup nodes
	// Filtered counts the specs the label filter or focus left out; they
	// are not in Specs.
	Filtered int
	// Failure is set when the suite failed as a whole (did not compile,
	// BeforeSuite failed, timed out), in Ginkgo's words.
	Failure  string
	Duration time.Duration
	Counts   Counts
}

// Counts tallies specs by outcome. Skipped includes pending specs.
type Counts struct {
	Passed, Failed, Skipped int
}

// Total is the number of specs counted.
func (c Counts) Total() int { return c.Passed + c.Failed + c.Skipped }

func (c *Counts) add(o Counts) {
	c.Passed += o.Passed
	c.Failed += o.Failed
	c.Skipped += o.Skipped
}

// Spec is one spec of a suite, with its kvchaos report entries decoded and
// its artifacts loaded when their folder exists.
type Spec struct {
	Suite    string
	Text     string // full text: containers and leaf, without labels
	Node     string // Ginkgo's leaf node type: It, BeforeSuite...
	Labels   []string
	State    string // Ginkgo's state: passed, failed, skipped, timedout...
	Failed   bool
	Skipped  bool
	Message  string // failure message, or the skip reason
	Location string // file:line of the leaf node
	// FailureLocation is where the failure happened, when it failed.
	FailureLocation string
	Duration        time.Duration
	Seed            int64 // the suite's ginkgo --seed (what repro re-uses)
	Figures         artifact.Figures
	Repro           string
	// ArtifactDir is the spec's artifact folder as found on disk ("" when
	// the spec named none or it is gone).
	ArtifactDir string
	Evidence    *Evidence // nil without an artifact folder
	// Output is what the spec wrote to GinkgoWriter (kept for failures).
	Output string
	// Attempts is how many times Ginkgo ran the spec; above 1 a pass is a
	// flaky pass and is shown as one.
	Attempts int
	// Entries are the spec's other report entries, as Ginkgo rendered them.
	Entries []Entry
}

// Entry is a report entry other than the kvchaos ones.
type Entry struct {
	Name, Value string
}

// entryShown bounds how much of an entry's text the reports carry.
const entryShown = 4000

// Load reads a report directory: report.json (required), run.json and the
// artifact folders the specs name (both optional).
func Load(dir string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return nil, fmt.Errorf("decode %s: %w", ReportFile, err)
	}
	run := &Run{Dir: dir}
	if b, err := os.ReadFile(filepath.Join(dir, MetaFile)); err == nil {
		if err := json.Unmarshal(b, &run.Meta); err != nil {
			return nil, fmt.Errorf("decode %s: %w", MetaFile, err)
		}
	}
	for _, r := range reports {
		run.Suites = append(run.Suites, run.suite(r))
	}
	if run.Meta.Seed == 0 && len(reports) > 0 {
		// Not fixed by the CLI (a repeated run, or plain ginkgo): the
		// seed the suites last ran with.
		run.Meta.Seed = reports[0].SuiteConfig.RandomSeed
	}
	return run, nil
}

// Counts totals the specs of every suite.
func (r *Run) Counts() Counts {
	var c Counts
	for _, s := range r.Suites {
		c.add(s.Counts)
	}
	return c
}

// Failed reports whether any spec or suite failed.
func (r *Run) Failed() bool {
	for _, s := range r.Suites {
		if s.Counts.Failed > 0 || s.Failure != "" {
			return true
		}
	}
	return false
}

// Failures lists the failed specs of every suite, in order; their 1-based
// positions are the failure numbers `kvchaos repro` accepts.
func (r *Run) Failures() []Spec {
	var out []Spec
	for _, s := range r.Suites {
		for _, sp := range s.Specs {
			if sp.Failed {
				out = append(out, sp)
			}
		}
	}
	return out
}

func (r *Run) suite(rep types.Report) Suite {
	s := Suite{Name: rep.SuiteDescription, Path: rep.SuitePath, Report: rep, Duration: rep.RunTime}
	if s.Name == "" {
		// Ginkgo's placeholder for a suite that did not compile or run
		// has no description: name it after its package dir.
		s.Name = filepath.Base(rep.SuitePath)
		s.Report.SuiteDescription = s.Name
	}
	if !rep.SuiteSucceeded {
		s.Failure = strings.Join(rep.SpecialSuiteFailureReasons, "; ")
	}
	seenSetup := map[types.NodeType]bool{}
	for _, sr := range rep.SpecReports {
		if notSelected(sr) {
			s.Filtered++
			continue
		}
		if sr.LeafNodeType != types.NodeTypeIt {
			// Suite setup nodes are not specs: only a failed one is shown,
			// once (under -p each process reports its own copy).
			if !sr.State.Is(types.SpecStateFailureStates) || seenSetup[sr.LeafNodeType] {
				continue
			}
			seenSetup[sr.LeafNodeType] = true
		}
		sp := r.spec(s.Report, sr)
		switch {
		case sp.Failed:
			s.Counts.Failed++
		case sp.Skipped:
			s.Counts.Skipped++
		default:
			s.Counts.Passed++
		}
		s.Specs = append(s.Specs, sp)
	}
	if s.Failure == "" && !rep.SuiteSucceeded && s.Counts.Failed == 0 {
		s.Failure = "suite failed"
	}
	return s
}

func (r *Run) spec(rep types.Report, sr types.SpecReport) Spec {
	sp := Spec{
		Suite:    rep.SuiteDescription,
		Text:     sr.FullText(),
		Node:     sr.LeafNodeType.String(),
		Labels:   sr.Labels(),
		State:    sr.State.String(),
		Failed:   sr.State.Is(types.SpecStateFailureStates),
		Skipped:  sr.State.Is(types.SpecStateSkipped | types.SpecStatePending),
		Message:  sr.Failure.Message,
		Location: sr.LeafNodeLocation.String(),
		Duration: sr.RunTime,
		Seed:     rep.SuiteConfig.RandomSeed,
		Attempts: sr.NumAttempts,
	}
	if sp.Text == "" {
		sp.Text = "[" + sp.Node + "]"
	}
	if sr.Failure.ForwardedPanic != "" {
		sp.Message = strings.TrimSpace(sp.Message + "\npanic: " + sr.Failure.ForwardedPanic)
	}
	if sp.Failed {
		sp.FailureLocation = sr.Failure.Location.String()
		sp.Output = sr.CapturedGinkgoWriterOutput + sr.CapturedStdOutErr
	}
	for _, e := range sr.ReportEntries {
		switch e.Name {
		case artifact.EntryFigures:
			sp.Figures = decodeFigures(e, sp.Figures)
		case artifact.EntryRepro:
			decode(e, &sp.Repro)
		case artifact.EntryArtifacts:
			var p string
			if decode(e, &p) {
				sp.ArtifactDir = r.resolve(p)
			}
		default:
			if e.Visibility == types.ReportEntryVisibilityNever {
				continue // meant for machine-readable reports only
			}
			v := e.Value.Representation
			if len(v) > entryShown {
				v = v[:entryShown] + fmt.Sprintf("\n… (%d bytes in all: see report.json)", len(e.Value.Representation))
			}
			sp.Entries = append(sp.Entries, Entry{e.Name, v})
		}
	}
	if sp.ArtifactDir != "" {
		sp.Evidence = loadEvidence(sp.ArtifactDir)
		if sp.Repro == "" {
			sp.Repro = sp.Evidence.Spec.Repro
		}
	}
	return sp
}

// resolve finds an artifact folder named in a report entry: relative paths
// are taken from the report directory (then the working directory); an
// absolute path that is gone (the report was moved or copied from CI) is
// looked up by its base name under <dir>/artifacts.
func (r *Run) resolve(p string) string {
	var tries []string
	if filepath.IsAbs(p) {
		tries = append(tries, p)
	} else {
		tries = append(tries, filepath.Join(r.Dir, p), p)
	}
	tries = append(tries, filepath.Join(r.Dir, "artifacts", filepath.Base(p)))
	for _, t := range tries {
		if fi, err := os.Stat(t); err == nil && fi.IsDir() {
			return t
		}
	}
	return ""
}

// notSelected reports whether Ginkgo skipped a spec because the label
// filter or focus left it out (no Skip call: no reason, no location), as
// opposed to a spec that skipped itself with a reason.
func notSelected(sr types.SpecReport) bool {
	return sr.State == types.SpecStateSkipped && sr.Failure.Message == "" && sr.Failure.Location.FileName == ""
}

// decode reads a report entry's value from its JSON form: entries read back
// from report.json have lost their Go types, so asserting on the raw value
// would see map[string]any, not artifact.Figures.
func decode(e types.ReportEntry, v any) bool {
	return e.Value.AsJSON != "" && json.Unmarshal([]byte(e.Value.AsJSON), v) == nil
}

// decodeFigures merges a figures entry into into (allocated when nil).
func decodeFigures(e types.ReportEntry, into artifact.Figures) artifact.Figures {
	var f artifact.Figures
	if !decode(e, &f) {
		return into
	}
	if into == nil {
		into = artifact.Figures{}
	}
	for k, v := range f {
		into[k] = v
	}
	return into
}
