package fault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
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
	tr       *tracer // while injected; its trace is counted on Heal
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
	if e.tr != nil {
		return errors.New("ioerror: already injected")
	}
	calls, errno := e.spec()
	inject := fmt.Sprintf("inject=%s:error=%s:when=%s", calls, errno, e.whenOr())
	tr, err := attachTracer(ctx, "ioerror", "ioerror", t.Pid(), []string{"-f", "-e", "trace=" + calls, "-e", inject})
	if err != nil {
		return err
	}
	e.tr, e.injected = tr, 0
	return nil
}

// Heal detaches strace: SIGINT makes it detach from every thread and exit
// (SIGKILL after 5 s; the kernel then detaches the tracee). A tracee left in
// the stopped state is continued.
func (e *IOError) Heal(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tr == nil {
		return nil
	}
	err := e.tr.detach(func(trace *os.File) {
		b, _ := io.ReadAll(trace)
		e.injected = bytes.Count(b, []byte("(INJECTED)"))
	})
	e.tr = nil
	return err
}
