package reports

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// fixture copies testdata/run (a real run of the throwaway suites in
// cmd/kvchaos/testdata/suites, see testdata/regen.sh) to a temp dir.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/run")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func render(t *testing.T, dir string) (*Run, Output) {
	t.Helper()
	run, out, err := Render(dir, true)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return run, out
}

func TestLoadDecodesEntriesAndFindsMovedArtifacts(t *testing.T) {
	run, err := Load(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Counts(); got != (Counts{Passed: 2, Failed: 1, Skipped: 1}) {
		t.Fatalf("counts = %+v", got)
	}
	fails := run.Failures()
	if len(fails) != 1 || fails[0].Text != "store keeps acknowledged writes" {
		t.Fatalf("failures = %+v", fails)
	}
	f := fails[0]
	// The entries say /ci-runner/...: the artifacts must be found under
	// the report dir instead.
	if f.Evidence == nil || !strings.HasPrefix(f.ArtifactDir, run.Dir) {
		t.Fatalf("artifacts not found: %q", f.ArtifactDir)
	}
	if f.Figures["ops_per_sec"] <= 0 || f.Figures["p99_ms"] <= 0 {
		t.Errorf("figures not decoded: %v", f.Figures)
	}
	if f.Seed != 42 || !strings.Contains(f.Repro, "--seed 42") {
		t.Errorf("seed %d repro %q", f.Seed, f.Repro)
	}
	if !f.Evidence.Porcupine || !f.Evidence.Data || !strings.Contains(f.Evidence.LogTail, "listening on") {
		t.Errorf("evidence incomplete: %+v", f.Evidence)
	}
	if len(f.Evidence.History) == 0 || len(f.Evidence.Faults) != 1 {
		t.Errorf("history %d ops, %d faults", len(f.Evidence.History), len(f.Evidence.Faults))
	}
	if run.Meta.Seed != 42 || run.Meta.Target.Binary != "/bin/false" {
		t.Errorf("meta = %+v", run.Meta)
	}
}

func TestDecodeFigures(t *testing.T) {
	tests := []struct {
		name string
		json string
		want artifact.Figures
	}{
		{"numbers", `{"ops_per_sec":12.5,"lost_writes":0}`, artifact.Figures{"ops_per_sec": 12.5, "lost_writes": 0}},
		{"not figures", `"a string"`, nil},
		{"empty", ``, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e types.ReportEntry
			e.Name = artifact.EntryFigures
			b, _ := json.Marshal(map[string]string{"AsJSON": tc.json})
			if err := json.Unmarshal(b, &e.Value); err != nil && tc.json != "" {
				t.Fatal(err)
			}
			got := decodeFigures(e, nil)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func readJUnit(t *testing.T, path string) reporters.JUnitTestSuites {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j reporters.JUnitTestSuites
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("junit does not parse: %v", err)
	}
	return j
}

func TestJUnitStructure(t *testing.T) {
	_, out := render(t, fixture(t))
	j := readJUnit(t, out.JUnit)
	if j.Tests != 4 || j.Failures != 1 || len(j.TestSuites) != 2 {
		t.Fatalf("testsuites: tests=%d failures=%d suites=%d", j.Tests, j.Failures, len(j.TestSuites))
	}
	alpha := j.TestSuites[0]
	if alpha.Name != "Alpha Suite" || alpha.Tests != 3 || alpha.Failures != 1 || alpha.Skipped != 1 {
		t.Fatalf("alpha = %s tests=%d failures=%d skipped=%d", alpha.Name, alpha.Tests, alpha.Failures, alpha.Skipped)
	}
	byName := map[string]reporters.JUnitTestCase{}
	for _, s := range j.TestSuites {
		for _, tc := range s.TestCases {
			if strings.Contains(tc.Name, "BeforeSuite") {
				t.Errorf("setup node as a testcase: %q", tc.Name)
			}
			if strings.Contains(tc.Name, "[fault") || strings.Contains(tc.Name, "durability") {
				t.Errorf("labels in the name: %q", tc.Name)
			}
			byName[tc.Name] = tc
		}
	}
	fail, ok := byName["[It] store keeps acknowledged writes"]
	if !ok || fail.Failure == nil || !strings.Contains(fail.Failure.Message, "lost 3 acknowledged writes") {
		t.Fatalf("failed testcase = %+v", fail)
	}
	if !strings.Contains(fail.Failure.Description, "alpha_suite_test.go") {
		t.Errorf("failure has no location: %q", fail.Failure.Description)
	}
	skip := byName["[It] store mounts a FUSE data dir"]
	if skip.Skipped == nil || !strings.Contains(skip.Skipped.Message, "no /dev/fuse") {
		t.Errorf("skipped testcase = %+v", skip)
	}
	pass := byName["[It] store survives kills under load"]
	if pass.Properties == nil {
		t.Fatal("no properties on a spec with figures")
	}
	props := map[string]string{}
	for _, p := range pass.Properties.Properties {
		props[p.Name] = p.Value
	}
	for _, want := range []string{"ops_per_sec", "p99_ms", "rss_peak_bytes", "recovery_ms", artifact.EntryRepro} {
		if props[want] == "" {
			t.Errorf("property %s missing: %v", want, props)
		}
	}
	for name := range props {
		if name == "kvchaos.latency_series" || name == artifact.EntryFigures {
			t.Errorf("bulky entry %s in the JUnit", name)
		}
	}
	if pass.SystemErr != "" {
		t.Errorf("passing spec carries its timeline: %d bytes", len(pass.SystemErr))
	}
}

func TestJUnitSuiteEdgeCases(t *testing.T) {
	it := func(text string, state types.SpecState) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state,
			LeafNodeLocation: types.CodeLocation{FileName: "x_test.go", LineNumber: 1}}
	}
	setup := func(state types.SpecState) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: state,
			Failure: types.Failure{Message: "build failed"}}
	}
	tests := []struct {
		name      string
		report    types.Report
		wantNames []string
		wantFails int
	}{
		{"passing setup nodes are dropped",
			types.Report{SuiteSucceeded: true, SpecReports: types.SpecReports{setup(types.SpecStatePassed), setup(types.SpecStatePassed), it("a", types.SpecStatePassed)}},
			[]string{"[It] a"}, 0},
		{"a failed setup node under -p shows once",
			types.Report{SpecReports: types.SpecReports{setup(types.SpecStateFailed), setup(types.SpecStateFailed), it("a", types.SpecStateSkipped)}},
			[]string{"[SynchronizedBeforeSuite]"}, 1},
		{"specs left out by the label filter are dropped",
			types.Report{SuiteSucceeded: true, SpecReports: types.SpecReports{it("a", types.SpecStatePassed), it("b", types.SpecStateSkipped)}},
			[]string{"[It] a"}, 0},
		{"a suite that did not compile fails visibly",
			types.Report{SuiteDescription: "Edge", SuiteSucceeded: false, SpecialSuiteFailureReasons: []string{"Failed to compile edge:"}},
			[]string{"[It] suite Edge"}, 1},
		{"ginkgo's placeholder is named after its dir",
			types.Report{SuitePath: "/src/suites/edge", SuiteSucceeded: false, SpecialSuiteFailureReasons: []string{"Failed to compile edge:"}},
			[]string{"[It] suite edge"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := &Run{Dir: t.TempDir()}
			run.Suites = append(run.Suites, run.suite(tc.report))
			path := filepath.Join(run.Dir, JUnitFile)
			if err := WriteJUnit(run, path); err != nil {
				t.Fatal(err)
			}
			j := readJUnit(t, path)
			var names []string
			for _, c := range j.TestSuites[0].TestCases {
				names = append(names, c.Name)
			}
			if strings.Join(names, "|") != strings.Join(tc.wantNames, "|") || j.Failures+j.Errors != tc.wantFails {
				t.Errorf("testcases %q failures %d, want %q and %d", names, j.Failures+j.Errors, tc.wantNames, tc.wantFails)
			}
			if tc.wantFails > 0 && !run.Failed() {
				t.Error("run not marked failed")
			}
			if len(tc.report.SpecialSuiteFailureReasons) > 0 {
				var b strings.Builder
				if err := WriteHTML(run, nil, &b); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(b.String(), "Failed to compile edge:") || !strings.Contains(b.String(), "FAILED") {
					t.Error("index.html does not show the suite's failure")
				}
			}
		})
	}
}

func TestSummary(t *testing.T) {
	_, out := render(t, fixture(t))
	b, err := os.ReadFile(out.Summary)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{"FAILED", "| Alpha Suite | 1 | 1 | 1 |", "| Beta Suite | 1 | 0 | 0 |",
		"store keeps acknowledged writes", "kvchaos repro 1", "--seed 42", "4 specs: 2 passed, 1 failed, 1 skipped",
		"### Figures", "| store survives kills under load | 100 ops/s |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

func TestTrendAppendsOneLinePerRun(t *testing.T) {
	dir := fixture(t)
	render(t, dir)
	_, out := render(t, dir)
	if _, _, err := Render(dir, false); err != nil { // a re-render appends nothing
		t.Fatal(err)
	}
	pts, err := ReadTrend(out.Trend, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 {
		t.Fatalf("%d trend points, want 2", len(pts))
	}
	p := pts[1]
	if p.Passed != 2 || p.Failed != 1 || p.Skipped != 1 || p.Seed != 42 || p.Figures["store survives kills under load"]["ops_per_sec"] <= 0 {
		t.Errorf("trend point = %+v", p)
	}
	if p.Date.IsZero() || time.Since(p.Date) < 0 {
		t.Errorf("trend date %v", p.Date)
	}
	html, _ := os.ReadFile(out.HTML)
	if !strings.Contains(string(html), "Last 2 runs") {
		t.Error("index.html has no trend chart after two runs")
	}
}

func TestRetriedPassIsNotAPlainPass(t *testing.T) {
	rep := types.Report{SuiteDescription: "Flaky", SuiteSucceeded: true, SpecReports: types.SpecReports{{
		LeafNodeType: types.NodeTypeIt, LeafNodeText: "passes on the third try", State: types.SpecStatePassed, NumAttempts: 3,
		ReportEntries: types.ReportEntries{{Name: "goroutines", Value: types.ReportEntryValue{Representation: "goroutine 1 [running]"}}},
	}}}
	run := &Run{Dir: t.TempDir()}
	run.Suites = append(run.Suites, run.suite(rep))
	path := filepath.Join(run.Dir, JUnitFile)
	if err := WriteJUnit(run, path); err != nil {
		t.Fatal(err)
	}
	tc := readJUnit(t, path).TestSuites[0].TestCases[0]
	if tc.Properties == nil || tc.Properties.WithName("kvchaos.attempts") != "3" {
		t.Errorf("JUnit does not show the retries: %+v", tc.Properties)
	}
	var b strings.Builder
	if err := WriteHTML(run, nil, &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"badge flaky", "ran 3 times", "goroutine 1 [running]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
}
