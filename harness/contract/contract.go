// Package contract checks a server's HTTP responses against the OpenAPI
// description of the v1 API (docs/openapi.yaml), with kin-openapi.
//
// A Validator checks one response: its status must be documented for the
// route, its required headers present and well-formed, and its body must
// match the schema. A response to a path or method the document does not
// describe (an unknown route, an unsupported API version, a 405) must match
// the document's component response Error<status>, the error envelope. A
// Transport wraps an http.RoundTripper, checks every response that passes
// through it and collects the violations, so a suite's client can be made
// contract-checked by setting its http.Client's Transport.
//
// Like the rest of the harness it knows the server only through the
// document and the wire; it never imports the server.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Validator checks responses against one OpenAPI document. It is safe for
// concurrent use. The zero value is not usable: use Load or Parse.
type Validator struct {
	doc    *openapi3.T
	routes []route
}

// route is one path of the document, with a pattern matching escaped
// request paths.
type route struct {
	path   string
	item   *openapi3.PathItem
	re     *regexp.Regexp
	static bool
}

// Load reads, parses and validates the OpenAPI document at path.
func Load(path string) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return newValidator(doc)
}

// Parse parses and validates an OpenAPI document held in memory.
func Parse(data []byte) (*Validator, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("parse openapi: %w", err)
	}
	return newValidator(doc)
}

func newValidator(doc *openapi3.T) (*Validator, error) {
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate openapi: %w", err)
	}
	v := &Validator{doc: doc}
	for path, item := range doc.Paths.Map() {
		re, static := pathPattern(path)
		v.routes = append(v.routes, route{path: path, item: item, re: re, static: static})
	}
	// Static paths first, so POST /api/v1/kv/batch is not taken for a key.
	sort.Slice(v.routes, func(i, j int) bool {
		if v.routes[i].static != v.routes[j].static {
			return v.routes[i].static
		}
		return v.routes[i].path < v.routes[j].path
	})
	return v, nil
}

// pathPattern turns an OpenAPI path template into a regexp over escaped
// request paths. A parameter in the last segment takes the rest of the path,
// slashes included (a key may contain '/'); others take one segment.
func pathPattern(tmpl string) (*regexp.Regexp, bool) {
	segs := strings.Split(tmpl, "/")
	static := true
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			static = false
			if i == len(segs)-1 {
				segs[i] = ".+"
			} else {
				segs[i] = "[^/]+"
			}
			continue
		}
		segs[i] = regexp.QuoteMeta(s)
	}
	return regexp.MustCompile("^" + strings.Join(segs, "/") + "$"), static
}

// find returns the operation for a request, or the path item alone when the
// path is described but not the method, or nothing.
func (v *Validator) find(method, escapedPath string) (*route, *openapi3.Operation) {
	var pathOnly *route
	for i := range v.routes {
		r := &v.routes[i]
		if !r.re.MatchString(escapedPath) {
			continue
		}
		if op := r.item.GetOperation(method); op != nil {
			return r, op
		}
		if pathOnly == nil {
			pathOnly = r
		}
	}
	return pathOnly, nil
}

// Check validates one response to req; body is the whole response body
// (resp.Body is not read). It returns nil when the response matches the
// document, else an error saying what does not.
func (v *Validator) Check(req *http.Request, resp *http.Response, body []byte) error {
	method := req.Method
	r, op := v.find(method, req.URL.EscapedPath())
	if op == nil {
		// Not a described operation: the server must answer with the
		// error envelope of its status.
		ref := v.doc.Components.Responses[fmt.Sprintf("Error%d", resp.StatusCode)]
		if ref == nil || resp.StatusCode < 400 {
			return fmt.Errorf("%s %s is not in the spec, and status %d is not one of its error responses", method, req.URL.Path, resp.StatusCode)
		}
		path := req.URL.Path
		if r != nil {
			path = r.path
		}
		op = &openapi3.Operation{Responses: openapi3.NewResponses(
			openapi3.WithStatus(resp.StatusCode, ref))}
		r = &route{path: path, item: &openapi3.PathItem{}}
	}
	if method == http.MethodHead {
		// kin-openapi skips HEAD responses; check the HEAD operation's
		// documented statuses and headers as for a GET with no body.
		req = req.Clone(req.Context())
		req.Method = http.MethodGet
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req,
			Route: &routers.Route{Spec: v.doc, Path: r.path, PathItem: r.item,
				Method: method, Operation: op},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return fmt.Errorf("%s %s -> %d: %w", method, req.URL.Path, resp.StatusCode, shorten(err))
	}
	if method == http.MethodHead && len(body) > 0 {
		return fmt.Errorf("HEAD %s -> %d: a HEAD response has a body of %d bytes", req.URL.Path, resp.StatusCode, len(body))
	}
	return nil
}

// shorten drops kin-openapi's dump of the whole schema from a schema error,
// keeping the reason and the place in the value.
func shorten(err error) error {
	var re *openapi3filter.ResponseError
	if errors.As(err, &re) {
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			return fmt.Errorf("%s: %s", re.Reason, se.Error()[:firstLine(se.Error())])
		}
		if re.Err != nil {
			return fmt.Errorf("%s: %v", re.Reason, re.Err)
		}
		return errors.New(re.Reason)
	}
	return err
}

func firstLine(s string) int {
	if i := strings.Index(s, "\nSchema:"); i >= 0 {
		return i
	}
	return len(s)
}

// ReadBody reads and closes resp.Body and puts the bytes back, so the
// response can be both checked and used.
func ReadBody(resp *http.Response) ([]byte, error) {
	if resp.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return b, fmt.Errorf("read response body: %w", err)
	}
	return b, nil
}
