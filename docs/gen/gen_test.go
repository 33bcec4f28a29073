package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsAreFresh is the freshness check: every page rendered from the
// code and the committed data equals the file in docs/. With
// KVCHAOS_DOCS_UPDATE=1 it rewrites the pages first (as
// `kvchaos docs --no-capture` does).
func TestDocsAreFresh(t *testing.T) {
	if os.Getenv("KVCHAOS_DOCS_UPDATE") == "1" {
		if _, err := Generate(t.Context(), Options{Root: repoRoot}); err != nil {
			t.Fatal(err)
		}
	}
	if err := Check(repoRoot); err != nil {
		t.Fatal(err)
	}
}

// TestCheckCatchesStaleDocs plants each kind of staleness in a copy of
// docs/ and requires Check to name the page.
func TestCheckCatchesStaleDocs(t *testing.T) {
	files, err := Render(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(root string)
		want string
	}{
		{"fresh", func(string) {}, ""},
		{"hand edit", func(root string) {
			p := filepath.Join(root, "docs/api.md")
			b, _ := os.ReadFile(p)
			_ = os.WriteFile(p, append(b, "\nan edit by hand\n"...), 0o644)
		}, "docs/api.md"},
		{"missing page", func(root string) { _ = os.Remove(filepath.Join(root, "docs/faults.md")) }, "docs/faults.md: missing"},
		{"new data", func(root string) {
			p := filepath.Join(root, ExamplesFile)
			b, _ := os.ReadFile(p)
			_ = os.WriteFile(p, []byte(strings.Replace(string(b), `"title": "Liveness"`, `"title": "Alive?"`, 1)), 0o644)
		}, "docs/api.md"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyTree(t, files)
			tc.edit(root)
			err := Check(root)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check() = %v, want it to name %s", err, tc.want)
			}
		})
	}
}

// copyTree builds a minimal checkout in a temp dir: go.mod, the packages
// the pages read (fault/), the data files and the rendered pages.
func copyTree(t *testing.T, pages map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	cp := func(rel string) {
		b, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(root, rel), b)
	}
	cp("go.mod")
	cp(ExamplesFile)
	cp(BenchFile)
	entries, err := os.ReadDir(filepath.Join(repoRoot, "fault"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") {
			cp("fault/" + e.Name())
		}
	}
	// The package list is read from the tree: render the copy's own.
	for p, b := range pages {
		write(t, filepath.Join(root, p), b)
	}
	arch, err := ArchitecturePage(root)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "docs/architecture.md"), arch)
	return root
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
