package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kvchaos/kvchaos/server/store"
)

// httpMetrics counts and times requests by method, route pattern and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series caches the counter and histogram of each label set seen, so
	// that a request costs a map lookup instead of hashing its labels into
	// both vectors and formatting the status code.
	series sync.Map // seriesKey → *series
}

type seriesKey struct {
	method, route string
	code          int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *httpMetrics) observe(method, route string, code int, d time.Duration) {
	if !knownMethods[method] { // keep the label set bounded whatever clients send
		method = "OTHER"
	}
	k := seriesKey{method, route, code}
	v, ok := m.series.Load(k)
	if !ok {
		c := strconv.Itoa(code)
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(method, route, c),
			duration: m.duration.WithLabelValues(method, route, c),
		})
	}
	se := v.(*series)
	se.requests.Inc()
	se.duration.Observe(d.Seconds())
}

// knownMethods are the methods kept as metric labels; others count as OTHER.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPut: true, http.MethodPost: true,
	http.MethodDelete: true, http.MethodOptions: true, http.MethodPatch: true,
}

// newRegistry builds the dedicated registry /metrics serves: request
// metrics, the Go and process collectors, and the store's statistics.
func newRegistry(s *Server) (*prometheus.Registry, *httpMetrics) {
	labels := []string{"method", "route", "code"}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvserver_http_requests_total", Help: "HTTP requests by method, route pattern and status code.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kvserver_http_request_duration_seconds", Help: "HTTP request duration by method, route pattern and status code.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, labels),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&statsCollector{s: s})
	return reg, m
}

// metricsHandler serves the registry in the Prometheus text format.
func (s *Server) metricsHandler() echo.HandlerFunc {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}})
	return func(c echo.Context) error {
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// slogPrinter adapts the server's logger to promhttp's error log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Error("metrics", "err", v) }

// statsCollector exports store.Stats at every scrape; nothing while the
// store is loading, except kvserver_ready.
type statsCollector struct{ s *Server }

// statDesc is one store statistic as a metric.
type statDesc struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(st store.Stats) float64
}

var statDescs = func() []statDesc {
	d := func(name, help string, kind prometheus.ValueType, v func(store.Stats) float64) statDesc {
		return statDesc{prometheus.NewDesc("kvserver_"+name, help, nil, nil), kind, v}
	}
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	return []statDesc{
		d("keys", "Keys stored.", g, func(s store.Stats) float64 { return float64(s.Keys) }),
		d("dataset_bytes", "Accounted dataset size: keys, values and per-key overhead.", g, func(s store.Stats) float64 { return float64(s.DatasetBytes) }),
		d("max_memory_bytes", "Configured dataset limit (0 = unlimited).", g, func(s store.Stats) float64 { return float64(s.MaxMemory) }),
		d("revision", "Store revision: the counter at the last committed write.", g, func(s store.Stats) float64 { return float64(s.Revision) }),
		d("evictions_total", "Keys evicted to stay under the memory limit.", c, func(s store.Stats) float64 { return float64(s.Evictions) }),
		d("expirations_total", "Keys removed because their TTL ran out.", c, func(s store.Stats) float64 { return float64(s.Expirations) }),
		d("log_bytes", "Bytes in the write-ahead log segments.", g, func(s store.Stats) float64 { return float64(s.LogBytes) }),
		d("snapshot_bytes", "Bytes of the newest snapshot.", g, func(s store.Stats) float64 { return float64(s.SnapshotBytes) }),
		d("snapshots_total", "Snapshots written.", c, func(s store.Stats) float64 { return float64(s.Snapshots) }),
		d("commits_total", "Transactions committed.", c, func(s store.Stats) float64 { return float64(s.Commits) }),
		d("commit_groups_total", "Log writes, each covering a group of transactions.", c, func(s store.Stats) float64 { return float64(s.Groups) }),
		d("fsyncs_total", "Fsyncs of the log.", c, func(s store.Stats) float64 { return float64(s.Fsyncs) }),
		d("fsync_seconds_total", "Time spent in fsync of the log.", c, func(s store.Stats) float64 { return s.FsyncSeconds }),
		d("write_errors_total", "Failed log writes or fsyncs.", c, func(s store.Stats) float64 { return float64(s.WriteErrors) }),
		d("degraded", "1 while the last log write failed and no later one has succeeded.", g, func(s store.Stats) float64 { return bool01(s.Degraded != nil) }),
		d("recovery_seconds", "Time the last start spent loading the data directory.", g, func(s store.Stats) float64 { return s.RecoveryDuration.Seconds() }),
		d("recovered_torn_bytes", "Bytes cut from a torn log tail at the last start.", g, func(s store.Stats) float64 { return float64(s.RecoveredTornBytes) }),
	}
}()

// readyDesc is exported even while loading.
var readyDesc = prometheus.NewDesc("kvserver_ready", "1 when the store is loaded and not degraded or shutting down.", nil, nil)

// Describe sends every descriptor.
func (sc *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- readyDesc
	for _, d := range statDescs {
		ch <- d.desc
	}
}

// Collect reads the store's statistics once and sends them.
func (sc *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ref := sc.s.store.Load()
	if ref == nil {
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, 0)
		return
	}
	st := ref.Stats()
	ready := st.Degraded == nil && !sc.s.stopping.Load()
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, bool01(ready))
	for _, d := range statDescs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.value(st))
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
