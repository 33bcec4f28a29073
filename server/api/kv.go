package api

import (
	"errors"
	"fmt"
	"io"

	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/kvchaos/kvchaos/server/store"
)

// Headers of a stored key.
const (
	HeaderRevision  = "X-Kv-Revision"
	HeaderExpiresAt = "X-Kv-Expires-At"
	HeaderTTLMs     = "X-Kv-Ttl-Ms"
)

// defaultContentType is the Content-Type of a value written without one.
const defaultContentType = "application/octet-stream"

// storedContentType is what the store keeps for a Content-Type: nothing for
// the default, so that most keys do not carry the same 24 bytes in memory
// and in every log record.
func storedContentType(ct string) string {
	if ct == defaultContentType {
		return ""
	}
	return ct
}

// shownContentType is the Content-Type of a stored value.
func shownContentType(stored string) string {
	if stored == "" {
		return defaultContentType
	}
	return stored
}

// putResponse is the body of a successful PUT.
type putResponse struct {
	Key       string  `json:"key"`
	Revision  uint64  `json:"revision"`
	Size      int     `json:"size"`
	ExpiresAt *string `json:"expires_at"`
}

// deleteResponse is the body of a successful DELETE.
type deleteResponse struct {
	Key      string `json:"key"`
	Deleted  bool   `json:"deleted"`
	Revision uint64 `json:"revision"`
}

// listResponse is the body of GET /api/v1/kv.
type listResponse struct {
	Keys      []listEntry `json:"keys"`
	NextAfter *string     `json:"next_after"`
}

type listEntry struct {
	Key       string  `json:"key"`
	Size      int     `json:"size"`
	Revision  uint64  `json:"revision"`
	ExpiresAt *string `json:"expires_at"`
}

// pathKey returns the request's key, or 400 INVALID_KEY.
func pathKey(c echo.Context) (string, error) {
	key, err := keyFromPath(c.Request().URL.EscapedPath())
	if err != nil {
		return "", apiError(http.StatusBadRequest, CodeInvalidKey, err.Error(), nil)
	}
	return key, nil
}

// put stores the body verbatim under the key.
func (s *Server) put(c echo.Context) error {
	key, err := pathKey(c)
	if err != nil {
		return err
	}
	r := c.Request()
	op := store.Op{Kind: store.OpSet, Key: key, ContentType: storedContentType(r.Header.Get(echo.HeaderContentType))}
	if r.URL.RawQuery != "" { // most PUTs have no query: skip parsing it
		if q := r.URL.Query(); q.Has("ttl") {
			if op.TTL, err = parseTTL(q.Get("ttl"), s.cfg.MaxTTL); err != nil {
				return apiError(http.StatusBadRequest, CodeInvalidTTL, err.Error(), nil)
			}
		}
	}
	if h := r.Header.Get("If-Match"); h != "" {
		if op.IfRevision, err = parseIfMatch(h); err != nil {
			return apiError(http.StatusBadRequest, CodeInvalidRequest, err.Error(), nil)
		}
	}
	if h := r.Header.Get("If-None-Match"); h != "" {
		if h != "*" {
			return apiError(http.StatusBadRequest, CodeInvalidRequest, `a PUT accepts only If-None-Match: *`, nil)
		}
		op.IfAbsent = true
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	if op.Value, err = readBody(c, s.cfg.MaxValueSize); err != nil {
		return err
	}
	res, err := db.Apply([]store.Op{op})
	if err != nil {
		return writeError(err)
	}
	out := putResponse{Key: key, Revision: res.Revision, Size: len(op.Value)}
	status := http.StatusOK
	if len(res.Results) > 0 {
		if res.Results[0].Created {
			status = http.StatusCreated
		}
		if m := res.Results[0].Meta; m != nil {
			out.Revision, out.Size, out.ExpiresAt = m.Revision, m.Size, formatTime(m.ExpiresAt)
		}
	}
	c.Response().Header().Set("ETag", etag(out.Revision))
	return writePutResponse(c, status, out)
}

// writeError maps an error of a single-key write: a failed condition is
// 412, everything else as storeError.
func writeError(err error) error {
	var ce *store.ConditionError
	if errors.As(err, &ce) {
		return &Error{Status: http.StatusPreconditionFailed, Code: CodePreconditionFailed,
			Message: ce.Reason, Details: map[string]any{"key": ce.Key}, Err: err}
	}
	return storeError(err)
}

// readBody reads the request body, refusing one over limit bytes with 413
// before reading (Content-Length) or as soon as the limit is passed while
// streaming; it never buffers more than limit+1 bytes.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	tooLarge := func() error {
		return apiError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
			fmt.Sprintf("request body is larger than the limit of %d bytes", limit), map[string]any{"limit": limit})
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	// Grow by doubling but never past limit+1 bytes (the +1 is how
	// MaxBytesReader notices the overflow), so an oversized body costs at
	// most the limit in memory.
	size := int64(64 << 10)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1
	}
	buf := make([]byte, 0, min(size, limit+1))
	body := http.MaxBytesReader(c.Response().Writer, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit { // cannot happen: MaxBytesReader stops first
				return nil, tooLarge()
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf))+1, limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge()
			}
			return nil, apiError(http.StatusBadRequest, CodeInvalidRequest, "reading the request body: "+err.Error(), nil)
		}
	}
}

// get answers GET and HEAD of a key: its bytes verbatim with its metadata
// in headers, or 304 when If-None-Match matches.
func (s *Server) get(c echo.Context) error {
	key, err := pathKey(c)
	if err != nil {
		return err
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	var (
		meta  store.Meta
		value []byte
	)
	if c.Request().Method == http.MethodHead {
		meta, err = db.Head(key)
	} else {
		var e store.Entry
		e, err = db.Get(key)
		meta, value = e.Meta, e.Value
	}
	if err != nil {
		return storeError(err)
	}
	h := c.Response().Header()
	tag := etag(meta.Revision)
	h.Set("ETag", tag)
	h.Set(HeaderRevision, strconv.FormatUint(meta.Revision, 10))
	if !meta.ExpiresAt.IsZero() {
		left := time.Until(meta.ExpiresAt)
		if left <= 0 { // expired between the store's read and now
			h.Del("ETag")
			h.Del(HeaderRevision)
			return storeError(store.ErrNotFound)
		}
		h.Set(HeaderExpiresAt, *formatTime(meta.ExpiresAt))
		h.Set(HeaderTTLMs, strconv.FormatInt(int64(math.Ceil(float64(left)/float64(time.Millisecond))), 10))
	}
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && noneMatch(inm, tag) {
		return c.NoContent(http.StatusNotModified)
	}
	h.Set(echo.HeaderContentType, shownContentType(meta.ContentType))
	size := meta.Size
	if c.Request().Method != http.MethodHead {
		size = len(value)
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(size))
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err = c.Response().Write(value)
	return err
}

// delete removes a key; an absent key is 404, a failed If-Match 412.
func (s *Server) delete(c echo.Context) error {
	key, err := pathKey(c)
	if err != nil {
		return err
	}
	op := store.Op{Kind: store.OpDelete, Key: key, MustExist: true}
	if h := c.Request().Header.Get("If-Match"); h != "" {
		if op.IfRevision, err = parseIfMatch(h); err != nil {
			return apiError(http.StatusBadRequest, CodeInvalidRequest, err.Error(), nil)
		}
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	res, err := db.Apply([]store.Op{op})
	if err != nil {
		return writeError(err)
	}
	return c.JSON(http.StatusOK, deleteResponse{Key: key, Deleted: true, Revision: res.Revision})
}

// list answers GET /api/v1/kv?prefix=&after=&limit=: keys in order, one
// page at a time; next_after is null on the last page.
func (s *Server) list(c echo.Context) error {
	q := c.Request().URL.Query()
	prefix, after := q.Get("prefix"), q.Get("after")
	for name, v := range map[string]string{"prefix": prefix, "after": after} {
		if len(v) > MaxKeyLen || !utf8.ValidString(v) {
			return apiError(http.StatusBadRequest, CodeInvalidRequest,
				fmt.Sprintf("%s must be at most %d bytes of UTF-8", name, MaxKeyLen), map[string]any{"param": name})
		}
	}
	limit := DefaultListLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxListLimit {
			return apiError(http.StatusBadRequest, CodeInvalidRequest,
				fmt.Sprintf("limit must be a whole number from 1 to %d", MaxListLimit), map[string]any{"param": "limit"})
		}
		limit = n
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	metas, next, err := db.List(prefix, after, limit)
	if err != nil {
		return storeError(err)
	}
	out := listResponse{Keys: make([]listEntry, 0, len(metas))}
	for _, m := range metas {
		out.Keys = append(out.Keys, listEntry{Key: m.Key, Size: m.Size, Revision: m.Revision, ExpiresAt: formatTime(m.ExpiresAt)})
	}
	if next != "" {
		out.NextAfter = &next
	}
	return c.JSON(http.StatusOK, out)
}
