package fault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// IOError makes the running server's system calls fail with an errno for the
// fault window: strace attaches to every thread of the process (`strace -f -p
// PID -e inject=SYSCALL:error=ERRNO[:when=WHEN]`) and Heal detaches it, which
// leaves the process running as before (Heal also makes sure it is not left
// stopped). Syscalls defaults to fsync and fdatasync, Errno to EIO (ENOSPC,
// EDQUOT... also work); When is strace's `when=` expression ("1+" every call,
// the default; "3" the third only; "2+2" every other from the second).
// Needs the strace binary and ptrace rights (root).
type IOError struct {
	Syscalls []string
	Errno    string
	When     string

	mu       sync.Mutex
	pid      int
	cmd      *exec.Cmd
	out      string // strace's trace output, counted on Heal
	done     chan struct{}
	injected int
}

var (
	_ Injector = (*IOError)(nil)
	_ Healer   = (*IOError)(nil)
	_ Prober   = (*IOError)(nil)
)

// Name returns "ioerror".
func (*IOError) Name() string { return "ioerror" }

// Probe needs strace and root.
func (*IOError) Probe() error {
	if _, err := exec.LookPath("strace"); err != nil {
		return fmt.Errorf("no strace binary (apt-get install strace): %w", ErrUnsupported)
	}
	if !isRoot() {
		return fmt.Errorf("attach strace to the server: %w", errNotRoot)
	}
	return nil
}

func (e *IOError) spec() (calls, errno string) {
	calls = "fsync,fdatasync"
	if len(e.Syscalls) > 0 {
		calls = strings.Join(e.Syscalls, ",")
	}
	errno = "EIO"
	if e.Errno != "" {
		errno = e.Errno
	}
	return calls, errno
}

// Detail names the syscalls, errno and how many calls were failed.
func (e *IOError) Detail() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	calls, errno := e.spec()
	return fmt.Sprintf("%s -> %s (when=%s), %d calls failed", calls, errno, e.whenOr(), e.injected)
}

func (e *IOError) whenOr() string {
	if e.When == "" {
		return "1+"
	}
	return e.When
}

// Injected returns how many calls strace failed in the last window (known
// after Heal).
func (e *IOError) Injected() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.injected
}

// Inject attaches strace to t's process and returns once every thread is
// traced.
func (e *IOError) Inject(ctx context.Context, t Target) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil {
		return errors.New("ioerror: already injected")
	}
	pid := t.Pid()
	if !alive(pid) {
		return fmt.Errorf("ioerror: process %d is not running", pid)
	}
	calls, errno := e.spec()
	out, err := os.CreateTemp("", "kvchaos-ioerror-*.trace")
	if err != nil {
		return fmt.Errorf("ioerror: %w", err)
	}
	out.Close()
	inject := fmt.Sprintf("inject=%s:error=%s:when=%s", calls, errno, e.whenOr())
	// Not CommandContext: the tracer must outlive Inject's ctx until Heal.
	cmd := exec.Command("strace", "-f", "-p", fmt.Sprint(pid), "-e", "trace="+calls, "-e", inject, "-o", out.Name())
	cmd.Env = append(os.Environ(), OwnerEnv+"=ioerror")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.Remove(out.Name())
		return fmt.Errorf("ioerror: %w", err)
	}
	if err := cmd.Start(); err != nil {
		os.Remove(out.Name())
		return fmt.Errorf("ioerror: start strace: %w", err)
	}
	e.cmd, e.out, e.pid, e.injected = cmd, out.Name(), pid, 0
	e.done = make(chan struct{})
	attached := make(chan string, 1)
	var msgs bytes.Buffer
	go func() {
		defer close(e.done)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.Contains(line, "attached") {
				attached <- line
				sent = true
			} else if !sent {
				msgs.WriteString(line + "\n")
			}
		}
		_ = cmd.Wait()
		if !sent {
			attached <- ""
		}
	}()
	select {
	case line := <-attached:
		if line != "" {
			return nil
		}
		err = fmt.Errorf("ioerror: strace did not attach to %d: %s", pid, strings.TrimSpace(msgs.String()))
	case <-ctx.Done():
		err = fmt.Errorf("ioerror: attach to %d: %w", pid, ctx.Err())
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("ioerror: strace did not attach to %d within 10s", pid)
	}
	e.detach()
	return err
}

// Heal detaches strace: SIGINT makes it detach from every thread and exit
// (SIGKILL after 5 s; the kernel then detaches the tracee). A tracee left in
// the stopped state is continued.
func (e *IOError) Heal(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.detach()
}

func (e *IOError) detach() error {
	if e.cmd == nil {
		return nil
	}
	_ = e.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
	var err error
	if st, serr := ProcState(e.pid); serr == nil && (st == "T" || st == "t") {
		if kerr := syscall.Kill(e.pid, syscall.SIGCONT); kerr != nil {
			err = fmt.Errorf("ioerror: continue %d after detach: %w", e.pid, kerr)
		}
	}
	if b, rerr := os.ReadFile(e.out); rerr == nil {
		e.injected = bytes.Count(b, []byte("(INJECTED)"))
	}
	os.Remove(e.out)
	e.cmd, e.done = nil, nil
	return err
}
