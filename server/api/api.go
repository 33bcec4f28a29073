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

var _ http.Handler = (*Server)(nil)

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
	// routeList is what routes registered.
	routeList []Route
	// ids hands out request ids; authWant is the Authorization header a
	// request must send, nil for no auth.
	ids      *requestIDs
	authWant []byte

	store    atomic.Pointer[storeRef]
	stopping atomic.Bool
}

// storeRef boxes the Store interface for atomic.Pointer.
type storeRef struct{ Store }

// New returns a Server with its routes, middleware and metrics registry.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, echo: echo.New(), started: time.Now(), ids: newRequestIDs()}
	s.echo.HideBanner, s.echo.HidePort = true, true
	s.echo.HTTPErrorHandler = s.handleError
	s.registry, s.metrics = newRegistry(s)
	if cfg.AuthToken != "" {
		s.authWant = []byte("Bearer " + cfg.AuthToken)
	}
	// Echo runs this middleware around the handler the router found, which
	// is its 404 or 405 handler for unknown routes, so it covers those and
	// the version gate too.
	s.echo.Use(s.middleware)
	s.routeList = s.routes(s.echo)
	return s
}

// routes registers every route of the v1 API and returns them.
//
// POST /api/v1/kv/batch is a static route next to the /api/v1/kv/* wildcard;
// echo's router backtracks from it to the wildcard for the other methods, so
// the key "batch" still works with GET, PUT, HEAD and DELETE.
func (s *Server) routes(e *echo.Echo) []Route {
	table := []struct {
		Route
		h echo.HandlerFunc
	}{
		{Route{"GET", "/healthz", `200 {"status":"ok"} while the process serves; needs no token`}, s.healthz},
		{Route{"GET", "/readyz", `200 {"status":"ready"} once loaded; 503 {"status","reason"} while loading, shutting down or degraded`}, s.readyz},
		{Route{"GET", "/metrics", "Prometheus text format: requests, Go runtime, process and store statistics"}, s.metricsHandler()},
		{Route{"GET", "/api/v1/version", "name, version, build, platform and storage engine of the server"}, s.version},
		{Route{"GET", "/api/v1/kv", "keys in order, paginated: ?prefix=&after=&limit= (1..1000, default 100)"}, s.list},
		{Route{"POST", "/api/v1/kv/batch", `atomic batch {"ops":[...]} of set, delete, get and check ops`}, s.batch},
		{Route{"PUT", "/api/v1/kv/*", "store the body verbatim; ?ttl=, If-Match, If-None-Match: *"}, s.put},
		{Route{"GET", "/api/v1/kv/*", "the stored bytes verbatim with ETag, X-Kv-Revision, Content-Type, TTL headers"}, s.get},
		{Route{"HEAD", "/api/v1/kv/*", "the headers of GET, no body"}, s.get},
		{Route{"DELETE", "/api/v1/kv/*", "delete the key; If-Match"}, s.delete},
	}
	out := make([]Route, len(table))
	for i, r := range table {
		e.Add(r.Method, r.Path, r.h)
		out[i] = r.Route
	}
	return out
}

// Route is one route of the API.
type Route struct {
	Method string
	// Path is the echo pattern; /api/v1/kv/* stands for /api/v1/kv/{key}.
	Path string
	// Summary says in one line what the route does.
	Summary string
}

// Routes lists every route of the API in registration order.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routeList...) }

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
