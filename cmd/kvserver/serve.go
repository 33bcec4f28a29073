package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/kvchaos/kvchaos/server/api"
	"github.com/kvchaos/kvchaos/server/store"
)

// serve runs the server until a signal: it binds the listener first (the
// KV routes and /readyz answer 503 while the store loads), opens the store,
// prints the listening line, and on SIGTERM/SIGINT drains in-flight
// requests for up to cfg.ShutdownTimeout and closes the store. A second
// signal exits at once.
func serve(cfg config, log *slog.Logger, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	var conns atomic.Int64 // open connections, for the memory limit
	stopWatch := watchMemoryLimit(cfg.MaxMemory, cfg.GCHeadroom, conns.Load, log)
	defer stopWatch()
	if cfg.DebugAddr != "" {
		stopDebug, _, err := serveDebug(cfg.DebugAddr, log)
		if err != nil {
			return fatal(stderr, "%v", err)
		}
		defer stopDebug()
	}
	srv := api.New(api.Config{
		MaxValueSize: cfg.MaxValueSize, MaxBodySize: cfg.MaxBodySize, MaxBatchOps: cfg.MaxBatchOps,
		MaxTTL: cfg.MaxTTL, AuthToken: cfg.AuthToken, Sync: cfg.Sync, Build: buildInfo(), Logger: log,
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fatal(stderr, "listen on %s: %v", cfg.Addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				conns.Add(-1)
			}
		},
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	type opened struct {
		st  *store.Store
		err error
	}
	openc := make(chan opened, 1)
	start := time.Now()
	go func() {
		st, err := store.Open(store.Options{
			Dir: cfg.DataDir, Sync: cfg.Sync, MaxMemory: cfg.MaxMemory, Eviction: cfg.Eviction,
			MaxGroup: cfg.GroupCommitMax, CompactMinBytes: cfg.SnapshotMinLog,
			Logger: log.With("component", "store"),
		})
		openc <- opened{st, err}
	}()

	var st *store.Store
	select {
	case o := <-openc:
		if o.err != nil {
			_ = hs.Close()
			return fatal(stderr, "open data dir %s: %v", cfg.DataDir, o.err)
		}
		st = o.st
	case sig := <-sigs:
		// A signal while loading: stop serving, let the load finish (it
		// cannot be interrupted), close the store cleanly.
		log.Info("signal while loading; stopping", "signal", sig.String())
		srv.SetShuttingDown()
		_ = hs.Close()
		select {
		case o := <-openc:
			if o.err == nil {
				if err := o.st.Close(); err != nil {
					return fatal(stderr, "close store: %v", err)
				}
			}
			return 0
		case sig := <-sigs:
			log.Warn("second signal; exiting without closing the store", "signal", sig.String())
			return 1
		}
	case err := <-served:
		return fatal(stderr, "serve: %v", err)
	}

	srv.SetStore(st)
	log.Info("ready", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "sync", cfg.Sync,
		"max_memory", cfg.MaxMemory, "eviction", cfg.Eviction, "load_seconds", time.Since(start).Seconds())
	fmt.Fprintf(stdout, "kvserver listening on http://%s\n", ln.Addr())

	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String(), "timeout", cfg.ShutdownTimeout)
	case err := <-served:
		_ = st.Close()
		return fatal(stderr, "serve: %v", err)
	}
	srv.SetShuttingDown()
	done := make(chan int, 1)
	go func() { done <- shutdown(cfg, log, stderr, hs, st) }()
	select {
	case code := <-done:
		return code
	case sig := <-sigs:
		log.Warn("second signal; exiting without finishing in-flight requests or closing the store", "signal", sig.String())
		return 1
	}
}

// shutdown stops accepting, waits for in-flight requests up to the timeout
// (then cuts them off), and syncs and closes the store.
func shutdown(cfg config, log *slog.Logger, stderr io.Writer, hs *http.Server, st *store.Store) int {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("in-flight requests cut off at the shutdown timeout", "err", err)
		_ = hs.Close()
	}
	if err := st.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		return fatal(stderr, "close store: %v", err)
	}
	log.Info("stopped")
	return 0
}
