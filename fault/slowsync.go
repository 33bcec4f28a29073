package fault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	pid     int
	cmd     *exec.Cmd
	out     string // strace's trace output, read on Heal
	done    chan struct{}
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
	if s.cmd != nil {
		return errors.New("slow-sync: already injected")
	}
	pid := t.Pid()
	if !alive(pid) {
		return fmt.Errorf("slow-sync: process %d is not running", pid)
	}
	out, err := os.CreateTemp("", "kvchaos-slowsync-*.trace")
	if err != nil {
		return fmt.Errorf("slow-sync: %w", err)
	}
	out.Close()
	args := append(s.straceArgs(), "-o", out.Name(), "-p", strconv.Itoa(pid))
	// Not CommandContext: the tracer must outlive Inject's ctx until Heal.
	cmd := exec.Command("strace", args...)
	cmd.Env = append(os.Environ(), OwnerEnv+"=slowsync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.Remove(out.Name())
		return fmt.Errorf("slow-sync: %w", err)
	}
	if err := cmd.Start(); err != nil {
		os.Remove(out.Name())
		return fmt.Errorf("slow-sync: start strace: %w", err)
	}
	s.cmd, s.out, s.pid, s.delayed, s.stalls = cmd, out.Name(), pid, 0, nil
	s.done = make(chan struct{})
	attached := make(chan bool, 1)
	var msgs bytes.Buffer
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.Contains(line, "attached") {
				attached <- true
				sent = true
			} else if !sent {
				msgs.WriteString(line + "\n")
			}
		}
		_ = cmd.Wait()
		if !sent {
			attached <- false
		}
	}()
	select {
	case ok := <-attached:
		if ok {
			return nil
		}
		err = fmt.Errorf("slow-sync: strace did not attach to %d: %s", pid, strings.TrimSpace(msgs.String()))
	case <-ctx.Done():
		err = fmt.Errorf("slow-sync: attach to %d: %w", pid, ctx.Err())
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("slow-sync: strace did not attach to %d within 10s", pid)
	}
	s.detach()
	return err
}

// Heal detaches strace: SIGINT makes it detach from every thread and exit
// (SIGKILL after 5 s; the kernel then detaches the tracee). A thread being
// held when strace detaches goes on at once. A tracee left in the stopped
// state is continued. Healing a process that died under the fault is fine:
// strace has exited by itself then.
func (s *SlowSync) Heal(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detach()
}

func (s *SlowSync) detach() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	var err error
	if st, serr := ProcState(s.pid); serr == nil && (st == "T" || st == "t") {
		if kerr := syscall.Kill(s.pid, syscall.SIGCONT); kerr != nil {
			err = fmt.Errorf("slow-sync: continue %d after detach: %w", s.pid, kerr)
		}
	}
	if f, rerr := os.Open(s.out); rerr == nil {
		s.stalls, s.delayed = parseStalls(f)
		f.Close()
	}
	os.Remove(s.out)
	s.cmd, s.done = nil, nil
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
