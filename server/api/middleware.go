package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Headers set on every response.
const (
	HeaderAPIVersion = "X-Api-Version"
	HeaderRequestID  = "X-Request-Id"
	APIVersion       = "v1"
)

// maxRequestIDLen bounds a client-sent request id; a longer one is replaced.
const maxRequestIDLen = 200

// requestIDKey is the echo context key of the request id.
const requestIDKey = "kvserver.request_id"

// requestID returns the request id the headers middleware chose.
func requestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// observe is the outermost middleware: it sends any error through the error
// handler here, so the status is known, and records the request in the
// metrics by method, route pattern and status.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			s.handleError(err, c)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		took := time.Since(start)
		s.metrics.observe(c.Request().Method, route, c.Response().Status, took)
		if s.log.Enabled(c.Request().Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", c.Request().Method, "path", c.Request().URL.Path,
				"status", c.Response().Status, "bytes", c.Response().Size, "took", took, "request_id", requestID(c))
		}
		return nil
	}
}

// headers sets X-Api-Version and X-Request-Id (the client's, when it sent a
// usable one) before anything is written.
func (s *Server) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if id == "" || len(id) > maxRequestIDLen || !printableASCII(id) {
			id = newRequestID()
		}
		c.Set(requestIDKey, id)
		h := c.Response().Header()
		h.Set(HeaderAPIVersion, APIVersion)
		h.Set(HeaderRequestID, id)
		return next(c)
	}
}

// printableASCII reports whether s can be echoed back in a header as is.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random hex characters.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// recoverPanic turns a panic below it into a 500 INTERNAL error; the server
// stays up. http.ErrAbortHandler is re-raised: it is net/http's way to abort
// a response on purpose.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic in handler", "panic", fmt.Sprint(r), "path", c.Request().URL.Path,
				"request_id", requestID(c), "stack", string(debug.Stack()))
			err = &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
				Message: "internal error", Err: fmt.Errorf("panic: %v", r)}
		}()
		return next(c)
	}
}

// auth requires "Authorization: Bearer <token>" on every route but /healthz
// when a token is configured. The comparison takes constant time.
func (s *Server) auth(next echo.HandlerFunc) echo.HandlerFunc {
	if s.cfg.AuthToken == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.AuthToken)
	return func(c echo.Context) error {
		if c.Request().URL.Path == "/healthz" {
			return next(c)
		}
		got := []byte(c.Request().Header.Get(echo.HeaderAuthorization))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="kvserver"`)
			return apiError(http.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token", nil)
		}
		return next(c)
	}
}

// versionGate answers 404 UNSUPPORTED_API_VERSION for /api/<anything but v1>.
func (s *Server) versionGate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rest, ok := strings.CutPrefix(c.Request().URL.Path, "/api/")
		if !ok {
			return next(c)
		}
		version, _, _ := strings.Cut(rest, "/")
		if version != APIVersion {
			return apiError(http.StatusNotFound, CodeUnsupportedAPIVersion,
				fmt.Sprintf("API version %q is not supported", version),
				map[string]any{"supported": []string{APIVersion}})
		}
		return next(c)
	}
}
