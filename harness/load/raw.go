package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Requester sends one HTTP request for a worker and returns nil for a 2xx
// answer, a *StatusError for another status, or the transport's error. A
// worker sends one request at a time; different workers run concurrently.
type Requester interface {
	Request(ctx context.Context, worker int, method, path, contentType string, body []byte) error
	Close()
}

// NetHTTP is a Requester over net/http's client (keep-alive, pooled).
type NetHTTP struct {
	base string
	c    *http.Client
}

// NewNetHTTP returns a net/http Requester for base (http://host:port).
func NewNetHTTP(base string, conns int, timeout time.Duration) *NetHTTP {
	return &NetHTTP{base: base, c: NewHTTPClient(conns, timeout)}
}

// Request implements Requester.
func (n *NetHTTP) Request(ctx context.Context, _ int, method, path, contentType string, body []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return Exchange(n.c, req)
}

// Close closes the idle connections.
func (n *NetHTTP) Close() { n.c.CloseIdleConnections() }

// Raw is a lean HTTP/1.1 Requester: one keep-alive connection per worker,
// requests written by hand and responses parsed just enough to find the
// status and skip the body (Content-Length or chunked). On a 2-core machine
// the load generator competes with the server for the CPU; net/http's
// client costs about as much per request as a minimal server, Raw a
// fraction of it, which leaves the cores to the server being measured.
type Raw struct {
	host    string
	timeout time.Duration
	conns   []*rawConn
}

type rawConn struct {
	c  net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	hd []byte // request head scratch
}

// NewRaw returns a Raw requester for base (http://host:port) with one
// connection slot per worker.
func NewRaw(base string, workers int, timeout time.Duration) (*Raw, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw client: base %q is not http://host:port", base)
	}
	return &Raw{host: u.Host, timeout: timeout, conns: make([]*rawConn, max(workers, 1))}, nil
}

// Close closes every connection.
func (r *Raw) Close() {
	for i, c := range r.conns {
		if c != nil {
			_ = c.c.Close()
			r.conns[i] = nil
		}
	}
}

// Request implements Requester. A connection that fails is closed and
// redialled by the worker's next request.
func (r *Raw) Request(ctx context.Context, worker int, method, path, contentType string, body []byte) error {
	if worker < 0 || worker >= len(r.conns) {
		return fmt.Errorf("raw client: worker %d out of range", worker)
	}
	c := r.conns[worker]
	if c == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		nc, err := d.DialContext(ctx, "tcp", r.host)
		if err != nil {
			return err
		}
		c = &rawConn{c: nc, r: bufio.NewReaderSize(nc, 32<<10), w: bufio.NewWriterSize(nc, 32<<10)}
		r.conns[worker] = c
	}
	deadline := time.Now().Add(r.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.c.SetDeadline(deadline)
	status, keep, snippet, err := c.roundTrip(r.host, method, path, contentType, body)
	if err != nil || !keep {
		_ = c.c.Close()
		r.conns[worker] = nil
	}
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return &StatusError{Status: status, Body: snippet}
	}
	return nil
}

func (c *rawConn) roundTrip(host, method, path, contentType string, body []byte) (status int, keep bool, snippet string, err error) {
	h := append(c.hd[:0], method...)
	h = append(h, ' ')
	h = append(h, path...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, host...)
	h = append(h, "\r\nUser-Agent: kvchaos-load\r\n"...)
	if contentType != "" {
		h = append(h, "Content-Type: "...)
		h = append(h, contentType...)
		h = append(h, "\r\n"...)
	}
	if body != nil || method == http.MethodPut || method == http.MethodPost {
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, int64(len(body)), 10)
		h = append(h, "\r\n"...)
	}
	h = append(h, "\r\n"...)
	c.hd = h
	if _, err := c.w.Write(h); err != nil {
		return 0, false, "", err
	}
	if _, err := c.w.Write(body); err != nil {
		return 0, false, "", err
	}
	if err := c.w.Flush(); err != nil {
		return 0, false, "", err
	}
	return readResponse(c.r, method)
}

var (
	errMalformed = errors.New("raw client: malformed response")
	hdrLength    = []byte("content-length:")
	hdrEncoding  = []byte("transfer-encoding:")
	hdrConn      = []byte("connection:")
)

// readResponse reads one response, discarding its body, and says whether
// the connection may be reused. snippet is the body's start for a non-2xx.
func readResponse(r *bufio.Reader, method string) (status int, keep bool, snippet string, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, "", err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, "", errMalformed
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, "", errMalformed
	}
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, false, "", err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		switch {
		case hasPrefixFold(line, hdrLength):
			length, err = strconv.ParseInt(string(bytes.TrimSpace(line[len(hdrLength):])), 10, 64)
			if err != nil || length < 0 {
				return 0, false, "", errMalformed
			}
		case hasPrefixFold(line, hdrEncoding):
			chunked = bytes.Contains(bytes.ToLower(line), []byte("chunked"))
		case hasPrefixFold(line, hdrConn):
			v := bytes.ToLower(bytes.TrimSpace(line[len(hdrConn):]))
			keep = keep && !bytes.Equal(v, []byte("close"))
		}
	}
	var sink io.Writer = io.Discard
	var snip bytes.Buffer
	if status/100 != 2 {
		sink = &limited{&snip, 256}
	}
	switch {
	case method == http.MethodHead || status == 204 || status == 304 || status/100 == 1:
	case chunked:
		err = readChunked(r, sink)
	case length >= 0:
		_, err = io.CopyN(sink, r, length)
	default:
		// No length: the body runs to the end of the connection.
		_, err = io.Copy(sink, r)
		keep = false
	}
	if err != nil {
		return 0, false, "", err
	}
	return status, keep, snip.String(), nil
}

func readChunked(r *bufio.Reader, sink io.Writer) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := io.CopyN(sink, r, n); err != nil {
			return err
		}
		if _, err := r.Discard(2); err != nil {
			return err
		}
	}
}

func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
}

// limited keeps the first n bytes written to it and drops the rest.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
