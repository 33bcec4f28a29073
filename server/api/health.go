package api

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

// engineModule is the storage engine's module, whose version /version reports.
const engineModule = "github.com/tidwall/buntdb"

// statusResponse is the body of /healthz and of /readyz's 200.
type statusResponse struct {
	Status string `json:"status"`
}

// healthz answers 200 while the process serves.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, statusResponse{Status: "ok"})
}

// readyz answers 200 ready once the store is loaded, and 503 UNAVAILABLE —
// in the error envelope, like every non-2xx — while loading, shutting down,
// or degraded (the last log write failed), with details.status saying which.
func (s *Server) readyz(c echo.Context) error {
	ref := s.store.Load()
	notReady := func(status, reason string) error {
		return apiError(http.StatusServiceUnavailable, CodeUnavailable, reason, map[string]any{"status": status})
	}
	switch {
	case s.stopping.Load():
		return notReady("shutting_down", "the server is shutting down")
	case ref == nil:
		return notReady("loading", "the store is still loading")
	}
	if err := ref.Stats().Degraded; err != nil {
		return notReady("degraded", "degraded: "+err.Error())
	}
	return c.JSON(http.StatusOK, statusResponse{Status: "ready"})
}

// versionResponse is the body of /api/v1/version.
type versionResponse struct {
	Name          string          `json:"name"`
	Version       string          `json:"version"`
	APIVersions   []string        `json:"api_versions"`
	Commit        string          `json:"commit"`
	BuildTime     string          `json:"build_time"`
	GoVersion     string          `json:"go_version"`
	Platform      string          `json:"platform"`
	Storage       storageResponse `json:"storage"`
	StartedAt     string          `json:"started_at"`
	UptimeSeconds float64         `json:"uptime_seconds"`
}

type storageResponse struct {
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version"`
	Sync          string `json:"sync"`
}

// version describes the binary, its build and its storage engine.
func (s *Server) version(c echo.Context) error {
	b := s.cfg.Build
	return c.JSON(http.StatusOK, versionResponse{
		Name:        "kvserver",
		Version:     orUnknown(b.Version),
		APIVersions: []string{APIVersion},
		Commit:      orUnknown(b.Commit),
		BuildTime:   orUnknown(b.BuildTime),
		GoVersion:   runtime.Version(),
		Platform:    runtime.GOOS + "/" + runtime.GOARCH,
		Storage: storageResponse{
			Engine:        "buntdb",
			EngineVersion: orUnknown(moduleVersion(engineModule)),
			Sync:          orUnknown(string(s.cfg.Sync)),
		},
		StartedAt:     s.started.UTC().Format(time.RFC3339Nano),
		UptimeSeconds: time.Since(s.started).Seconds(),
	})
}

// moduleVersion returns the version of a module linked into the binary, or
// "" when the build info does not say.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range info.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
