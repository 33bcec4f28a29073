package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
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

// requestID returns the request id chosen for the request (see setHeaders):
// it travels in the response headers, so nothing per request is stored in
// the echo context.
func requestID(c echo.Context) string {
	if v := c.Response().Header()[HeaderRequestID]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// middleware is the one middleware every request passes through, the
// unmatched ones (404, 405) too. Echo rebuilds its middleware chain for
// every request, allocating a closure per middleware, so the steps are
// plain calls in one function rather than a chain:
//
//  1. request id and API version headers, before anything is written;
//  2. auth, then the API version gate;
//  3. the handler, with a panic below it turned into a 500 INTERNAL error
//     (the server stays up; http.ErrAbortHandler is re-raised, it is
//     net/http's way to abort a response on purpose);
//  4. any error through the error handler, so the status is known, and the
//     request recorded in the metrics by method, route pattern and status.
func (s *Server) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.setHeaders(c)
		err := s.auth(c)
		if err == nil {
			err = versionGate(c)
		}
		if err == nil {
			err = s.callRecovering(next, c)
		}
		if err != nil {
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

// Header values the same for every response, allocated once.
var apiVersionValue = []string{APIVersion}

// setHeaders sets X-Api-Version and X-Request-Id (the client's, when it sent
// a usable one).
func (s *Server) setHeaders(c echo.Context) {
	id := c.Request().Header.Get(HeaderRequestID)
	if id == "" || len(id) > maxRequestIDLen || !printableASCII(id) {
		id = s.ids.next()
	}
	h := c.Response().Header()
	h[HeaderAPIVersion] = apiVersionValue
	h[HeaderRequestID] = []string{id}
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

// requestIDs hands out request ids: 16 hex characters, a random 64-bit
// start (so ids differ across restarts and processes) plus a counter (so
// they never repeat within one), without a syscall or a lock per request.
// They are for correlating logs, not secrets: one id gives away the others.
type requestIDs struct{ n atomic.Uint64 }

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	ids := &requestIDs{}
	ids.n.Store(binary.LittleEndian.Uint64(b[:]))
	return ids
}

func (ids *requestIDs) next() string {
	var b [16]byte
	v := ids.n.Add(1) * 0x9e3779b97f4a7c15 // odd multiplier: a bijection, so ids stay distinct but look random
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[:])
}

// callRecovering calls next, turning a panic in it into a 500 INTERNAL
// error; http.ErrAbortHandler is re-raised.
func (s *Server) callRecovering(next echo.HandlerFunc, c echo.Context) (err error) {
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

// auth requires "Authorization: Bearer <token>" on every route but /healthz
// when a token is configured. The comparison takes constant time.
func (s *Server) auth(c echo.Context) error {
	if s.authWant == nil || c.Request().URL.Path == "/healthz" {
		return nil
	}
	got := []byte(c.Request().Header.Get(echo.HeaderAuthorization))
	if subtle.ConstantTimeCompare(got, s.authWant) != 1 {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="kvserver"`)
		return apiError(http.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token", nil)
	}
	return nil
}

// versionGate answers 404 UNSUPPORTED_API_VERSION for /api/<anything but v1>.
func versionGate(c echo.Context) error {
	rest, ok := strings.CutPrefix(c.Request().URL.Path, "/api/")
	if !ok {
		return nil
	}
	version, _, _ := strings.Cut(rest, "/")
	if version != APIVersion {
		return apiError(http.StatusNotFound, CodeUnsupportedAPIVersion,
			fmt.Sprintf("API version %q is not supported", version),
			map[string]any{"supported": []string{APIVersion}})
	}
	return nil
}
