package harness

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrIndeterminate wraps client errors after which a write may or may not
// have taken effect (timeout, connection reset). Such ops are recorded with
// outcome unknown.
var ErrIndeterminate = errors.New("outcome unknown")

// APIError is a non-2xx answer of the server, decoded from its envelope
// {"error":{"code","message","request_id","details"}}.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the envelope's error code ("KEY_NOT_FOUND"...), empty when
	// the body was not an envelope.
	Code      string
	Message   string
	RequestID string
	Details   map[string]any
	// Body is the raw body when it was not a valid envelope.
	Body string
}

// Error says the status, the code and the message.
func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("http %d %s: %q", e.Status, http.StatusText(e.Status), truncate(e.Body, 200))
	}
	return fmt.Sprintf("http %d %s: %s", e.Status, e.Code, e.Message)
}

// AsAPIError returns the APIError inside err, if any.
func AsAPIError(err error) (*APIError, bool) {
	var ae *APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

// IsCode reports whether err is an APIError with this code.
func IsCode(err error, code string) bool {
	ae, ok := AsAPIError(err)
	return ok && ae.Code == code
}

// IsNotFound reports whether err is a 404 KEY_NOT_FOUND.
func IsNotFound(err error) bool { return IsCode(err, "KEY_NOT_FOUND") }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
