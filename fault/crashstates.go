package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/fault/lazyfs"
	"github.com/kvchaos/kvchaos/harness/proc"
)

// CrashState is one state of the data dir a power loss could have left: a
// copy of the durable data right after an fsync, stamped on the run clock.
// Every write acknowledged before At under `--sync always` must be in it.
type CrashState struct {
	Seq int     // the fsync's number, from 1
	At  float64 // run-clock seconds, taken after the fsync completed
	Dir string  // the copy, to start a server on
}

// CrashStates records crash states ALICE-style: Setup mounts the data dir on
// lazyfs, and after every fsync the durable data (what a power loss at that
// moment leaves: see package lazyfs) is copied aside. Inject ends the
// recording: it kills the server and unmounts. A spec then starts a server
// on each state and checks what it finds — every state the disk could leave
// at an fsync boundary, not just the ones a random kill hits. Max bounds the
// copies (default 200; later fsyncs are only counted). Recorder stamps the
// states; without it At is 0. Needs root and /dev/fuse.
type CrashStates struct {
	Recorder Recorder
	Max      int

	mu     sync.Mutex
	base   string
	fs     *lazyfs.FS
	states []CrashState
	syncs  int
	err    error
}

var (
	_ Injector = (*CrashStates)(nil)
	_ Prober   = (*CrashStates)(nil)
	_ Preparer = (*CrashStates)(nil)
)

// Name returns "crash-states".
func (*CrashStates) Name() string { return "crash-states" }

// Probe needs what PowerLoss needs.
func (*CrashStates) Probe() error { return (&PowerLoss{}).Probe() }

// Detail says how many states were recorded.
func (c *CrashStates) Detail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d fsyncs, %d crash states recorded", c.syncs, len(c.states))
}

// Setup mounts the recording filesystem and returns the data dir.
func (c *CrashStates) Setup(context.Context) (string, error) {
	if err := c.Probe(); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	base, err := makeLazyBase("crashstates", "states")
	if err != nil {
		return "", err
	}
	c.base = base
	l, err := lazyfs.MountWith(filepath.Join(base, "data"), filepath.Join(base, "disk"), c.snapshot)
	if err != nil {
		return "", fmt.Errorf("crash-states: %w", err)
	}
	c.fs = l
	return l.Mountpoint(), nil
}

// snapshot runs after each fsync, with no other fsync running.
func (c *CrashStates) snapshot() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncs++
	max := c.Max
	if max <= 0 {
		max = 200
	}
	if len(c.states) >= max || c.err != nil {
		return
	}
	dir := filepath.Join(c.base, "states", fmt.Sprintf("%05d", c.syncs))
	if err := copyTree(filepath.Join(c.base, "disk"), dir); err != nil {
		c.err = fmt.Errorf("crash-states: copy state %d: %w", c.syncs, err)
		return
	}
	c.states = append(c.states, CrashState{Seq: c.syncs, At: now(c.Recorder), Dir: dir})
}

// States returns the recorded states in order (and the first copy error).
func (c *CrashStates) States() ([]CrashState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CrashState(nil), c.states...), c.err
}

// Inject ends the recording: it kills t's process, waits for it to die and
// unmounts (unsynced data is gone, as in a power loss). The states stay
// until Teardown.
func (c *CrashStates) Inject(ctx context.Context, t Target) error {
	if pid := t.Pid(); proc.Alive(pid) {
		if err := signal(pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("crash-states: %w", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := waitDead(wctx, pid); err != nil {
			return fmt.Errorf("crash-states: %w", err)
		}
	}
	c.mu.Lock()
	l := c.fs
	c.fs = nil
	c.mu.Unlock()
	if l == nil {
		return nil
	}
	if err := l.Unmount(); err != nil {
		return fmt.Errorf("crash-states: %w", err)
	}
	return nil
}

// Teardown unmounts (if still mounted) and removes every state.
func (c *CrashStates) Teardown(context.Context) error {
	c.mu.Lock()
	l, base := c.fs, c.base
	c.fs, c.base = nil, ""
	c.mu.Unlock()
	return removeLazyBase("crash-states", l, base)
}

// copyTree copies the regular files and dirs of src to dst. A file removed
// while copying is skipped (its removal is part of the state).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
