package gen

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvchaos/kvchaos/harness/contract"
)

// TestExamplesAreFresh captures the examples from a live kvserver and
// requires them to equal docs/data/examples.json: a change of the server's
// answers shows up here until `kvchaos docs` is run.
func TestExamplesAreFresh(t *testing.T) {
	ex, err := Capture(context.Background(), kvserverBin)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ex.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("KVCHAOS_DOCS_UPDATE") == "1" {
		if err := os.WriteFile(filepath.Join(repoRoot, ExamplesFile), got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(filepath.Join(repoRoot, ExamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the live server's answers differ from %s: %s\nrun `make build && bin/kvchaos docs` and commit", ExamplesFile, firstDiff(want, got))
	}
}

// TestExamplesMatchSpec checks every captured response against the
// generated OpenAPI document, as the suites' contract check does.
func TestExamplesMatchSpec(t *testing.T) {
	spec, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	v, err := contract.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := LoadExamples(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Examples) != len(scenarios) {
		t.Fatalf("%s has %d examples, want %d", ExamplesFile, len(ex.Examples), len(scenarios))
	}
	for _, e := range ex.Examples {
		t.Run(e.ID, func(t *testing.T) {
			if e.Grep != "" {
				t.Skip("body filtered for the page; the metrics response is checked live by the contract tests")
			}
			req, err := http.NewRequest(e.Method, "http://"+exampleAddr+e.Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp := &http.Response{StatusCode: e.Status, Header: http.Header{}}
			for _, h := range e.RespHeader {
				resp.Header.Add(h.Name, h.Value)
			}
			if err := v.Check(req, resp, []byte(e.RespBody)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestEveryErrorCodeIsShownOrExplained requires an example or a reason
// for every error code.
func TestEveryErrorCodeIsShownOrExplained(t *testing.T) {
	ex, err := LoadExamples(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ErrorCodes {
		if _, ok := exampleWithCode(ex.Examples, c.Code); !ok && uncaptured[c.Code] == "" {
			t.Errorf("error code %s has neither a captured example nor an entry in uncaptured", c.Code)
		}
		if _, ok := exampleWithCode(ex.Examples, c.Code); ok && uncaptured[c.Code] != "" {
			t.Errorf("error code %s has an example now: drop it from uncaptured", c.Code)
		}
	}
	if !strings.Contains(ex.Examples[0].RespBody, "ok") {
		t.Errorf("first example is %q, want /healthz ok", ex.Examples[0].RespBody)
	}
}
