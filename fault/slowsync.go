package fault

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SlowSync makes the server's fsyncs slow for the fault window, like a disk
// whose cache flush takes milliseconds (a cloud block device, a SATA SSD
// honouring flushes, a spinning disk; Chaos Mesh's IOChaos latency): strace
// holds every thread that returns from one of Syscalls for Delay before it
// continues (`strace -f -p PID -e inject=SYSCALLS:delay_exit=DELAY`). Heal
// detaches it and leaves the process running as before. Syscalls defaults
// to fsync, fdatasync and sync_file_range, Delay to 20 ms.
//
// Attached to a running process, strace stops the tracee on every system
// call, not only the delayed ones, so everything the server does gets
// slower; that suits a chaos spec, not a benchmark. For a benchmark, Wrap
// starts the server under strace with a seccomp filter instead, so that
// only the delayed calls stop. Needs the strace binary; attaching also
// needs ptrace rights (root).
type SlowSync struct {
	Delay    time.Duration
	Syscalls []string

	mu      sync.Mutex
	tr      *tracer // while injected; its trace is read on Heal
	delayed int
	stalls  []Stall
}

// Stall is one delayed call: the thread that made it was held in it from
// Start (the call's entry, on the wall clock) for at least the delay.
type Stall struct {
	Thread  int
	Syscall string
	Start   time.Time
}

var (
	_ Injector = (*SlowSync)(nil)
	_ Healer   = (*SlowSync)(nil)
	_ Prober   = (*SlowSync)(nil)
	_ Detailer = (*SlowSync)(nil)
)

// Name returns "slow-sync".
func (*SlowSync) Name() string { return "slow-sync" }

// Probe needs strace and root (to attach to a running process).
func (*SlowSync) Probe() error {
	if err := haveStrace(); err != nil {
		return err
	}
	if !isRoot() {
		return fmt.Errorf("attach strace to the server: %w", errNotRoot)
	}
	return nil
}

func haveStrace() error {
	if _, err := exec.LookPath("strace"); err != nil {
		return fmt.Errorf("no strace binary (apt-get install strace): %w", ErrUnsupported)
	}
	return nil
}

func (s *SlowSync) calls() string {
	if len(s.Syscalls) > 0 {
		return strings.Join(s.Syscalls, ",")
	}
	return "fsync,fdatasync,sync_file_range"
}

// DelayOrDefault is Delay, or 20 ms when Delay is zero.
func (s *SlowSync) DelayOrDefault() time.Duration {
	if s.Delay > 0 {
		return s.Delay
	}
	return 20 * time.Millisecond
}

// straceArgs are the options both modes share: trace and delay the calls,
// no signal lines, wall-clock timestamps of each call's entry.
func (s *SlowSync) straceArgs() []string {
	calls := s.calls()
	return []string{"-f", "-ttt", "-e", "trace=" + calls, "-e", "signal=none",
		"-e", fmt.Sprintf("inject=%s:delay_exit=%dus", calls, s.DelayOrDefault().Microseconds())}
}

// Wrap returns argv prefixed with the strace command that runs it with the
// fault on from its first instruction: a seccomp filter makes only the
// delayed calls stop, so the rest of the process runs at full speed (the
// launch mode, for benchmarks). The returned command's pid is strace's: a
// signal to its process group reaches both, and strace exits with the
// server's status. It needs strace but not root.
func (s *SlowSync) Wrap(argv ...string) ([]string, error) {
	if err := haveStrace(); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, errors.New("slow-sync: nothing to wrap")
	}
	out := append([]string{"strace", "--seccomp-bpf", "-qq"}, s.straceArgs()...)
	out = append(out, "-o", os.DevNull, "--")
	return append(out, argv...), nil
}

// Detail names the calls, the delay and how many calls were delayed.
func (s *SlowSync) Detail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%s +%s each, %d calls delayed", s.calls(), s.DelayOrDefault(), s.delayed)
}

// Delayed returns how many calls strace delayed in the last window (known
// after Heal).
func (s *SlowSync) Delayed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delayed
}

// Stalls returns the delayed calls of the last window in trace order (known
// after Heal).
func (s *SlowSync) Stalls() []Stall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Stall(nil), s.stalls...)
}

// Inject attaches strace to t's process and returns once every thread is
// traced.
func (s *SlowSync) Inject(ctx context.Context, t Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tr != nil {
		return errors.New("slow-sync: already injected")
	}
	tr, err := attachTracer(ctx, "slow-sync", "slowsync", t.Pid(), s.straceArgs())
	if err != nil {
		return err
	}
	s.tr, s.delayed, s.stalls = tr, 0, nil
	return nil
}

// Heal detaches strace: SIGINT makes it detach from every thread and exit
// (SIGKILL after 5 s; the kernel then detaches the tracee). A thread being
// held when strace detaches goes on at once. A tracee left in the stopped
// state is continued. Healing a process that died under the fault is fine:
// strace has exited by itself then.
func (s *SlowSync) Heal(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tr == nil {
		return nil
	}
	err := s.tr.detach(func(trace *os.File) { s.stalls, s.delayed = parseStalls(trace) })
	s.tr = nil
	return err
}

// parseStalls reads a `strace -f -ttt` trace: lines "TID SECS.USEC
// name(args) = R (DELAYED)", or a call split by another thread's line into
// "TID SECS.USEC name(args <unfinished ...>" and later "TID SECS.USEC <...
// name resumed>) = R (DELAYED)". A stall starts at the call's entry.
func parseStalls(f *os.File) (stalls []Stall, delayed int) {
	pending := map[int]Stall{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		tids, line, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		stamp, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		tid, err1 := strconv.Atoi(tids)
		start, err2 := parseStamp(stamp)
		if err1 != nil || err2 != nil {
			continue
		}
		rest = strings.TrimSpace(rest)
		isDelayed := strings.HasSuffix(rest, "(DELAYED)")
		if isDelayed {
			delayed++
		}
		if strings.HasPrefix(rest, "<...") {
			if st, ok := pending[tid]; ok && isDelayed {
				stalls = append(stalls, st)
			}
			delete(pending, tid)
			continue
		}
		name, _, ok := strings.Cut(rest, "(")
		if !ok {
			continue
		}
		st := Stall{Thread: tid, Syscall: name, Start: start}
		switch {
		case strings.HasSuffix(rest, "<unfinished ...>"):
			pending[tid] = st
		case isDelayed:
			stalls = append(stalls, st)
		}
	}
	return stalls, delayed
}

// parseStamp reads strace's -ttt timestamp "SECS.USEC" exactly.
func parseStamp(s string) (time.Time, error) {
	secs, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var nsec int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if nsec, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, err
		}
	}
	return time.Unix(sec, nsec), nil
}
