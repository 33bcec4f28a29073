package gen

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templates embed.FS

// renderTemplate executes templates/<name>.tmpl with data.
func renderTemplate(name string, funcs template.FuncMap, data any) ([]byte, error) {
	t, err := template.New(name+".tmpl").Funcs(funcs).ParseFS(templates, "templates/"+name+".tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse %s template: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// ArchitecturePage renders docs/architecture.md: the hand-written design
// with its Mermaid diagrams, and the package list from doc comments.
func ArchitecturePage(root string) ([]byte, error) {
	pkgs, err := PackageDocs(root)
	if err != nil {
		return nil, err
	}
	for i := range pkgs {
		s := strings.ReplaceAll(pkgs[i].Synopsis, "|", `\|`)
		if s == "" {
			s = "*(no doc comment)*"
		}
		pkgs[i].Synopsis = s
	}
	return renderTemplate("architecture.md", nil, map[string]any{"Packages": pkgs})
}

// GettingStartedPage renders docs/getting-started.md. Its shell blocks are
// executed by a test (see guide_test.go), so they are kept quick or carry a
// doctest directive.
func GettingStartedPage(string) ([]byte, error) {
	return renderTemplate("getting-started.md", nil, nil)
}
