package load

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns a client tuned for load on loopback: keep-alive
// connections for conns concurrent workers (one each, never closed between
// requests), no compression, no proxy, and a per-request timeout.
func NewHTTPClient(conns int, timeout time.Duration) *http.Client {
	if conns < 1 {
		conns = 1
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// StatusError is a response whose status was not the one expected.
type StatusError struct {
	Status int
	Body   string // the first bytes of the body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.Status, e.Body)
}

// Exchange sends req, reads the whole response body (so the connection is
// reused) and returns a *StatusError unless the status is 2xx.
func Exchange(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, resp.Body)
	return &StatusError{Status: resp.StatusCode, Body: string(b)}
}
