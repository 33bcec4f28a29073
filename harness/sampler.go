package harness

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/process"

	"github.com/kvchaos/kvchaos/harness/artifact"
	"github.com/kvchaos/kvchaos/harness/proc"
)

// PidSource gives the pid to sample; a *Target is one (its pid changes on
// restart, and the sampler follows it).
type PidSource interface {
	Pid() int
	Running() bool
}

// Sampler records a process's resources every interval into a time series:
// RSS, CPU % since the previous sample, threads, open fds and cumulative
// disk read/write bytes. When the pid leads a process group (a Target's
// server does), each figure is the sum over the group's live processes, so a
// wrapper script's server is measured too. Create one with StartSampler;
// Stop ends it.
type Sampler struct {
	src      PidSource
	clock    *Clock
	interval time.Duration

	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples []artifact.Sample
	procs   map[int]*process.Process // the sampled group's members, by pid
}

// StartSampler samples src every interval (default 100 ms) on clock.
func StartSampler(src PidSource, clock *Clock, interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	s := &Sampler{src: src, clock: clock, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *Sampler) run() {
	defer close(s.done)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		s.sample()
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// sample takes one sample. One process.Process is kept per pid so that
// Percent(0) measures the CPU used since the previous call (CPUPercent would
// be the average over the process's whole life). Open connections are not
// sampled: Connections() costs milliseconds a call.
func (s *Sampler) sample() {
	if !s.src.Running() {
		return
	}
	pids := proc.Members(s.src.Pid())
	s.mu.Lock()
	defer s.mu.Unlock()
	procs := make(map[int]*process.Process, len(pids))
	smp := artifact.Sample{T: s.clock.Now()}
	seen := false
	for _, pid := range pids {
		p, ok := s.procs[pid]
		if !ok {
			var err error
			if p, err = process.NewProcess(int32(pid)); err != nil {
				continue
			}
			_, _ = p.Percent(0) // prime the CPU counter
		}
		mem, err := p.MemoryInfo()
		if err != nil {
			continue // the process is gone
		}
		procs[pid], seen = p, true
		smp.RSS += mem.RSS
		cpu, _ := p.Percent(0)
		threads, _ := p.NumThreads()
		fds, _ := p.NumFDs()
		smp.CPUPercent += cpu
		smp.Threads += threads
		smp.FDs += fds
		if io, err := p.IOCounters(); err == nil {
			smp.ReadBytes += io.DiskReadBytes
			smp.WriteBytes += io.DiskWriteBytes
		}
	}
	s.procs = procs
	if seen {
		s.samples = append(s.samples, smp)
	}
}

// Stop ends sampling (taking one last sample) and returns the series.
func (s *Sampler) Stop() []artifact.Sample {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.Samples()
}

// Samples returns a copy of the series so far.
func (s *Sampler) Samples() []artifact.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]artifact.Sample(nil), s.samples...)
}

// PeakRSS is the highest RSS sampled since from (run-clock seconds).
func (s *Sampler) PeakRSS(from float64) uint64 {
	var peak uint64
	for _, smp := range s.Samples() {
		if smp.T >= from && smp.RSS > peak {
			peak = smp.RSS
		}
	}
	return peak
}

// PeakRSS is the kernel's high-water mark of a process's resident set
// (VmHWM in /proc/PID/status), in bytes: the true peak, which a sampler may
// miss between two samples. For a group leader (a Target's server) it is the
// sum over the group's live processes, so a wrapper script's server counts.
func PeakRSS(pid int) (uint64, error) {
	pids := proc.Members(pid)
	if len(pids) == 0 {
		return 0, fmt.Errorf("peak rss: process %d is not running", pid)
	}
	var sum uint64
	for _, p := range pids {
		hwm, err := vmHWM(p)
		if err != nil {
			return 0, err
		}
		sum += hwm
	}
	return sum, nil
}

// vmHWM reads one process's VmHWM, in bytes.
func vmHWM(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("peak rss: parse %q: %w", line, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("peak rss: no VmHWM for pid %d", pid)
}

// ResourceFigures summarises samples as report figures: peak and
// percentiles of RSS, CPU, threads and fds.
func ResourceFigures(samples []artifact.Sample) artifact.Figures {
	f := artifact.Figures{}
	if len(samples) == 0 {
		return f
	}
	rss := make([]float64, len(samples))
	cpu := make([]float64, len(samples))
	var threads, fds float64
	for i, s := range samples {
		rss[i], cpu[i] = float64(s.RSS), s.CPUPercent
		threads = max(threads, float64(s.Threads))
		fds = max(fds, float64(s.FDs))
	}
	f["rss_peak_bytes"] = Percentile(rss, 100)
	f["rss_p50_bytes"] = Percentile(rss, 50)
	f["rss_p99_bytes"] = Percentile(rss, 99)
	f["cpu_peak_percent"] = Percentile(cpu, 100)
	f["cpu_p50_percent"] = Percentile(cpu, 50)
	f["threads_peak"] = threads
	f["fds_peak"] = fds
	f["disk_write_bytes"] = float64(samples[len(samples)-1].WriteBytes)
	f["samples"] = float64(len(samples))
	return f
}

// Percentile returns the p-th percentile (0..100, nearest rank) of xs.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}
