package gen

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kvchaos/kvchaos/server/api"
)

//go:embed openapi.yaml.tmpl
var openapiTemplate string

// OpenAPI renders docs/openapi.yaml from its template and the error table.
// The result is parsed and validated with kin-openapi before it is returned,
// so a broken template never reaches docs/.
func OpenAPI() ([]byte, error) {
	t, err := template.New("openapi").Funcs(template.FuncMap{
		"errs":     func(statuses ...int) string { return errorRefs("Error", statuses) },
		"headErrs": func(statuses ...int) string { return errorRefs("HeadError", statuses) },
	}).Parse(openapiTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse openapi template: %w", err)
	}
	data := map[string]any{
		"APIVersion":         api.APIVersion,
		"MaxKeyLen":          api.MaxKeyLen,
		"MaxListLimit":       api.MaxListLimit,
		"DefaultListLimit":   api.DefaultListLimit,
		"DefaultMaxBatchOps": api.DefaultMaxBatchOps,
		"ErrorCodes":         ErrorCodes,
		"ErrorStatuses":      errorStatuses(),
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render openapi: %w", err)
	}
	if _, err := LoadSpec(buf.Bytes()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errorRefs renders response entries pointing at the component responses
// named prefix+status, indented for an operation's responses map.
func errorRefs(prefix string, statuses []int) string {
	var b strings.Builder
	for _, s := range statuses {
		fmt.Fprintf(&b, "\n        '%d': {$ref: '#/components/responses/%s%d'}", s, prefix, s)
	}
	return b.String()
}

// LoadSpec parses and validates an OpenAPI document.
func LoadSpec(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load openapi: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate openapi: %w", err)
	}
	return doc, nil
}
