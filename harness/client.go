package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Endpoint is where a client sends requests; a *Target is one (its address
// changes across restarts, so the client asks for it on every request).
type Endpoint interface {
	BaseURL() string
}

// StaticEndpoint is a fixed base URL ("http://127.0.0.1:7379").
type StaticEndpoint string

// BaseURL returns the URL itself.
func (s StaticEndpoint) BaseURL() string { return string(s) }

// ClientConfig configures a Client. Endpoint is required.
type ClientConfig struct {
	Endpoint Endpoint
	// ID is the client's number in the history (porcupine's client id).
	ID int
	// History records every KV operation; nil records nothing.
	History *History
	// AuthToken is sent as "Authorization: Bearer ..." when set.
	AuthToken string
	// Timeout bounds each request; default 10s. A request that runs out
	// of time is recorded with outcome unknown.
	Timeout time.Duration
	// HTTP is the http.Client to use; default one with keep-alive
	// connections and no overall timeout (Timeout applies per request).
	HTTP *http.Client
}

// Client is a typed client of the v1 API that records every KV operation in
// a History. Server errors come back as *APIError. A Client may be used from
// several goroutines, but a porcupine visualisation draws one lane per
// client id, so give each worker its own Client.
type Client struct {
	cfg ClientConfig
}

// NewClient returns a client for cfg.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}}
	}
	return &Client{cfg: cfg}
}

// ID is the client's id in the history.
func (c *Client) ID() int { return c.cfg.ID }

// WithTimeout returns a copy of the client with another per-request timeout.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cc := *c
	cc.cfg.Timeout = d
	return &cc
}

// Value is a stored value as GET or HEAD returned it.
type Value struct {
	Data        []byte
	Revision    uint64
	ContentType string
	// ExpiresAt is zero for a key without TTL.
	ExpiresAt time.Time
	// TTL is the remaining time the server reported (X-Kv-Ttl-Ms), or -1
	// for a key without TTL.
	TTL    time.Duration
	Header http.Header
}

// PutOptions are the optional parts of a PUT.
type PutOptions struct {
	// TTL is sent verbatim as ?ttl= ("36h", "1500ms", "90"); empty: none.
	TTL string
	// IfMatch, when non-zero, sends If-Match: "<revision>".
	IfMatch uint64
	// IfNoneMatch sends If-None-Match: *.
	IfNoneMatch bool
	// ContentType is sent as Content-Type; default application/octet-stream.
	ContentType string
}

// PutResult is the body of a successful PUT.
type PutResult struct {
	Key       string  `json:"key"`
	Revision  uint64  `json:"revision"`
	Size      int     `json:"size"`
	ExpiresAt *string `json:"expires_at"`
	// Created is true for 201 (a new key), false for 200 (an overwrite).
	Created bool `json:"-"`
	Header  http.Header
}

// DeleteResult is the body of a successful DELETE.
type DeleteResult struct {
	Key      string `json:"key"`
	Deleted  bool   `json:"deleted"`
	Revision uint64 `json:"revision"`
}

// ListOptions select a page of keys.
type ListOptions struct {
	Prefix string
	After  string
	Limit  int
}

// ListEntry is one key of a list page.
type ListEntry struct {
	Key       string  `json:"key"`
	Size      int     `json:"size"`
	Revision  uint64  `json:"revision"`
	ExpiresAt *string `json:"expires_at"`
}

// ListPage is one page of keys; NextAfter is nil on the last page.
type ListPage struct {
	Keys      []ListEntry `json:"keys"`
	NextAfter *string     `json:"next_after"`
}

// Get reads a key. An absent key is an *APIError with code KEY_NOT_FOUND
// (recorded as an ok read that found nothing).
func (c *Client) Get(ctx context.Context, key string) (*Value, error) {
	return c.read(ctx, http.MethodGet, KindGet, key)
}

// Head reads a key's headers.
func (c *Client) Head(ctx context.Context, key string) (*Value, error) {
	return c.read(ctx, http.MethodHead, KindHead, key)
}

func (c *Client) read(ctx context.Context, method, kind, key string) (*Value, error) {
	rec := c.begin(kind, key, nil)
	resp, body, err := c.do(ctx, method, KeyPath(key), nil, nil)
	if err != nil {
		rec.finish(resp, err, nil)
		return nil, err
	}
	v := &Value{Data: body, ContentType: resp.Header.Get("Content-Type"), Header: resp.Header, TTL: -1}
	v.Revision = parseETag(resp.Header.Get("ETag"))
	if s := resp.Header.Get("X-Kv-Expires-At"); s != "" {
		v.ExpiresAt, _ = time.Parse(time.RFC3339Nano, s)
	}
	if s := resp.Header.Get("X-Kv-Ttl-Ms"); s != "" {
		if ms, perr := strconv.ParseInt(s, 10, 64); perr == nil {
			v.TTL = time.Duration(ms) * time.Millisecond
		}
	}
	out := OpOutput{Found: true, Revision: v.Revision, TTLMillis: v.TTL.Milliseconds()}
	if method == http.MethodGet {
		ref := RefOf(body)
		out.Value = &ref
	}
	rec.finish(resp, nil, out)
	return v, nil
}

// Put writes a key. A 412 (If-Match / If-None-Match) is an *APIError with
// code PRECONDITION_FAILED.
func (c *Client) Put(ctx context.Context, key string, data []byte, o PutOptions) (*PutResult, error) {
	ref := RefOf(data)
	kind := KindPut
	if o.IfMatch != 0 || o.IfNoneMatch {
		kind = KindCAS
	}
	rec := c.begin(kind, key, OpInput{Value: &ref, TTL: o.TTL, IfMatch: o.IfMatch, IfNoneMatch: o.IfNoneMatch})
	h := http.Header{}
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	if o.IfMatch != 0 {
		h.Set("If-Match", fmt.Sprintf("%q", strconv.FormatUint(o.IfMatch, 10)))
	}
	if o.IfNoneMatch {
		h.Set("If-None-Match", "*")
	}
	p := KeyPath(key)
	if o.TTL != "" {
		p += "?ttl=" + url.QueryEscape(o.TTL)
	}
	resp, body, err := c.do(ctx, http.MethodPut, p, data, h)
	if err != nil {
		rec.finish(resp, err, nil)
		return nil, err
	}
	var r PutResult
	if err := json.Unmarshal(body, &r); err != nil {
		err = fmt.Errorf("put %q: decode %q: %w", key, truncate(string(body), 200), err)
		rec.finish(resp, err, nil)
		return nil, err
	}
	r.Created = resp.StatusCode == http.StatusCreated
	r.Header = resp.Header
	rec.finish(resp, nil, OpOutput{Revision: r.Revision, Created: r.Created})
	return &r, nil
}

// Delete removes a key; ifMatch, when non-zero, sends If-Match. An absent
// key is an *APIError with code KEY_NOT_FOUND.
func (c *Client) Delete(ctx context.Context, key string, ifMatch uint64) (*DeleteResult, error) {
	kind := KindDelete
	var h http.Header
	if ifMatch != 0 {
		kind = KindCAS
		h = http.Header{"If-Match": {fmt.Sprintf("%q", strconv.FormatUint(ifMatch, 10))}}
	}
	rec := c.begin(kind, key, OpInput{IfMatch: ifMatch})
	resp, body, err := c.do(ctx, http.MethodDelete, KeyPath(key), nil, h)
	if err != nil {
		rec.finish(resp, err, nil)
		return nil, err
	}
	var r DeleteResult
	if err := json.Unmarshal(body, &r); err != nil {
		err = fmt.Errorf("delete %q: decode: %w", key, err)
		rec.finish(resp, err, nil)
		return nil, err
	}
	rec.finish(resp, nil, OpOutput{Revision: r.Revision, Found: r.Deleted})
	return &r, nil
}

// List returns one page of keys.
func (c *Client) List(ctx context.Context, o ListOptions) (*ListPage, error) {
	rec := c.begin(KindList, "", OpInput{Prefix: o.Prefix, After: o.After, Limit: o.Limit})
	q := url.Values{}
	if o.Prefix != "" {
		q.Set("prefix", o.Prefix)
	}
	if o.After != "" {
		q.Set("after", o.After)
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	p := "/api/v1/kv"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	resp, body, err := c.do(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		rec.finish(resp, err, nil)
		return nil, err
	}
	var page ListPage
	if err := json.Unmarshal(body, &page); err != nil {
		err = fmt.Errorf("list: decode: %w", err)
		rec.finish(resp, err, nil)
		return nil, err
	}
	keys := make([]string, len(page.Keys))
	for i, k := range page.Keys {
		keys[i] = k.Key
	}
	rec.finish(resp, nil, OpOutput{Keys: keys})
	return &page, nil
}

// ListAll follows next_after until the last page.
func (c *Client) ListAll(ctx context.Context, prefix string, pageSize int) ([]ListEntry, error) {
	var all []ListEntry
	after := ""
	for {
		page, err := c.List(ctx, ListOptions{Prefix: prefix, After: after, Limit: pageSize})
		if err != nil {
			return all, err
		}
		all = append(all, page.Keys...)
		if page.NextAfter == nil || *page.NextAfter == "" || len(page.Keys) == 0 {
			return all, nil
		}
		after = *page.NextAfter
	}
}

// Version returns /api/v1/version's body and the response headers.
func (c *Client) Version(ctx context.Context) (map[string]any, http.Header, error) {
	resp, body, err := c.do(ctx, http.MethodGet, "/api/v1/version", nil, nil)
	if err != nil {
		return nil, headerOf(resp), err
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, resp.Header, fmt.Errorf("version: decode: %w", err)
	}
	return v, resp.Header, nil
}

// Metrics scrapes /metrics into a map from sample name with its labels, as
// written ("kvserver_dataset_bytes", `x_total{code="200"}`), to value.
func (c *Client) Metrics(ctx context.Context) (map[string]float64, error) {
	_, body, err := c.do(ctx, http.MethodGet, "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	return ParseMetrics(string(body)), nil
}

// Ready reports whether /readyz answers 200.
func (c *Client) Ready(ctx context.Context) bool {
	_, _, err := c.do(ctx, http.MethodGet, "/readyz", nil, nil)
	return err == nil
}

// Raw sends any request (for API conformance specs) without recording it.
// Non-2xx statuses are not errors here: check resp.StatusCode and the body.
func (c *Client) Raw(ctx context.Context, method, path string, body []byte, h http.Header) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.send(ctx, method, path, body, h)
}

// do sends a request and turns a non-2xx status into an *APIError.
func (c *Client) do(ctx context.Context, method, path string, body []byte, h http.Header) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, b, err := c.send(ctx, method, path, body, h)
	if err != nil {
		return resp, nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, b, DecodeAPIError(resp.StatusCode, b)
	}
	return resp, b, nil
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, h http.Header) (*http.Response, []byte, error) {
	base := c.cfg.Endpoint.BaseURL()
	if base == "" {
		// No server to send to (between a kill and a restart): the
		// request was never sent, so it definitely did not happen.
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, ErrNotRunning)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if c.cfg.AuthToken != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.AuthToken)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, nil, classify(method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, fmt.Errorf("%s %s: read body: %w: %w", method, path, ErrIndeterminate, err)
	}
	return resp, b, nil
}

// classify wraps a transport error: a refused connection is definite (the
// server never saw the request), anything else is indeterminate.
func classify(method, path string, err error) error {
	var op *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return fmt.Errorf("%s %s: %w: %w", method, path, ErrIndeterminate, err)
}

// DecodeAPIError builds the *APIError of a non-2xx answer.
func DecodeAPIError(status int, body []byte) *APIError {
	var env struct {
		Error *struct {
			Code      string         `json:"code"`
			Message   string         `json:"message"`
			RequestID string         `json:"request_id"`
			Details   map[string]any `json:"details"`
		} `json:"error"`
	}
	ae := &APIError{Status: status}
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil || env.Error.Code == "" {
		ae.Body = string(body)
		return ae
	}
	ae.Code, ae.Message, ae.RequestID, ae.Details = env.Error.Code, env.Error.Message, env.Error.RequestID, env.Error.Details
	return ae
}

// KeyPath is the URL path of a key, escaped segment by segment so keys may
// hold "/" and any UTF-8.
func KeyPath(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/api/v1/kv/" + strings.Join(segs, "/")
}

// ParseMetrics parses Prometheus text format into name{labels} → value.
func ParseMetrics(text string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		cut := strings.LastIndexByte(line, '}')
		name, rest := "", ""
		if cut >= 0 {
			name, rest = line[:cut+1], strings.TrimSpace(line[cut+1:])
		} else if i := strings.IndexByte(line, ' '); i > 0 {
			name, rest = line[:i], strings.TrimSpace(line[i+1:])
		}
		if f := strings.Fields(rest); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				m[name] = v
			}
		}
	}
	return m
}

func parseETag(s string) uint64 {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	n, _ := strconv.ParseUint(strings.Trim(s, `"`), 10, 64)
	return n
}

func headerOf(resp *http.Response) http.Header {
	if resp == nil {
		return nil
	}
	return resp.Header
}

// recording is one operation being recorded.
type recording struct {
	c  *Client
	op artifact.Op
}

func (c *Client) begin(kind, key string, in any) *recording {
	r := &recording{c: c, op: artifact.Op{Client: c.cfg.ID, Kind: kind, Key: key, Input: in}}
	if c.cfg.History != nil {
		r.op.Call = c.cfg.History.clock.Now()
	}
	return r
}

// finish records the op's outcome: ok for 2xx (and a get/head that found
// nothing), fail for a definite error (4xx, 503, 507, refused connection),
// unknown for a timeout, a reset or a 500 (the write may have happened).
func (r *recording) finish(resp *http.Response, err error, out any) {
	h := r.c.cfg.History
	if h == nil {
		return
	}
	op := r.op
	op.Return = h.clock.Now()
	if resp != nil {
		op.Status = resp.StatusCode
	}
	switch ae, isAPI := AsAPIError(err); {
	case err == nil:
		op.Outcome, op.Output = artifact.OutcomeOK, out
	case isAPI && ae.Status == http.StatusNotFound && (op.Kind == KindGet || op.Kind == KindHead):
		op.Outcome, op.Output, op.Error = artifact.OutcomeOK, OpOutput{Found: false}, ae.Code
	case isAPI && ae.Status == http.StatusInternalServerError:
		op.Outcome, op.Error = artifact.OutcomeUnknown, ae.Code
	case isAPI:
		op.Outcome, op.Error = artifact.OutcomeFail, ae.Code
		if ae.Code == "" {
			op.Error = ae.Error()
		}
		if idx, ok := ae.Details["op_index"].(float64); ok {
			i := int(idx)
			op.Output = OpOutput{FailedOp: &i}
		}
	case errors.Is(err, ErrIndeterminate) || errors.Is(err, context.DeadlineExceeded),
		op.Status >= 200 && op.Status <= 299:
		// (A 2xx whose body could not be decoded: the server applied the
		// op, but what it answered is not known.)
		op.Outcome, op.Error = artifact.OutcomeUnknown, err.Error()
	default:
		op.Outcome, op.Error = artifact.OutcomeFail, err.Error()
	}
	h.Record(op)
}
