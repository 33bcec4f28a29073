package gen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Data files: the run-specific inputs the pages are rendered from. Only
// these change when the docs are regenerated on another machine or day.
const (
	ExamplesFile = "docs/data/examples.json"
	BenchFile    = "docs/data/bench.json"
)

// page is one generated file and how to render it.
type page struct {
	path   string
	render func(root string) ([]byte, error)
}

// pages lists every generated file, relative to the repository root.
var pages = []page{
	{"docs/openapi.yaml", func(string) ([]byte, error) { return OpenAPI() }},
	{"docs/api.md", APIPage},
	{"docs/architecture.md", ArchitecturePage},
	{"docs/faults.md", FaultsPage},
	{"docs/performance-tuning.md", PerformancePage},
	{"docs/getting-started.md", GettingStartedPage},
}

// Pages returns the paths of the generated files, relative to the root.
func Pages() []string {
	out := make([]string, len(pages))
	for i, p := range pages {
		out[i] = p.path
	}
	return out
}

// Render renders every generated file from the code under root and the
// committed data files, keyed by path relative to root. It runs no server
// and no benchmark.
func Render(root string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, p := range pages {
		b, err := p.render(root)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", p.path, err)
		}
		out[p.path] = b
	}
	return out, nil
}

// Options configures Generate.
type Options struct {
	// Root is the repository root (it holds go.mod and docs/).
	Root string
	// ServerBin is a kvserver binary to capture the API examples from; ""
	// keeps the committed docs/data/examples.json.
	ServerBin string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Generate captures the API examples from a live server (when
// opts.ServerBin is set), writes them to docs/data/examples.json, then
// renders and writes every page. It returns the files it changed.
func Generate(ctx context.Context, opts Options) ([]string, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	var changed []string
	if opts.ServerBin != "" {
		fmt.Fprintf(log, "capturing API examples from %s\n", opts.ServerBin)
		ex, err := Capture(ctx, opts.ServerBin)
		if err != nil {
			return nil, err
		}
		b, err := ex.Marshal()
		if err != nil {
			return nil, err
		}
		ok, err := writeIfChanged(filepath.Join(opts.Root, ExamplesFile), b)
		if err != nil {
			return nil, err
		}
		if ok {
			changed = append(changed, ExamplesFile)
		}
	}
	files, err := Render(opts.Root)
	if err != nil {
		return nil, err
	}
	for _, p := range sortedKeys(files) {
		ok, err := writeIfChanged(filepath.Join(opts.Root, p), files[p])
		if err != nil {
			return nil, err
		}
		if ok {
			changed = append(changed, p)
		}
	}
	for _, c := range changed {
		fmt.Fprintf(log, "wrote %s\n", c)
	}
	return changed, nil
}

// Check renders every page from the committed data and compares it with the
// file in docs/: it returns an error naming each page that is missing or
// differs (with its first differing line), and nil when docs/ is fresh.
func Check(root string) error {
	files, err := Render(root)
	if err != nil {
		return err
	}
	var stale []string
	for _, p := range sortedKeys(files) {
		have, err := os.ReadFile(filepath.Join(root, p))
		switch {
		case errors.Is(err, os.ErrNotExist):
			stale = append(stale, p+": missing")
		case err != nil:
			return err
		case !bytes.Equal(have, files[p]):
			stale = append(stale, p+": "+firstDiff(have, files[p]))
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("docs are stale; run `kvchaos docs` (or `make docs`) and commit:\n  %s", strings.Join(stale, "\n  "))
	}
	return nil
}

// firstDiff describes the first line where have and want differ.
func firstDiff(have, want []byte) string {
	h, w := strings.Split(string(have), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl || i >= len(h) || i >= len(w) {
			return fmt.Sprintf("line %d is %q, regenerated %q", i+1, clip(hl), clip(wl))
		}
	}
	return "differs"
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// writeIfChanged writes b to path unless it already holds exactly b.
func writeIfChanged(path string, b []byte) (bool, error) {
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, b) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// FindRoot returns the repository root: the nearest directory at or above
// dir that holds go.mod.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; run from the kvchaos checkout")
		}
		dir = parent
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
