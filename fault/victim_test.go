package fault

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// victim is a small process faults act on in tests.
type victim struct {
	cmd   *exec.Cmd
	dir   string
	done  chan struct{}
	state *os.ProcessState
	lines chan string // its stdout, line by line
	stdin io.WriteCloser
}

func (v *victim) Pid() int        { return v.cmd.Process.Pid }
func (v *victim) DataDir() string { return v.dir }

// startVictim runs name args with OwnerEnv set to "faulttest" and kills it at
// the end of the test.
func startVictim(t *testing.T, dir string, name string, args ...string) *victim {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), OwnerEnv+"=faulttest")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	v := &victim{cmd: cmd, dir: dir, done: make(chan struct{}), lines: make(chan string, 1000), stdin: in}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case v.lines <- sc.Text():
			default:
			}
		}
		_ = cmd.Wait()
		v.state = cmd.ProcessState
		close(v.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-v.done
	})
	return v
}

// wait waits for the victim to exit and returns its wait status.
func (v *victim) wait(t *testing.T, d time.Duration) syscall.WaitStatus {
	t.Helper()
	select {
	case <-v.done:
		return v.state.Sys().(syscall.WaitStatus)
	case <-time.After(d):
		t.Fatalf("victim %d did not exit within %s", v.Pid(), d)
		return 0
	}
}

// waitLine waits for a stdout line equal to want.
func (v *victim) waitLine(t *testing.T, want string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-v.lines:
			if l == want {
				return
			}
		case <-deadline:
			t.Fatalf("victim printed no %q within %s", want, d)
		}
	}
}

// drain empties the buffered lines.
func (v *victim) drain() {
	for {
		select {
		case <-v.lines:
		default:
			return
		}
	}
}

// clock is a Recorder for tests.
type clock struct {
	mu     sync.Mutex
	start  time.Time
	events []artifact.FaultEvent
}

func newClock() *clock { return &clock{start: time.Now()} }

func (c *clock) Now() float64 { return time.Since(c.start).Seconds() }

func (c *clock) RecordFault(e artifact.FaultEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func (c *clock) Events() []artifact.FaultEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]artifact.FaultEvent(nil), c.events...)
}

// skipUnsupported skips the test with the probe's reason.
func skipUnsupported(t *testing.T, inj Injector) {
	t.Helper()
	if err := Probe(inj); err != nil {
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("probe error does not wrap ErrUnsupported: %v", err)
		}
		t.Skip(err)
	}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
