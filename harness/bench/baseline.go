package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BaselineHandler is the machine's HTTP ceiling: a minimal net/http handler
// that answers the requests of every scenario with responses of the same
// shape and size as kvserver's, without storing anything. GET of any key
// returns a 100-byte value; PUT reads the body and answers kvserver's JSON;
// a batch reads the body and answers ten set results; /readyz and /healthz
// answer 200. Whatever kvserver spends beyond it is the price of the store,
// the router and the JSON.
func BaselineHandler() http.Handler {
	val := value(100)
	batchResp := baselineBatchResponse(10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Api-Version", "v1")
		h.Set("X-Request-Id", "0000000000000000")
		path := r.URL.Path
		switch {
		case path == "/readyz":
			h.Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ready"}`)
		case path == "/healthz":
			h.Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		case path == "/api/v1/kv/batch" && r.Method == http.MethodPost:
			_, _ = io.Copy(io.Discard, r.Body)
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(batchResp)
		case strings.HasPrefix(path, "/api/v1/kv/") && r.Method == http.MethodPut:
			n, _ := io.Copy(io.Discard, r.Body)
			key := strings.TrimPrefix(path, "/api/v1/kv/")
			h.Set("Content-Type", "application/json")
			h.Set("Etag", `"1"`)
			_, _ = fmt.Fprintf(w, `{"key":%q,"revision":1,"size":%d,"expires_at":null}`, key, n)
		case strings.HasPrefix(path, "/api/v1/kv/") && r.Method == http.MethodGet:
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Etag", `"1"`)
			h.Set("X-Kv-Revision", "1")
			h.Set("Content-Length", strconv.Itoa(len(val)))
			_, _ = w.Write(val)
		default:
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"ROUTE_NOT_FOUND","message":"no route","request_id":"0","details":{}}}`)
		}
	})
}

func baselineBatchResponse(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"revision":1000000,"results":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"op":"set","key":"batch-%d","created":false,"revision":1000000,"size":100}`, 1000+i)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// ServeBaseline serves BaselineHandler on addr until ctx ends, printing
// "kvserver listening on http://HOST:PORT" to out once it listens, the line
// harness.Target waits for, so the baseline runs as its own process exactly
// as kvserver does (kvchaos bench starts it as `kvchaos bench baseline`).
func ServeBaseline(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	srv := &http.Server{Handler: BaselineHandler(), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "kvserver listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("baseline: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("baseline: %w", err)
	}
	return nil
}
