package main

import (
	"bufio"
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Parts of the Go soft memory limit derived from --max-memory; see
// memoryLimitFor.
const (
	// memoryFloor is what the runtime and the HTTP server get on top of the
	// dataset and the connections.
	memoryFloor = 16 << 20
	// memoryPerConn is what one open connection needs: its read and write
	// buffers, its goroutine's stack, the request in flight (measured: 256
	// connections writing 100 B values need 16 MiB more than a 1 MiB
	// dataset's limit to run at full speed).
	memoryPerConn = 64 << 10
	// defaultGCHeadroom is --gc-headroom's default: the percent of the
	// dataset limit the GC may leave as uncollected garbage once the
	// dataset is full.
	defaultGCHeadroom = 5
)

// memoryLimitFor is the Go runtime's soft memory limit for a dataset limit
// of maxMemory accounted bytes with conns open connections in a cgroup
// limited to cgroupLimit bytes (0 = none), or -1 for no limit.
//
// The accounted size tracks what the dataset takes in the heap (see
// store.KeyOverhead), but with the default GOGC=100 the GC lets the heap
// grow to twice the live heap before it collects, so a full dataset could
// take twice --max-memory in RSS. --max-memory is a promise about the
// process's memory, so the limit is the dataset limit plus headroom percent
// of it (--gc-headroom), 64 KiB per open connection and a 16 MiB floor:
// below that the GC paces as usual, and as the dataset fills up it collects
// more often instead of letting the heap double. The cost is GC CPU near
// the limit, which the runtime caps at about half the CPU (past that it lets
// the heap exceed the limit rather than stall); a larger headroom buys it
// back with memory. Without the per-connection part, 256 clients writing to
// a server with a small --max-memory kept the GC running: a quarter of the
// throughput.
//
// The runtime does not know about cgroup limits: a server whose heap may
// grow past the cgroup's would be OOM-killed long before the GC felt any
// pressure. So under a cgroup limit the soft limit is at most three quarters
// of it, leaving the rest for stacks, the runtime's own memory and
// fragmentation.
func memoryLimitFor(maxMemory int64, headroom int, conns, cgroupLimit int64) int64 {
	limit := int64(-1)
	if maxMemory > 0 && maxMemory <= 1<<52 {
		limit = maxMemory + maxMemory/100*int64(headroom) + maxMemory%100*int64(headroom)/100 +
			min(max(conns, 0), 1<<20)*memoryPerConn + memoryFloor
	}
	return capByCgroup(limit, cgroupLimit)
}

// capByCgroup lowers limit (-1 = none) to three quarters of cgroupLimit
// (0 = none) when that is smaller.
func capByCgroup(limit, cgroupLimit int64) int64 {
	if cgroupLimit > 0 {
		if c := cgroupLimit / 4 * 3; limit < 0 || c < limit {
			limit = c
		}
	}
	return limit
}

// cgroupMemoryLimit reads the memory limit of the cgroup this process is in
// (v2 memory.max, or v1 memory.limit_in_bytes), 0 when there is none.
func cgroupMemoryLimit() int64 {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	defer f.Close()
	var candidates []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			candidates = append(candidates,
				filepath.Join("/sys/fs/cgroup", parts[2], "memory.max"),
				filepath.Join("/sys/fs/cgroup/unified", parts[2], "memory.max"))
		case strings.Contains(","+parts[1]+",", ",memory,"):
			candidates = append(candidates, filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
		}
	}
	for _, path := range candidates {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil && n > 0 && n < 1<<62 {
			return n
		}
	}
	return 0
}

// cgroupPoll is how often the cgroup limit is read again: two small file
// reads, cheap enough to notice within a fraction of a second that a harness
// moved the running process into a memory-limited cgroup.
const cgroupPoll = 50 * time.Millisecond

// watchMemoryLimit sets the soft memory limit now and again whenever the
// cgroup limit or the number of open connections (conns) changes (a
// harness may move the running process into a cgroup, an operator resize
// it). It returns a function that stops it.
//
// A GOMEMLIMIT in the environment is the operator's choice (say, more room
// for the GC and less CPU spent on it at the limit): it replaces the rule
// derived from --max-memory, but is still capped at three quarters of a
// cgroup limit, which the runtime does not know about.
func watchMemoryLimit(maxMemory int64, headroom int, conns func() int64, log *slog.Logger) (stop func()) {
	operator := int64(-1)
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		operator = debug.SetMemoryLimit(-1) // what the runtime parsed from it
		log.Info("GOMEMLIMIT is set; it replaces the limit derived from --max-memory", "GOMEMLIMIT", v, "max_memory", maxMemory)
	}
	current, currentCgroup := int64(-2), int64(-1)
	apply := func() {
		cg := cgroupMemoryLimit()
		limit := memoryLimitFor(maxMemory, headroom, conns(), cg)
		if operator >= 0 {
			limit = capByCgroup(operator, cg)
		}
		if limit == current {
			return
		}
		current = limit
		if limit < 0 {
			debug.SetMemoryLimit(math.MaxInt64)
			return
		}
		debug.SetMemoryLimit(limit)
		// Connections come and go all the time: only the first limit and
		// a cgroup change are worth an info line.
		level := slog.LevelDebug
		if cg != currentCgroup {
			level, currentCgroup = slog.LevelInfo, cg
		}
		log.Log(context.Background(), level, "go soft memory limit set", "bytes", limit, "max_memory", maxMemory, "cgroup_limit", cg)
	}
	apply()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(cgroupPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				apply()
			}
		}
	}()
	return func() { close(done) }
}
