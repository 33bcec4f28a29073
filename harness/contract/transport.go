package contract

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// Violation is one response that broke the document.
type Violation struct {
	Method string
	Path   string
	Status int
	Err    error
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s -> %d: %v", v.Method, v.Path, v.Status, v.Err)
}

// Transport is an http.RoundTripper that checks every response against a
// Validator and collects the violations; the response is handed on
// unchanged (its body is buffered to be read twice). Requests that fail
// before a response (timeouts, resets) are not violations. Use it as
// harness.ClientConfig.HTTP's Transport, then fail the spec when Err is not
// nil. It is safe for concurrent use.
type Transport struct {
	// Validator checks the responses; required.
	Validator *Validator
	// Base sends the requests; nil uses http.DefaultTransport.
	Base http.RoundTripper

	mu         sync.Mutex
	checked    int
	violations []Violation
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip sends req and checks the response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := ReadBody(resp)
	if err != nil {
		// A body cut short is the transport's failure, not a contract
		// violation: hand it on as the error the client would have seen.
		return nil, err
	}
	cerr := t.Validator.Check(req, resp, body)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.checked++
	if cerr != nil {
		t.violations = append(t.violations, Violation{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Err: cerr})
	}
	return resp, nil
}

// Checked returns how many responses were checked.
func (t *Transport) Checked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.checked
}

// Violations returns a copy of the violations so far.
func (t *Transport) Violations() []Violation {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Violation(nil), t.violations...)
}

// Err returns nil when every checked response matched the document, else
// one error listing the violations.
func (t *Transport) Err() error {
	vs := t.Violations()
	if len(vs) == 0 {
		return nil
	}
	errs := make([]error, 0, len(vs)+1)
	errs = append(errs, fmt.Errorf("%d of %d responses broke docs/openapi.yaml", len(vs), t.Checked()))
	for _, v := range vs {
		errs = append(errs, errors.New(v.String()))
	}
	return errors.Join(errs...)
}
