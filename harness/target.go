package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/harness/proc"
)

// listeningPrefix starts the one line a kvserver-compatible binary prints on
// stdout once it serves: "kvserver listening on http://HOST:PORT".
const listeningPrefix = "kvserver listening on "

// Errors of the process verbs.
var (
	// ErrNotRunning: the verb needs a running process and there is none.
	ErrNotRunning = errors.New("server not running")
	// ErrRunning: Start was called while the process still runs.
	ErrRunning = errors.New("server already running")
	// ErrExitedEarly: the process exited before it was ready.
	ErrExitedEarly = errors.New("server exited before it was ready")
)

// TargetConfig says how to run a server. The zero value of each field picks
// the default named on it; Bin is required.
type TargetConfig struct {
	// Bin is the server binary.
	Bin string
	// Args are extra arguments (e.g. "--sync", "never"). The harness adds
	// "--addr 127.0.0.1:0" unless Args has --addr, and "--data-dir DIR".
	Args []string
	// Env is added to the harness's own environment (KEY=VALUE).
	Env []string
	// DataDir is the server's data dir. Empty: a new temp dir, removed by
	// Cleanup unless Keep.
	DataDir string
	// Host is the interface to listen on; default 127.0.0.1.
	Host string
	// Log, when set, receives every line of stdout and stderr (a per-spec
	// log file, GinkgoWriter). Lines from stderr start with "stderr| ".
	Log io.Writer
	// StartTimeout bounds Start (listening line and /readyz); default 30s.
	StartTimeout time.Duration
	// StopTimeout bounds Stop's wait for exit after SIGTERM; default 20s.
	StopTimeout time.Duration
	// AfterStart runs right after the process is created, before the
	// harness waits for it to be ready (a cgroup injector places the pid).
	// An error kills the process and fails Start.
	AfterStart func(pid int) error
	// AuthToken, when set, is sent by the target's clients and /readyz
	// probes as a bearer token.
	AuthToken string
	// Transport, when set, carries every request of the target's clients
	// (e.g. a contract.Transport that validates each response).
	Transport http.RoundTripper
	// Clock is the run clock; default a new one.
	Clock *Clock
	// History receives the operations of the target's clients; default a
	// new one.
	History *History
	// Keep keeps a temp data dir at Cleanup.
	Keep bool
}

// Target is one server process: its binary, args, env, address, data dir and
// logs, with the verbs a chaos test needs. A Target survives restarts: the
// data dir, args and logs stay, the process, pid and address change. Methods
// are safe for concurrent use. Create one with NewTarget.
type Target struct {
	cfg     TargetConfig
	ownsDir bool
	logs    *logBuffer
	http    *http.Client

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process has been reaped
	addr     string
	state    *os.ProcessState
	lastArgs []string
	starts   int
	clients  int
}

// NewTarget prepares a target; nothing runs until Start.
func NewTarget(cfg TargetConfig) (*Target, error) {
	if cfg.Bin == "" {
		return nil, errors.New("new target: no server binary")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 20 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = NewClock()
	}
	if cfg.History == nil {
		cfg.History = NewHistory(cfg.Clock)
	}
	t := &Target{cfg: cfg, logs: newLogBuffer(4000, cfg.Log), http: &http.Client{Timeout: 2 * time.Second}}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "kvchaos-data-")
		if err != nil {
			return nil, fmt.Errorf("new target: %w", err)
		}
		t.cfg.DataDir = dir
		t.ownsDir = true
	}
	return t, nil
}

// SetDataDir changes the data dir for the next start (a fault injector that
// mounts a filesystem elsewhere). The target no longer removes its temp dir.
func (t *Target) SetDataDir(dir string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ownsDir {
		_ = os.RemoveAll(t.cfg.DataDir)
		t.ownsDir = false
	}
	t.cfg.DataDir = dir
}

// SetArgs replaces the extra arguments for the next start.
func (t *Target) SetArgs(args ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.Args = append([]string(nil), args...)
}

// SetAfterStart replaces the hook run right after each process start.
func (t *Target) SetAfterStart(hook func(pid int) error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.AfterStart = hook
}

// Bin is the server binary.
func (t *Target) Bin() string { return t.cfg.Bin }

// DataDir is the server's data dir.
func (t *Target) DataDir() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg.DataDir
}

// Clock is the target's run clock.
func (t *Target) Clock() *Clock { return t.cfg.Clock }

// History is where the target's clients record.
func (t *Target) History() *History { return t.cfg.History }

// Args are the full arguments of the last start (nil before the first).
func (t *Target) Args() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lastArgs...)
}

// Starts counts the processes started so far.
func (t *Target) Starts() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.starts
}

// Start runs the server and returns once it printed its listening line and
// /readyz answered 200, or with an error (and the process killed) when the
// context or StartTimeout ends first, or the process exits.
func (t *Target) Start(ctx context.Context) error {
	t.mu.Lock()
	if t.cmd != nil && !isDone(t.done) {
		t.mu.Unlock()
		return ErrRunning
	}
	args := append([]string(nil), t.cfg.Args...)
	if !hasFlag(args, "--addr") {
		args = append(args, "--addr", t.cfg.Host+":0")
	}
	if !hasFlag(args, "--data-dir") {
		args = append(args, "--data-dir", t.cfg.DataDir)
	}
	cmd := exec.Command(t.cfg.Bin, args...)
	cmd.Env = append(os.Environ(), t.cfg.Env...)
	// The server dies with the harness, even when the harness is killed
	// (Pdeathsig), and gets its own process group so that signals reach a
	// server behind a wrapper (a script, a proxy) too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	// Our own pipes, not StdoutPipe: a child of the server (behind a
	// wrapper) may hold them open after the server died, and the harness
	// must not wait for it forever.
	outR, outW, err := os.Pipe()
	if err != nil {
		t.mu.Unlock()
		return fmt.Errorf("start: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.mu.Unlock()
		_ = outR.Close()
		_ = outW.Close()
		return fmt.Errorf("start: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	_ = outW.Close()
	_ = errW.Close()
	if err != nil {
		t.mu.Unlock()
		_ = outR.Close()
		_ = errR.Close()
		return fmt.Errorf("start %s: %w", t.cfg.Bin, err)
	}
	done := make(chan struct{})
	t.cmd, t.done, t.addr, t.state, t.lastArgs = cmd, done, "", nil, args
	t.starts++
	hook := t.cfg.AfterStart
	t.mu.Unlock()

	t.logs.add(fmt.Sprintf("harness| started pid %d: %s %s", cmd.Process.Pid, t.cfg.Bin, strings.Join(args, " ")))
	addrCh := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		t.logs.scan(outR, "", func(line string) {
			if rest, ok := strings.CutPrefix(line, listeningPrefix); ok {
				select {
				case addrCh <- strings.TrimSpace(rest):
				default:
				}
			}
		})
	}()
	go func() {
		defer pipes.Done()
		t.logs.scan(errR, "stderr| ", nil)
	}()
	go func() {
		_ = cmd.Wait()
		// Read the output to its end, but not for ever: a leftover child
		// may keep the pipes open.
		read := make(chan struct{})
		go func() { pipes.Wait(); close(read) }()
		select {
		case <-read:
		case <-time.After(2 * time.Second):
		}
		_ = outR.Close()
		_ = errR.Close()
		t.mu.Lock()
		t.state = cmd.ProcessState
		t.mu.Unlock()
		t.logs.add("harness| pid " + fmt.Sprint(cmd.Process.Pid) + " " + describeExit(cmd.ProcessState))
		close(done)
	}()

	if hook != nil {
		if err := hook(cmd.Process.Pid); err != nil {
			_ = t.Kill()
			return fmt.Errorf("start: after-start hook: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StartTimeout)
	defer cancel()
	select {
	case url := <-addrCh:
		t.mu.Lock()
		t.addr = strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
		t.mu.Unlock()
	case <-done:
		return fmt.Errorf("start: %w (%s); log tail:\n%s", ErrExitedEarly, t.ExitDescription(), t.LogTail(20))
	case <-ctx.Done():
		_ = t.Kill()
		return fmt.Errorf("start: no %q line: %w; log tail:\n%s", listeningPrefix, ctx.Err(), t.LogTail(20))
	}
	if err := t.waitReady(ctx, done); err != nil {
		_ = t.Kill()
		return fmt.Errorf("start: %w; log tail:\n%s", err, t.LogTail(20))
	}
	return nil
}

// waitReady polls /readyz until it answers 200.
func (t *Target) waitReady(ctx context.Context, done chan struct{}) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.BaseURL()+"/readyz", nil)
		if err != nil {
			return err
		}
		if t.cfg.AuthToken != "" {
			req.Header.Set("Authorization", "Bearer "+t.cfg.AuthToken)
		}
		resp, err := t.http.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-done:
			return fmt.Errorf("%w (%s)", ErrExitedEarly, t.ExitDescription())
		case <-ctx.Done():
			return fmt.Errorf("not ready (last /readyz: %s): %w", last, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM (and SIGCONT, should the process be paused) and waits
// for the exit, up to StopTimeout. An exit code other than 0 is an error; a
// process that does not exit in time gets SIGQUIT (a goroutine dump in its
// log) and then SIGKILL.
func (t *Target) Stop(ctx context.Context) error {
	if err := t.signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	_ = t.signal(syscall.SIGCONT)
	ctx, cancel := context.WithTimeout(ctx, t.cfg.StopTimeout)
	defer cancel()
	if err := t.Wait(ctx); err != nil {
		_ = t.signal(syscall.SIGQUIT)
		wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer wcancel()
		_ = t.Wait(wctx)
		_ = t.Kill()
		return fmt.Errorf("stop: no exit after SIGTERM: %w", err)
	}
	if code := t.ExitCode(); code != 0 {
		return fmt.Errorf("stop: %s after SIGTERM", t.ExitDescription())
	}
	return nil
}

// Kill sends SIGKILL and waits until the process is reaped. Killing a target
// that is not running is not an error.
func (t *Target) Kill() error {
	t.mu.Lock()
	cmd, done := t.cmd, t.done
	t.mu.Unlock()
	if cmd == nil {
		return nil
	}
	// The whole group: a wrapper's children must not outlive it.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill: %w", err)
	}
	<-done
	// SIGKILL is delivered asynchronously: the leader is reaped, but a
	// wrapper's child may still be exiting (state R) and hold the data
	// directory's lock. Wait until no member of the group still runs.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proc.Wait(ctx, cmd.Process.Pid, proc.Gone); err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	return nil
}

// Terminate sends SIGTERM and returns at once; Wait waits for the exit.
func (t *Target) Terminate() error { return t.signal(syscall.SIGTERM) }

// Pause sends SIGSTOP and returns once the kernel shows the process stopped
// (signal delivery is asynchronous): it stops answering but keeps its
// sockets.
func (t *Target) Pause() error {
	if err := t.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return t.waitState(true)
}

// Resume sends SIGCONT and returns once the process runs again.
func (t *Target) Resume() error {
	if err := t.signal(syscall.SIGCONT); err != nil {
		return err
	}
	return t.waitState(false)
}

// waitState polls /proc until every process of the server's group (the
// process, and a wrapper's server beside it) is (or is no longer) in the
// stopped state, for up to 5 s.
func (t *Target) waitState(stopped bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The leader, and a wrapper's server beside it: the group. Vanished
	// processes are not ours to wait for.
	return proc.Wait(ctx, t.Pid(), func(st byte) bool { return (st == 'T') == stopped })
}

// Signal sends any signal to the running process.
func (t *Target) Signal(sig syscall.Signal) error { return t.signal(sig) }

func (t *Target) signal(sig syscall.Signal) error {
	t.mu.Lock()
	cmd, done := t.cmd, t.done
	t.mu.Unlock()
	if cmd == nil || isDone(done) {
		return ErrNotRunning
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		if err := cmd.Process.Signal(sig); err != nil {
			return fmt.Errorf("signal %v: %w", sig, err)
		}
	}
	return nil
}

// Wait waits until the current process has exited and been reaped.
func (t *Target) Wait(ctx context.Context) error {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Restart stops a running process cleanly (SIGTERM) and starts it again on
// the same data dir with the same args. After Kill it just starts.
func (t *Target) Restart(ctx context.Context) error {
	if t.Running() {
		if err := t.Stop(ctx); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	if err := t.Start(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return nil
}

// GoroutineDump sends SIGQUIT (a Go server prints every goroutine's stack
// and exits) and returns what it printed after the signal.
func (t *Target) GoroutineDump(ctx context.Context) (string, error) {
	before := t.logs.tail(0)
	if err := t.signal(syscall.SIGQUIT); err != nil {
		return "", fmt.Errorf("goroutine dump: %w", err)
	}
	_ = t.signal(syscall.SIGCONT)
	if err := t.Wait(ctx); err != nil {
		_ = t.Kill()
	}
	after := t.logs.tail(0)
	return strings.TrimPrefix(after, before), nil
}

// Running reports whether a process is alive (paused counts as alive).
func (t *Target) Running() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cmd != nil && !isDone(t.done)
}

// Done is closed when the current process has exited (nil before Start).
func (t *Target) Done() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

// Pid is the current process's pid (0 before the first Start). After an
// exit it is the pid the process had.
func (t *Target) Pid() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cmd == nil || t.cmd.Process == nil {
		return 0
	}
	return t.cmd.Process.Pid
}

// Addr is HOST:PORT of the current process ("" until it printed it).
func (t *Target) Addr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addr
}

// BaseURL is http://HOST:PORT of the current process.
func (t *Target) BaseURL() string { return "http://" + t.Addr() }

// AuthToken is the bearer token the target's clients send ("" for none).
func (t *Target) AuthToken() string { return t.cfg.AuthToken }

// ExitCode is the last process's exit code: -1 while it runs, before the
// first start, or when a signal ended it.
func (t *Target) ExitCode() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == nil {
		return -1
	}
	return t.state.ExitCode()
}

// ExitSignal is the signal that ended the last process (0 when it exited by
// itself or still runs).
func (t *Target) ExitSignal() syscall.Signal {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == nil {
		return 0
	}
	if ws, ok := t.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// ExitDescription says how the last process ended, for messages.
func (t *Target) ExitDescription() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return describeExit(t.state)
}

// LogTail is the last n lines of the server's stdout and stderr (all kept
// lines, up to 4000, when n <= 0), harness events included.
func (t *Target) LogTail(n int) string { return t.logs.tail(n) }

// RaceReports counts the "WARNING: DATA RACE" lines the server printed.
func (t *Target) RaceReports() int { return t.logs.raceCount() }

// Note adds a harness line to the server's log (e.g. "injecting SIGKILL").
func (t *Target) Note(format string, args ...any) {
	t.logs.add("harness| " + fmt.Sprintf(format, args...))
}

// Client returns a new recording client of this target with the next
// client id (0, 1, 2...), recording into the target's History.
func (t *Target) Client() *Client {
	t.mu.Lock()
	id := t.clients
	t.clients++
	t.mu.Unlock()
	cfg := ClientConfig{Endpoint: t, ID: id, History: t.cfg.History, AuthToken: t.cfg.AuthToken}
	if t.cfg.Transport != nil {
		cfg.HTTP = &http.Client{Transport: t.cfg.Transport}
	}
	return NewClient(cfg)
}

// Cleanup kills and reaps the process and removes a temp data dir unless
// keep (or TargetConfig.Keep) is set. It is safe to call more than once.
func (t *Target) Cleanup(keep bool) error {
	err := t.Kill()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ownsDir && !keep && !t.cfg.Keep {
		if rerr := os.RemoveAll(t.cfg.DataDir); rerr != nil && err == nil {
			err = fmt.Errorf("cleanup: %w", rerr)
		}
	}
	return err
}

func isDone(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func describeExit(st *os.ProcessState) string {
	if st == nil {
		return "still running"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exited with code %d", st.ExitCode())
}
