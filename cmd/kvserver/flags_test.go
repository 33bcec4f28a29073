package main

import (
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/server/store"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "64MiB", want: 64 << 20},
		{in: "64mib", want: 64 << 20},
		{in: "1GB", want: 1e9},
		{in: "1GiB", want: 1 << 30},
		{in: "512k", want: 512e3},
		{in: "10B", want: 10},
		{in: "2 MiB", want: 2 << 20},
		{in: "8388608TiB", wantErr: true}, // 2^63
		{in: "9223372036854775808", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1.5GiB", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "12XB", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBytes(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want && !tt.wantErr {
				t.Fatalf("parseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(c config) bool
		wantErr string
	}{
		{name: "defaults", args: []string{"--data-dir", "d"}, check: func(c config) bool {
			return c.Addr == "127.0.0.1:7379" && c.Sync == store.SyncAlways && c.Eviction == store.NoEviction &&
				c.MaxValueSize == 16<<20 && c.MaxBatchOps == 1000 && c.MaxTTL == 100*8766*time.Hour && c.MaxMemory == 0 && c.GCHeadroom == 5
		}},
		{name: "gc headroom", args: []string{"--data-dir", "d", "--gc-headroom", "25%"}, check: func(c config) bool { return c.GCHeadroom == 25 }},
		{name: "gc headroom from env", env: map[string]string{"KVSERVER_DATA_DIR": "e", "KVSERVER_GC_HEADROOM": "0"}, check: func(c config) bool { return c.GCHeadroom == 0 }},
		{name: "negative gc headroom", args: []string{"--gc-headroom", "-1"}, wantErr: "whole percent"},
		{name: "bad gc headroom", args: []string{"--gc-headroom", "some"}, wantErr: "whole percent"},
		{name: "all flags", args: []string{"--data-dir=d", "--addr=127.0.0.1:0", "--sync=everysec", "--max-memory=64MiB", "--eviction=lru",
			"--max-value-size=1MiB", "--max-body-size=2MiB", "--max-batch-ops=5", "--max-ttl=1h", "--auth-token=t", "--log-format=json",
			"--shutdown-timeout=3s"}, check: func(c config) bool {
			return c.Addr == "127.0.0.1:0" && c.Sync == store.SyncEverySec && c.MaxMemory == 64<<20 && c.Eviction == store.LRU &&
				c.MaxValueSize == 1<<20 && c.MaxBodySize == 2<<20 && c.MaxBatchOps == 5 && c.MaxTTL == time.Hour &&
				c.AuthToken == "t" && c.LogFormat == "json" && c.ShutdownTimeout == 3*time.Second
		}},
		{name: "env", env: map[string]string{"KVSERVER_DATA_DIR": "e", "KVSERVER_MAX_MEMORY": "1GB", "KVSERVER_SYNC": "never", "KVSERVER_MUTANT": "x"},
			check: func(c config) bool { return c.DataDir == "e" && c.MaxMemory == 1e9 && c.Sync == store.SyncNever }},
		{name: "flag beats env", args: []string{"--sync", "always"}, env: map[string]string{"KVSERVER_DATA_DIR": "e", "KVSERVER_SYNC": "never"},
			check: func(c config) bool { return c.Sync == store.SyncAlways }},
		{name: "single dash", args: []string{"-data-dir", "d", "-eviction", "lfu"}, check: func(c config) bool { return c.Eviction == store.LFU }},
		{name: "bad sync", args: []string{"--sync", "sometimes"}, wantErr: "sync policy"},
		{name: "bad env sync", env: map[string]string{"KVSERVER_SYNC": "sometimes"}, wantErr: "KVSERVER_SYNC"},
		{name: "bad eviction", args: []string{"--eviction", "random"}, wantErr: "eviction policy"},
		{name: "bad memory", args: []string{"--max-memory", "lots"}, wantErr: "not a size"},
		{name: "zero value size", args: []string{"--max-value-size", "0"}, wantErr: "greater than 0"},
		{name: "bad duration", args: []string{"--max-ttl", "forever"}, wantErr: "max-ttl"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "nope"},
		{name: "stray argument", args: []string{"--data-dir", "d", "serve"}, wantErr: "unexpected argument"},
		{name: "missing data dir", args: []string{}, wantErr: "--data-dir is required"},
		{name: "bad log format", args: []string{"--data-dir", "d", "--log-format", "xml"}, wantErr: "log-format"},
		{name: "bad log level", args: []string{"--data-dir", "d", "--log-level", "loud"}, wantErr: "log-level"},
		{name: "zero batch ops", args: []string{"--data-dir", "d", "--max-batch-ops", "0"}, wantErr: "max-batch-ops"},
		{name: "negative ttl", args: []string{"--data-dir", "d", "--max-ttl", "-1s"}, wantErr: "max-ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			fs := serveFlags(&c)
			err := parseArgs(fs, tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil {
				err = c.validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("config %+v, error %v", c, err)
			}
		})
	}
}

func TestMemoryLimitFor(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name          string
		maxMemory     int64
		headroom      int
		conns, cgroup int64
		want          int64
	}{
		{"unlimited", 0, 5, 0, 0, -1},
		{"unlimited with connections", 0, 5, 100, 0, -1},
		{"overflow", 1 << 62, 5, 0, 0, -1},
		{"dataset only", 100 * mib, 5, 0, 0, 121 * mib},
		{"256 connections", 100 * mib, 5, 256, 0, 137 * mib},
		{"negative connections count as none", 100 * mib, 5, -3, 0, 121 * mib},
		{"no headroom", 100 * mib, 0, 0, 0, 116 * mib},
		{"large headroom", 100 * mib, 1000, 0, 0, 1116 * mib},
		{"odd sizes round down", 199, 50, 0, 0, 199 + 99 + 16*mib},
		{"cgroup only", 0, 5, 0, 128 * mib, 96 * mib},
		{"cgroup tighter than the dataset rule", 120 * mib, 5, 0, 128 * mib, 96 * mib},
		{"dataset rule tighter than the cgroup", 48 * mib, 5, 0, 1024 * mib, 48*mib + 48*mib/20 + 16*mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := memoryLimitFor(tt.maxMemory, tt.headroom, tt.conns, tt.cgroup); got != tt.want {
				t.Fatalf("memoryLimitFor(%d, %d, %d, %d) = %d, want %d", tt.maxMemory, tt.headroom, tt.conns, tt.cgroup, got, tt.want)
			}
		})
	}
}

func TestGOMEMLIMITReplacesTheRule(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1) // the runtime parsed GOMEMLIMIT at start: here, none
	defer debug.SetMemoryLimit(before)
	stop := watchMemoryLimit(8<<20, 5, func() int64 { return 0 }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer stop()
	want := capByCgroup(before, cgroupMemoryLimit())
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Fatalf("soft memory limit %d with GOMEMLIMIT set, want the operator's %d (capped by the cgroup)", got, want)
	}
}

func TestCapByCgroup(t *testing.T) {
	for _, tt := range []struct{ limit, cgroup, want int64 }{
		{-1, 0, -1}, {100, 0, 100}, {-1, 400, 300}, {100, 400, 100}, {1000, 400, 300}, {math.MaxInt64, 400, 300},
	} {
		if got := capByCgroup(tt.limit, tt.cgroup); got != tt.want {
			t.Errorf("capByCgroup(%d, %d) = %d, want %d", tt.limit, tt.cgroup, got, tt.want)
		}
	}
}

func TestDebugServerServesProfiles(t *testing.T) {
	stop, addr, err := serveDebug("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("status %d, body %.200q", resp.StatusCode, body)
	}
	// The command line holds --auth-token: not served.
	resp, err = http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/debug/pprof/cmdline: status %d, want 404", resp.StatusCode)
	}
	if _, _, err := serveDebug(addr, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "--debug-addr") {
		t.Fatalf("an address in use: error %v", err)
	}
}
