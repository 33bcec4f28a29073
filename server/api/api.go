// Package api is kvserver's HTTP layer: the v1 routes, their handlers, the
// middleware every response passes through (request id, API version, auth,
// panics, metrics) and the one error handler that writes the error envelope.
// It talks to the storage engine only through the small Store interface, so
// it can be served before the store has finished loading.
package api

import (
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kvchaos/kvchaos/server/store"
)

// Store is what the API needs from the storage engine; *store.Store has it.
type Store interface {
	Get(key string) (store.Entry, error)
	Head(key string) (store.Meta, error)
	List(prefix, after string, limit int) ([]store.Meta, string, error)
	Apply(ops []store.Op) (store.TxResult, error)
	Stats() store.Stats
}

var _ Store = (*store.Store)(nil)

// Defaults for the zero fields of Config.
const (
	DefaultMaxValueSize = 16 << 20
	DefaultMaxBodySize  = 32 << 20
	DefaultMaxBatchOps  = 1000
	DefaultMaxTTL       = 100 * 8766 * time.Hour // 100 years of 365.25 days
	DefaultListLimit    = 100
	MaxListLimit        = 1000
)

// Build describes the running binary for /api/v1/version. Empty fields are
// sent as "unknown".
type Build struct {
	Version   string
	Commit    string
	BuildTime string
}

// Config configures a Server. The zero value serves with the defaults above,
// no auth and a discarding logger.
type Config struct {
	// MaxValueSize limits a PUT body, in bytes.
	MaxValueSize int64
	// MaxBodySize limits every other body (a batch), in bytes.
	MaxBodySize int64
	// MaxBatchOps limits the ops of one batch.
	MaxBatchOps int
	// MaxTTL is the longest TTL accepted.
	MaxTTL time.Duration
	// AuthToken, when set, is the bearer token every route but /healthz
	// requires.
	AuthToken string
	// Sync is the store's sync policy, reported by /api/v1/version.
	Sync store.SyncPolicy
	// Build is reported by /api/v1/version.
	Build Build
	// Logger receives request failures; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxValueSize <= 0 {
		c.MaxValueSize = DefaultMaxValueSize
	}
	if c.MaxBodySize <= 0 {
		c.MaxBodySize = DefaultMaxBodySize
	}
	if c.MaxBatchOps <= 0 {
		c.MaxBatchOps = DefaultMaxBatchOps
	}
	if c.MaxTTL <= 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Server serves the v1 API. It answers 503 on the KV routes and /readyz until
// SetStore is called, and /readyz answers 503 again after SetShuttingDown.
type Server struct {
	cfg      Config
	log      *slog.Logger
	echo     *echo.Echo
	registry *prometheus.Registry
	metrics  *httpMetrics
	started  time.Time

	store    atomic.Pointer[storeRef]
	stopping atomic.Bool
}

// storeRef boxes the Store interface for atomic.Pointer.
type storeRef struct{ Store }

// New returns a Server with its routes, middleware and metrics registry.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, echo: echo.New(), started: time.Now()}
	s.echo.HideBanner, s.echo.HidePort = true, true
	s.echo.HTTPErrorHandler = s.handleError
	s.registry, s.metrics = newRegistry(s)
	// Pre middleware runs before routing, so it covers unknown routes,
	// 405s and the version gate too. The first is the outermost.
	s.echo.Pre(s.observe, s.headers, s.recoverPanic, s.auth, s.versionGate)
	s.routes(s.echo)
	return s
}

// routes registers every route of the v1 API. POST /api/v1/kv/batch is a
// static route next to the /api/v1/kv/* wildcard; echo's router backtracks
// from it to the wildcard for the other methods, so the key "batch" still
// works with GET, PUT, HEAD and DELETE.
func (s *Server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler())
	e.GET("/api/v1/version", s.version)
	e.GET("/api/v1/kv", s.list)
	e.POST("/api/v1/kv/batch", s.batch)
	e.PUT("/api/v1/kv/*", s.put)
	e.GET("/api/v1/kv/*", s.get)
	e.HEAD("/api/v1/kv/*", s.get)
	e.DELETE("/api/v1/kv/*", s.delete)
}

// Route is one registered route.
type Route struct {
	Method string
	Path   string
}

// Routes lists every route of the API, sorted by path then method.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.echo.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// SetStore makes the loaded store available: the KV routes start serving
// and /readyz turns ready.
func (s *Server) SetStore(st Store) { s.store.Store(&storeRef{st}) }

// SetShuttingDown turns /readyz to 503 shutting_down; requests are still
// served until the http.Server stops.
func (s *Server) SetShuttingDown() { s.stopping.Store(true) }

// Registry returns the Prometheus registry /metrics serves.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// db returns the store, or 503 UNAVAILABLE while it is loading.
func (s *Server) db() (Store, error) {
	ref := s.store.Load()
	if ref == nil {
		return nil, apiError(http.StatusServiceUnavailable, CodeUnavailable, "the store is still loading", nil)
	}
	return ref.Store, nil
}
