package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryFaultHasAGuide keeps docs/gen/faults.go in step with fault/: a
// new injector needs a guide, a removed one must lose its guide.
func TestEveryFaultHasAGuide(t *testing.T) {
	faults, err := FaultDocs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(faults) < 10 {
		t.Fatalf("found only %d fault injectors: %+v", len(faults), faults)
	}
	seen := map[string]bool{}
	for _, f := range faults {
		seen[f.Type] = true
		if _, ok := faultGuides[f.Type]; !ok {
			t.Errorf("fault.%s has no guide in docs/gen/faults.go", f.Type)
		}
		if strings.TrimSpace(f.Doc) == "" {
			t.Errorf("fault.%s has no doc comment to show", f.Type)
		}
	}
	for typ := range faultGuides {
		if !seen[typ] {
			t.Errorf("docs/gen/faults.go has a guide for %s, which fault/ no longer has", typ)
		}
	}
	for _, typ := range faultOrder {
		if _, ok := faultGuides[typ]; !ok {
			t.Errorf("faultOrder names %s, which has no guide", typ)
		}
	}
}

// TestFaultsPageNamesUndocumentedFault plants a new injector in a copy of
// fault/ and requires the page to call it out.
func TestFaultsPageNamesUndocumentedFault(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), []byte("module github.com/kvchaos/kvchaos\n"))
	entries, err := os.ReadDir(filepath.Join(repoRoot, "fault"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			b, err := os.ReadFile(filepath.Join(repoRoot, "fault", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(root, "fault", e.Name()), b)
		}
	}
	write(t, filepath.Join(root, "fault", "flood.go"), []byte(`package fault

import "context"

// Flood sends a storm of requests.
type Flood struct{}

// Name returns "flood".
func (Flood) Name() string { return "flood" }

// Inject floods t.
func (Flood) Inject(context.Context, Target) error { return nil }
`))
	page, err := FaultsPage(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| `Flood` | `flood` |", "**undocumented**", "These faults have no guide in docs/gen/faults.go: Flood."} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestMetricNotesNameRealSeries keeps the monitoring notes of
// performance-tuning.md pointing at series the server serves.
func TestMetricNotesNameRealSeries(t *testing.T) {
	ex, err := LoadExamples(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, m := range ex.Metrics {
		served[m.Name] = true
	}
	for name := range metricWhy {
		if !served[name] {
			t.Errorf("metricWhy names %s, which /metrics does not serve", name)
		}
	}
}
