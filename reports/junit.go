package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// junitConfig keeps test names stable across runs (no labels or version
// constraints in them: CI tools key their history on the name) and keeps
// passing specs' timelines out of the XML.
var junitConfig = reporters.JunitReportConfig{
	OmitTimelinesForSpecState:          types.SpecStatePassed | types.SpecStateSkipped,
	OmitSpecLabels:                     true,
	OmitSpecSemVerConstraints:          true,
	OmitSpecComponentSemVerConstraints: true,
}

// WriteJUnit writes the run's JUnit XML to path with Ginkgo's own generator:
// one testsuite per suite, one testcase per spec. Each spec's figures become
// testcase properties (one per figure) next to its repro command and
// artifact folder; every other report entry (raw series...) stays in
// report.json only. Specs the label filter or focus left out are dropped
// (Ginkgo would list them as skipped). Passing setup nodes are dropped, a failed one is kept
// once, and a suite that failed without any failed spec (did not compile,
// timed out) gets a failed testcase saying so, so CI cannot show it green.
func WriteJUnit(run *Run, path string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".junit-")
	if err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	defer os.RemoveAll(tmp)
	var parts []string
	for i, s := range run.Suites {
		part := filepath.Join(tmp, fmt.Sprintf("%03d.xml", i))
		if err := reporters.GenerateJUnitReportWithConfig(junitReport(s), part, junitConfig); err != nil {
			return fmt.Errorf("junit for %s: %w", s.Name, err)
		}
		parts = append(parts, part)
	}
	msgs, err := reporters.MergeAndCleanupJUnitReports(parts, path)
	if err != nil {
		return fmt.Errorf("junit merge: %w", err)
	}
	if len(msgs) > 0 {
		return fmt.Errorf("junit merge: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// junitReport is a copy of the suite's Ginkgo report trimmed for JUnit.
func junitReport(s Suite) types.Report {
	rep := s.Report
	rep.SpecReports = nil
	seenSetup := map[types.NodeType]bool{}
	failed := false
	for _, sr := range s.Report.SpecReports {
		if notSelected(sr) {
			continue
		}
		if sr.LeafNodeType != types.NodeTypeIt {
			if !sr.State.Is(types.SpecStateFailureStates) || seenSetup[sr.LeafNodeType] {
				continue
			}
			seenSetup[sr.LeafNodeType] = true
		}
		if sr.State.Is(types.SpecStateFailureStates) {
			failed = true
		}
		if !sr.State.Is(types.SpecStateFailureStates) {
			sr.CapturedGinkgoWriterOutput, sr.CapturedStdOutErr = "", ""
		}
		sr.ReportEntries = junitEntries(sr.ReportEntries)
		if sr.NumAttempts > 1 {
			// Ginkgo's JUnit shows a retried pass as a plain pass.
			sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{Name: "kvchaos.attempts", Value: types.WrapEntryValue(sr.NumAttempts)})
		}
		rep.SpecReports = append(rep.SpecReports, sr)
	}
	if !rep.SuiteSucceeded && !failed {
		reason := strings.Join(rep.SpecialSuiteFailureReasons, "; ")
		if reason == "" {
			reason = "suite failed"
		}
		rep.SpecReports = append(rep.SpecReports, types.SpecReport{
			LeafNodeType: types.NodeTypeIt,
			LeafNodeText: "suite " + rep.SuiteDescription,
			State:        types.SpecStateFailed,
			Failure:      types.Failure{Message: reason, FailureNodeType: types.NodeTypeIt},
		})
	}
	return rep
}

// junitEntries turns the kvchaos entries into flat, small properties.
func junitEntries(in types.ReportEntries) types.ReportEntries {
	var out types.ReportEntries
	var figures artifact.Figures
	for _, e := range in {
		switch e.Name {
		case artifact.EntryFigures:
			figures = decodeFigures(e, figures)
		case artifact.EntryRepro, artifact.EntryArtifacts:
			var s string
			if decode(e, &s) {
				out = append(out, types.ReportEntry{Name: e.Name, Value: types.WrapEntryValue(s)})
			}
		}
	}
	names := make([]string, 0, len(figures))
	for k := range figures {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, types.ReportEntry{Name: k, Value: types.WrapEntryValue(figures[k])})
	}
	return out
}
