// Command kvserver is kvchaos's bundled system under test: an HTTP
// key-value server (the v1 API of package api) on a durable store (package
// store). `kvserver --data-dir DIR` serves; `kvserver check --data-dir DIR`
// and `kvserver repair --data-dir DIR` inspect and mend a data directory.
//
// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT) or a clean check; 1
// when the store cannot be opened or closed, the check finds damage, or a
// second signal cut the shutdown short; 2 for bad flags.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/server/api"
)

// Build metadata, set by the Makefile with -ldflags '-X main.version=...'.
var (
	version   string
	commit    string
	buildTime string
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, sigs))
}

// run is main with its dependencies passed in; it returns the exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	if len(args) > 0 && (args[0] == "check" || args[0] == "repair") {
		return runTool(args[0], args[1:], getenv, stdout, stderr)
	}
	var cfg config
	fs := serveFlags(&cfg)
	if err := parseArgs(fs, args, getenv, stdout); err != nil {
		if err == errHelp {
			return 0
		}
		return usageError(stderr, err)
	}
	if err := cfg.validate(); err != nil {
		return usageError(stderr, err)
	}
	logger, err := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	if err != nil {
		return usageError(stderr, err)
	}
	return serve(cfg, logger, stdout, stderr, sigs)
}

// usageError prints one line about a bad flag and returns exit code 2.
func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "kvserver: %s (see kvserver -h)\n", oneLine(err.Error()))
	return 2
}

// fatal prints one line about a failure and returns exit code 1.
func fatal(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "kvserver: %s\n", oneLine(fmt.Sprintf(format, args...)))
	return 1
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// parseLevel parses a slog level name.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger returns a slog logger writing format (json or text) to w.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	l, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// buildInfo returns the -ldflags metadata, filled in from the module and
// VCS information Go embeds when the flags were not set.
func buildInfo() api.Build {
	b := api.Build{Version: version, Commit: commit, BuildTime: buildTime}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && b.Commit == "":
			b.Commit = s.Value
		case s.Key == "vcs.time" && b.BuildTime == "":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				b.BuildTime = t.UTC().Format(time.RFC3339)
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}
