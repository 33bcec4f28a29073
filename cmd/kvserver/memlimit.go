package main

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// memoryHeadroom is added to the Go soft memory limit on top of twice the
// dataset limit; see memoryLimitFor.
const memoryHeadroom = 64 << 20

// memoryLimitFor is the Go runtime's soft memory limit for a dataset limit
// of maxMemory accounted bytes in a cgroup limited to cgroupLimit bytes (0 =
// none), or -1 for no limit.
//
// The accounted size counts keys, values and a fixed per-key overhead, but
// the heap also holds buntdb's tree nodes and item structs, the log's
// buffers and garbage the GC has not reclaimed yet. A limit of exactly
// maxMemory would have the GC run continuously once the dataset is full, so
// the runtime gets twice the dataset plus 64 MiB for itself, the HTTP
// buffers and in-flight bodies; the GC then works harder near that size
// instead of letting the heap double (GOGC=100).
//
// The runtime does not know about cgroup limits: a server whose heap may
// double would be OOM-killed long before the GC felt any pressure. So under
// a cgroup limit the soft limit is at most three quarters of it, leaving the
// rest for stacks, the runtime's own memory and fragmentation.
func memoryLimitFor(maxMemory, cgroupLimit int64) int64 {
	limit := int64(-1)
	if maxMemory > 0 && maxMemory <= (1<<62)/2 {
		limit = maxMemory*2 + memoryHeadroom
	}
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
// cgroup limit changes (a harness may move the running process into a
// cgroup, or an operator resize it). It returns a function that stops it.
func watchMemoryLimit(maxMemory int64, log *slog.Logger) (stop func()) {
	current := int64(-2)
	apply := func() {
		cg := cgroupMemoryLimit()
		limit := memoryLimitFor(maxMemory, cg)
		if limit == current {
			return
		}
		current = limit
		if limit < 0 {
			debug.SetMemoryLimit(1<<63 - 1)
			return
		}
		debug.SetMemoryLimit(limit)
		log.Info("go soft memory limit set", "bytes", limit, "max_memory", maxMemory, "cgroup_limit", cg)
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
