package gen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kvchaos/kvchaos/server/api"
)

// Route is one method and OpenAPI path, e.g. GET /api/v1/kv/{key}.
type Route struct {
	Method string
	Path   string
}

func (r Route) String() string { return r.Method + " " + r.Path }

// ServerRoutes returns the routes kvserver serves, read from echo's route
// table (api.Server.Routes) of a server built with the default config and
// no store, in OpenAPI form: echo's trailing wildcard /api/v1/kv/* becomes
// /api/v1/kv/{key}.
func ServerRoutes() []Route {
	var out []Route
	for _, r := range api.New(api.Config{}).Routes() {
		out = append(out, Route{Method: r.Method, Path: openapiPath(r.Path)})
	}
	sortRoutes(out)
	return out
}

// openapiPath turns an echo route path into an OpenAPI path template:
// ":name" segments become "{name}" and a trailing "*" (which takes the rest
// of the path: a key may contain '/') becomes "{key}".
func openapiPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case s == "*":
			segs[i] = "{key}"
		case strings.HasPrefix(s, ":"):
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// SpecRoutes returns the operations an OpenAPI document describes.
func SpecRoutes(doc *openapi3.T) []Route {
	var out []Route
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, Route{Method: strings.ToUpper(method), Path: path})
		}
	}
	sortRoutes(out)
	return out
}

// DiffRoutes compares the server's routes with the spec's: missing are
// served but not described, extra are described but not served. Both empty
// means the spec covers the server exactly.
func DiffRoutes(server, spec []Route) (missing, extra []Route) {
	in := func(rs []Route) map[Route]bool {
		m := map[Route]bool{}
		for _, r := range rs {
			m[r] = true
		}
		return m
	}
	srv, sp := in(server), in(spec)
	for _, r := range server {
		if !sp[r] {
			missing = append(missing, r)
		}
	}
	for _, r := range spec {
		if !srv[r] {
			extra = append(extra, r)
		}
	}
	return missing, extra
}

// CheckRoutes returns an error naming every route the spec lacks and every
// operation it describes that the server does not serve.
func CheckRoutes(server, spec []Route) error {
	missing, extra := DiffRoutes(server, spec)
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("docs/openapi.yaml and the server's routes differ:")
	for _, r := range missing {
		fmt.Fprintf(&b, "\n  served but not in the spec: %s", r)
	}
	for _, r := range extra {
		fmt.Fprintf(&b, "\n  in the spec but not served: %s", r)
	}
	b.WriteString("\nupdate docs/gen/openapi.yaml.tmpl and run `kvchaos docs`")
	return fmt.Errorf("%s", b.String())
}

func sortRoutes(rs []Route) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Path != rs[j].Path {
			return rs[i].Path < rs[j].Path
		}
		return rs[i].Method < rs[j].Method
	})
}
