package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/fault/lazyfs"
	"github.com/kvchaos/kvchaos/harness/proc"
)

// PowerLoss cuts the power under the server: Setup mounts the data dir on a
// lazyfs FUSE filesystem (see package lazyfs for exactly what it keeps),
// which holds every byte not yet fsynced in memory. Inject SIGKILLs the
// server, waits for it to die, throws away every unsynced byte, unmounts and
// mounts the same backing dir again, so the server can be restarted on the
// data dir as a machine would boot on its disk. A SIGKILL alone cannot tell
// `--sync always` from `--sync never` (the page cache survives a process
// crash); this can. With Writeback > 0 each unsynced page instead survives
// with that probability (drawn from Rand), in any order: a power loss in the
// middle of writeback, which can leave holes of zeros before later data.
// Needs root and /dev/fuse.
type PowerLoss struct {
	Writeback float64
	Rand      *rand.Rand

	mu      sync.Mutex
	base    string // kvchaos-powerloss-*: disk/ (backing) and data/ (mount)
	fs      *lazyfs.FS
	dropped int64
	kept    int64
	pid     int
}

var (
	_ Injector = (*PowerLoss)(nil)
	_ Prober   = (*PowerLoss)(nil)
	_ Preparer = (*PowerLoss)(nil)
)

// Name returns "power-loss".
func (*PowerLoss) Name() string { return "power-loss" }

// Probe needs root (DirectMount) and /dev/fuse.
func (*PowerLoss) Probe() error {
	if !isRoot() {
		return fmt.Errorf("mount a FUSE filesystem: %w", errNotRoot)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("no /dev/fuse: %w", ErrUnsupported)
	}
	return nil
}

// Setup mounts the lazy filesystem and returns its (empty) root as the data
// dir.
func (p *PowerLoss) Setup(context.Context) (string, error) {
	if err := p.Probe(); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	base, err := makeLazyBase("powerloss")
	if err != nil {
		return "", err
	}
	p.base = base
	if err := p.mount(); err != nil {
		return "", err
	}
	return p.fs.Mountpoint(), nil
}

func (p *PowerLoss) mount() error {
	fs, err := lazyfs.Mount(filepath.Join(p.base, "data"), filepath.Join(p.base, "disk"))
	if err != nil {
		return fmt.Errorf("power-loss: %w", err)
	}
	p.fs = fs
	return nil
}

// Backing returns the directory that holds the durable data (what a disk
// would keep).
func (p *PowerLoss) Backing() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return filepath.Join(p.base, "disk")
}

// Unsynced returns how many bytes (whole pages) are not yet fsynced.
func (p *PowerLoss) Unsynced() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fs == nil {
		return 0
	}
	return p.fs.Unsynced()
}

// Dropped returns how many unsynced bytes (whole pages) the last Inject threw
// away.
func (p *PowerLoss) Dropped() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Detail says what was lost.
func (p *PowerLoss) Detail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("killed %d, dropped %d unsynced bytes, kept %d", p.pid, p.dropped, p.kept)
}

// Inject kills t's process, drops the unsynced data and remounts. A write
// the kernel handed to the filesystem just before the kill may still land:
// that is a write that completed before the power went.
func (p *PowerLoss) Inject(ctx context.Context, t Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fs == nil {
		return errors.New("power-loss: not set up")
	}
	p.pid = t.Pid()
	if proc.Alive(p.pid) {
		if err := signal(p.pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("power-loss: %w", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := waitDead(wctx, p.pid); err != nil {
			return fmt.Errorf("power-loss: %w", err)
		}
	}
	if p.Writeback > 0 {
		if p.Rand == nil {
			return errors.New("power-loss: Writeback needs a seeded Rand")
		}
		var err error
		p.dropped, p.kept, err = p.fs.Crash(func() bool { return p.Rand.Float64() < p.Writeback })
		if err != nil {
			return fmt.Errorf("power-loss: %w", err)
		}
	} else {
		p.dropped, p.kept = p.fs.DropUnsynced(), 0
	}
	if err := p.fs.Unmount(); err != nil {
		return fmt.Errorf("power-loss: %w", err)
	}
	p.fs = nil
	return p.mount()
}

// Teardown unmounts and removes everything Setup made. Safe to call more
// than once.
func (p *PowerLoss) Teardown(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs, base := p.fs, p.base
	p.fs, p.base = nil, ""
	return removeLazyBase("power-loss", fs, base)
}
