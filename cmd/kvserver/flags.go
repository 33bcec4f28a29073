package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kvchaos/kvchaos/server/api"
	"github.com/kvchaos/kvchaos/server/store"
)

// maxBodyLimit caps --max-value-size and --max-body-size.
const maxBodyLimit = 512 << 20

// envPrefix prefixes the environment variable of every flag:
// --max-memory is also KVSERVER_MAX_MEMORY.
const envPrefix = "KVSERVER_"

// config is everything the flags set.
type config struct {
	Addr              string
	DataDir           string
	Sync              store.SyncPolicy
	MaxMemory         int64
	GCHeadroom        int
	Eviction          store.EvictionPolicy
	MaxValueSize      int64
	MaxBodySize       int64
	MaxBatchOps       int
	MaxTTL            time.Duration
	AuthToken         string
	LogFormat         string
	LogLevel          string
	ShutdownTimeout   time.Duration
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	GroupCommitMax    int
	SnapshotMinLog    int64
	DebugAddr         string
}

// errHelp is returned when -h or --help was asked for; usage went to stdout.
var errHelp = flag.ErrHelp

// serveFlags defines the server's flags on a new FlagSet filling c.
func serveFlags(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("kvserver", flag.ContinueOnError)
	*c = config{
		Addr: "127.0.0.1:7379", Sync: store.SyncAlways, Eviction: store.NoEviction,
		MaxValueSize: api.DefaultMaxValueSize, MaxBodySize: api.DefaultMaxBodySize,
		MaxBatchOps: api.DefaultMaxBatchOps, MaxTTL: api.DefaultMaxTTL,
		LogFormat: "text", LogLevel: "info", ShutdownTimeout: 10 * time.Second,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute,
		GroupCommitMax: 1024, SnapshotMinLog: 64 << 20, GCHeadroom: defaultGCHeadroom,
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address host:port (port 0 picks a free one)")
	fs.StringVar(&c.DataDir, "data-dir", "", "data directory (required; created if missing)")
	fs.Func("sync", "when a write is durable: always (fsync before the reply), everysec (may lose ~1s on power loss), never (the OS decides) (default always)", func(s string) (err error) {
		c.Sync, err = store.ParseSyncPolicy(s)
		return err
	})
	fs.Func("max-memory", "limit of the accounted dataset (keys + values + per-key overhead), bytes with optional unit (64MiB, 1GB); 0 = unlimited", func(s string) (err error) {
		c.MaxMemory, err = parseBytes(s)
		return err
	})
	fs.Func("gc-headroom", "with --max-memory: percent of it the Go GC may use on top of the dataset, so RSS stays near --max-memory + this; more trades memory for fewer GCs and faster writes when full, 0-1000 (default 5)", func(s string) error {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
		if err != nil || n < 0 || n > 1000 {
			return errors.New("must be a whole percent from 0 to 1000")
		}
		c.GCHeadroom = n
		return nil
	})
	fs.Func("eviction", "at --max-memory: noeviction (reject writes with 507), lru or lfu (default noeviction)", func(s string) (err error) {
		c.Eviction, err = store.ParseEvictionPolicy(s)
		return err
	})
	fs.Func("max-value-size", "largest PUT body, bytes with optional unit (default 16MiB)", positiveBytes(&c.MaxValueSize))
	fs.Func("max-body-size", "largest other request body (a batch), bytes with optional unit (default 32MiB)", positiveBytes(&c.MaxBodySize))
	fs.IntVar(&c.MaxBatchOps, "max-batch-ops", c.MaxBatchOps, "most ops in one batch")
	fs.DurationVar(&c.MaxTTL, "max-ttl", c.MaxTTL, "longest TTL accepted")
	fs.StringVar(&c.AuthToken, "auth-token", "", "bearer token required on every route but /healthz (empty = no auth)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format on stderr: json or text")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long SIGTERM waits for in-flight requests")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "time a client has to send the request headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "time a client has to send the whole request, body included")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "time from the end of the request headers to the end of the response, so a client that stops reading cannot hold a handler")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.GroupCommitMax, "group-commit-max", c.GroupCommitMax, "most transactions sharing one log write and fsync (1 turns group commit off, for measuring it)")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "address for Go's profiler (/debug/pprof/) on a listener of its own, e.g. 127.0.0.1:6060 (empty = off)")
	fs.Func("snapshot-min-log", "log size below which no snapshot (compaction) is taken, bytes with optional unit (default 64MiB); a snapshot is taken when the log is larger than this and than twice the dataset", positiveBytes(&c.SnapshotMinLog))
	return fs
}

// positiveBytes parses a byte size that must be > 0.
func positiveBytes(dst *int64) func(string) error {
	return func(s string) error {
		n, err := parseBytes(s)
		if err == nil && n == 0 {
			err = errors.New("must be greater than 0")
		}
		*dst = n
		return err
	}
}

// parseArgs fills a config from the environment (KVSERVER_<NAME>) and then
// the arguments, which win. It returns errHelp when help was asked for,
// after printing the usage to stdout.
func parseArgs(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("invalid value %q for %s: %w", v, name, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "Usage: kvserver [flags]\n       kvserver check|repair --data-dir DIR\n\nEvery flag can also be set as %s<NAME> (e.g. KVSERVER_DATA_DIR).\n\n", envPrefix)
			fs.PrintDefaults()
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// validate checks what the flags cannot check one at a time.
func (c *config) validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("--data-dir is required")
	case c.MaxBatchOps < 1:
		return errors.New("--max-batch-ops must be at least 1")
	case c.GroupCommitMax < 1:
		return errors.New("--group-commit-max must be at least 1")
	case c.MaxValueSize > maxBodyLimit || c.MaxBodySize > maxBodyLimit:
		// One transaction is one log record, and a record carries at most
		// 1 GiB (wal.MaxPayload): a larger one could not be read back.
		return fmt.Errorf("--max-value-size and --max-body-size must be at most %d bytes (512MiB)", maxBodyLimit)
	case c.MaxTTL <= 0:
		return errors.New("--max-ttl must be positive")
	case c.LogFormat != "json" && c.LogFormat != "text":
		return fmt.Errorf("--log-format %q: want json or text", c.LogFormat)
	case c.ShutdownTimeout < 0:
		return errors.New("--shutdown-timeout must not be negative")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	return nil
}

// byteUnits are the accepted size suffixes, lower-cased.
var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "tib": 1 << 40,
}

// parseBytes parses a whole number of bytes with an optional unit: 1048576,
// 64MiB, 1GB (10^9), 512k. Units are case-insensitive.
func parseBytes(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := byteUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%q is not a size (want bytes like 1048576, 64MiB or 1GB)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}
