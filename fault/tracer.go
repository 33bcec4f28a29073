package fault

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/harness/proc"
)

// tracer is strace attached to a running process for one fault window:
// what IOError and SlowSync share.
type tracer struct {
	name string // the fault's name, for errors
	pid  int
	cmd  *exec.Cmd
	out  string // strace's trace output (-o)
	done chan struct{}
}

// attachTracer starts `strace ARGS -o OUT -p PID` (a -p for each process of
// PID's group, see proc.Members), tagged with owner for Cleanup, and returns once
// strace says it attached to each (every thread, with -f), or an error and
// nothing left running.
func attachTracer(ctx context.Context, name, owner string, pid int, args []string) (*tracer, error) {
	if !proc.Alive(pid) {
		return nil, fmt.Errorf("%s: process %d is not running", name, pid)
	}
	out, err := os.CreateTemp("", "kvchaos-"+owner+"-*.trace")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out.Close()
	// Every process of the target's group (a wrapper's server too); -f in
	// args follows the children they start later.
	args = append(append([]string(nil), args...), "-o", out.Name())
	pids := proc.Members(pid)
	for _, p := range pids {
		args = append(args, "-p", strconv.Itoa(p))
	}
	// Not CommandContext: the tracer must outlive the caller's ctx until
	// the fault is healed.
	cmd := exec.Command("strace", args...)
	cmd.Env = append(os.Environ(), OwnerEnv+"="+owner)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.Remove(out.Name())
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		os.Remove(out.Name())
		return nil, fmt.Errorf("%s: start strace: %w", name, err)
	}
	t := &tracer{name: name, pid: pid, cmd: cmd, out: out.Name(), done: make(chan struct{})}
	attached := make(chan bool, 1)
	var msgs bytes.Buffer
	go func() {
		defer close(t.done)
		sc := bufio.NewScanner(stderr)
		sent, seen := false, 0
		for sc.Scan() {
			line := sc.Text()
			// One "Process N attached" line per -p.
			if !sent && strings.Contains(line, "attached") {
				if seen++; seen == len(pids) {
					attached <- true
					sent = true
				}
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
			return t, nil
		}
		err = fmt.Errorf("%s: strace did not attach to %d: %s", name, pid, strings.TrimSpace(msgs.String()))
	case <-ctx.Done():
		err = fmt.Errorf("%s: attach to %d: %w", name, pid, ctx.Err())
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("%s: strace did not attach to %d within 10s", name, pid)
	}
	_ = t.detach(nil)
	return nil, err
}

// detach stops strace: SIGINT makes it detach from every thread and exit
// (SIGKILL after 5 s; the kernel then detaches the tracee). A tracee left
// in the stopped state is continued. read, when set, gets the trace before
// it is removed.
func (t *tracer) detach(read func(trace *os.File)) error {
	_ = t.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-t.done:
	case <-time.After(5 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
	var err error
	for _, p := range proc.Members(t.pid) {
		if st, serr := ProcState(p); serr == nil && (st == "T" || st == "t") {
			if kerr := syscall.Kill(p, syscall.SIGCONT); kerr != nil {
				err = fmt.Errorf("%s: continue %d after detach: %w", t.name, p, kerr)
			}
		}
	}
	if f, rerr := os.Open(t.out); rerr == nil {
		if read != nil {
			read(f)
		}
		f.Close()
	}
	os.Remove(t.out)
	return err
}
