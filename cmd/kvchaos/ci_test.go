package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kvchaos/kvchaos/reports"
)

// The CI examples name files the CLI writes; these tests keep them in step.

func TestGitHubWorkflowUsesTheCLIOutputs(t *testing.T) {
	b, err := os.ReadFile("../../.github/workflows/chaos.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		// YAML 1.1 reads the key `on` as true; GitHub reads it as "on".
		On   map[string]any `json:"true"`
		Jobs map[string]struct {
			Steps []struct {
				Run  string         `json:"run"`
				Uses string         `json:"uses"`
				With map[string]any `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("workflow does not parse: %v", err)
	}
	if _, ok := wf.On["schedule"]; !ok {
		t.Error("no nightly schedule")
	}
	var runs, uploads, junit []string
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			runs = append(runs, s.Run)
			if strings.HasPrefix(s.Uses, "actions/upload-artifact") {
				uploads = append(uploads, s.With["path"].(string))
			}
			if p, ok := s.With["report_paths"].(string); ok {
				junit = append(junit, p)
			}
		}
	}
	all := strings.Join(runs, "\n")
	for _, want := range []string{"bin/kvchaos run", "make tools build", "make deps", "reports/" + reports.SummaryFile, "GITHUB_STEP_SUMMARY"} {
		if !strings.Contains(all, want) {
			t.Errorf("workflow runs nothing with %q", want)
		}
	}
	if len(uploads) != 1 || !strings.Contains(uploads[0], "reports/"+reports.HTMLFile) || !strings.Contains(uploads[0], "reports/artifacts/") {
		t.Errorf("upload paths = %q", uploads)
	}
	if len(junit) != 1 || junit[0] != "reports/"+reports.JUnitFile {
		t.Errorf("published JUnit = %q", junit)
	}
}

func TestGitLabSnippetParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(# \\.gitlab-ci\\.yml.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/ci.md has no .gitlab-ci.yml block")
	}
	type job struct {
		Extends   string `json:"extends"`
		Script    []string
		Artifacts struct {
			Paths   []string
			Reports struct{ JUnit string } `json:"reports"`
		}
		Rules []map[string]string
	}
	var ci struct {
		Stages  []string
		Base    job `json:".chaos"`
		Quick   job `json:"chaos:quick"`
		Nightly job `json:"chaos:nightly"`
	}
	if err := yaml.Unmarshal(m[1], &ci); err != nil {
		t.Fatalf("GitLab snippet does not parse: %v", err)
	}
	base := ci.Base
	if base.Artifacts.Reports.JUnit != "reports/"+reports.JUnitFile || !strings.Contains(strings.Join(base.Script, " "), "bin/kvchaos run") {
		t.Errorf(".chaos = %+v", base)
	}
	if !strings.Contains(strings.Join(base.Artifacts.Paths, " "), "reports/"+reports.HTMLFile) {
		t.Errorf("artifacts = %v", base.Artifacts.Paths)
	}
	nightly := ci.Nightly
	if nightly.Extends != ".chaos" || len(nightly.Rules) == 0 || !strings.Contains(nightly.Rules[0]["if"], "schedule") {
		t.Errorf("chaos:nightly = %+v", nightly)
	}
}
