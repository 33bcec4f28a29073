package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kvchaos/kvchaos/server/store"
)

// Error codes of the v1 API, each always sent with the same status.
const (
	CodeInvalidRequest        = "INVALID_REQUEST"
	CodeInvalidKey            = "INVALID_KEY"
	CodeInvalidTTL            = "INVALID_TTL"
	CodeInvalidBatch          = "INVALID_BATCH"
	CodeUnauthorized          = "UNAUTHORIZED"
	CodeKeyNotFound           = "KEY_NOT_FOUND"
	CodeRouteNotFound         = "ROUTE_NOT_FOUND"
	CodeUnsupportedAPIVersion = "UNSUPPORTED_API_VERSION"
	CodeMethodNotAllowed      = "METHOD_NOT_ALLOWED"
	CodeBatchConditionFailed  = "BATCH_CONDITION_FAILED"
	CodePreconditionFailed    = "PRECONDITION_FAILED"
	CodePayloadTooLarge       = "PAYLOAD_TOO_LARGE"
	CodeInternal              = "INTERNAL"
	CodeUnavailable           = "UNAVAILABLE"
	CodeDiskFull              = "DISK_FULL"
	CodeMemoryLimit           = "MEMORY_LIMIT"
)

// Error is an API error: it becomes the status and the envelope
// {"error":{"code","message","request_id","details"}}. Handlers return it; the
// one error handler writes it.
type Error struct {
	Status  int
	Code    string
	Message string
	// Details is sent as "details"; nil sends an empty object.
	Details map[string]any
	// Err is the underlying cause, logged but not sent.
	Err error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// apiError builds an *Error.
func apiError(status int, code, msg string, details map[string]any) *Error {
	return &Error{Status: status, Code: code, Message: msg, Details: details}
}

// envelope is the body of every non-2xx response.
type envelope struct {
	Error envelopeBody `json:"error"`
}

type envelopeBody struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	RequestID string         `json:"request_id"`
	Details   map[string]any `json:"details"`
}

// storeError maps an error from the store to an API error. Conditions are
// mapped by the caller (they differ between single writes and batches).
func storeError(err error) *Error {
	e := &Error{Err: err, Message: err.Error()}
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.Status, e.Code = http.StatusNotFound, CodeKeyNotFound
	case errors.Is(err, store.ErrDiskFull):
		e.Status, e.Code = http.StatusInsufficientStorage, CodeDiskFull
	case errors.Is(err, store.ErrMemoryLimit):
		e.Status, e.Code = http.StatusInsufficientStorage, CodeMemoryLimit
	case errors.Is(err, store.ErrClosed):
		e.Status, e.Code = http.StatusServiceUnavailable, CodeUnavailable
	default: // store.ErrIO and anything unexpected
		e.Status, e.Code = http.StatusInternalServerError, CodeInternal
	}
	return e
}

// toAPIError turns any error a handler or middleware returned into an *Error.
func toAPIError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return apiError(he.Code, CodeRouteNotFound, "no such route", nil)
		case http.StatusMethodNotAllowed:
			return apiError(he.Code, CodeMethodNotAllowed, "method not allowed on this route", nil)
		case http.StatusRequestEntityTooLarge:
			return apiError(he.Code, CodePayloadTooLarge, "request body too large", nil)
		case http.StatusUnauthorized:
			return apiError(he.Code, CodeUnauthorized, "missing or wrong bearer token", nil)
		}
		if he.Code >= 400 && he.Code < 500 {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: http.StatusText(he.Code), Err: err}
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apiError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body too large", map[string]any{"limit": mbe.Limit})
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// handleError is the echo HTTPErrorHandler: it writes the envelope for any
// error, once, and logs server-side failures.
func (s *Server) handleError(err error, c echo.Context) {
	ae := toAPIError(err)
	if ae.Status >= 500 {
		// Unavailable (loading, closed) and full (disk, memory) are states
		// the server reports, not failures of its own.
		level := slog.LevelError
		if ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusInsufficientStorage {
			level = slog.LevelWarn
		}
		s.log.Log(c.Request().Context(), level, "request failed", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", ae.Status, "code", ae.Code, "err", err, "request_id", requestID(c))
	}
	if c.Response().Committed {
		return
	}
	details := ae.Details
	if details == nil {
		details = map[string]any{}
	}
	body := envelope{Error: envelopeBody{Code: ae.Code, Message: ae.Message, RequestID: requestID(c), Details: details}}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(ae.Status)
	} else {
		werr = c.JSON(ae.Status, body)
	}
	if werr != nil {
		s.log.Debug("write error response", "err", werr, slog.String("request_id", requestID(c)))
	}
}
