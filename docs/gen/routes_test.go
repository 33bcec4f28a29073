package gen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func specRoutes(t *testing.T) []Route {
	t.Helper()
	spec, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := LoadSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return SpecRoutes(doc)
}

// TestSpecCoversServerRoutes is the route discovery check: every route in
// echo's table is in docs/openapi.yaml and nothing else is.
func TestSpecCoversServerRoutes(t *testing.T) {
	server := ServerRoutes()
	if len(server) < 10 {
		t.Fatalf("only %d server routes found: %v", len(server), server)
	}
	if err := CheckRoutes(server, specRoutes(t)); err != nil {
		t.Fatal(err)
	}
}

// TestCheckRoutesCatchesDrift plants a renamed route and an extra one and
// requires both directions to be reported.
func TestCheckRoutesCatchesDrift(t *testing.T) {
	spec := specRoutes(t)
	server := append([]Route{}, ServerRoutes()...)
	for i, r := range server {
		if r.Path == "/api/v1/version" {
			server[i].Path = "/api/v1/info" // a renamed route
		}
	}
	server = append(server, Route{Method: "PATCH", Path: "/api/v1/kv/{key}"})
	err := CheckRoutes(server, spec)
	if err == nil {
		t.Fatal("drift not reported")
	}
	for _, want := range []string{
		"served but not in the spec: GET /api/v1/info",
		"served but not in the spec: PATCH /api/v1/kv/{key}",
		"in the spec but not served: GET /api/v1/version",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("report lacks %q:\n%v", want, err)
		}
	}
}

func TestOpenAPIPath(t *testing.T) {
	for _, tc := range []struct{ echo, want string }{
		{"/healthz", "/healthz"},
		{"/api/v1/kv/*", "/api/v1/kv/{key}"},
		{"/users/:id/items/:item", "/users/{id}/items/{item}"},
	} {
		if got := openapiPath(tc.echo); got != tc.want {
			t.Errorf("openapiPath(%q) = %q, want %q", tc.echo, got, tc.want)
		}
	}
}

// TestErrorCodesMatchServer keeps ErrorCodes equal to the Code constants
// of server/api, read from its source, with the same string values.
func TestErrorCodesMatchServer(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(repoRoot, "server", "api", "errors.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	server := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if strings.HasPrefix(name.Name, "Code") && i < len(vs.Values) {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					server[v] = true
				}
			}
		}
		return true
	})
	if len(server) == 0 {
		t.Fatal("no Code constants found in server/api/errors.go")
	}
	documented := map[string]bool{}
	for _, c := range ErrorCodes {
		if documented[c.Code] {
			t.Errorf("%s is listed twice", c.Code)
		}
		documented[c.Code] = true
		if !server[c.Code] {
			t.Errorf("%s is documented but server/api has no such code", c.Code)
		}
		if c.Status < 400 || c.When == "" {
			t.Errorf("%s: status %d, when %q", c.Code, c.Status, c.When)
		}
	}
	for c := range server {
		if !documented[c] {
			t.Errorf("server/api has code %s that docs/gen/errors.go does not document", c)
		}
	}
}
