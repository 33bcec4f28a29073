package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// DiskFull puts the server's data dir on a size-limited tmpfs (Setup, before
// the server starts) and, while injected, fills that tmpfs with a filler file
// so only Leave bytes stay free; Heal deletes the filler, giving the space back
// without touching the server's files. Size defaults to 64 MiB. Needs root
// (mount); Probe says so otherwise.
type DiskFull struct {
	Size  int64
	Leave int64

	mu     sync.Mutex
	mnt    string // the tmpfs mount point, a dir named kvchaos-diskfull-*
	filled int64
}

var (
	_ Injector = (*DiskFull)(nil)
	_ Healer   = (*DiskFull)(nil)
	_ Prober   = (*DiskFull)(nil)
	_ Preparer = (*DiskFull)(nil)
)

const fillerName = ".kvchaos-filler"

// Name returns "diskfull".
func (*DiskFull) Name() string { return "diskfull" }

// Probe needs root to mount a tmpfs.
func (*DiskFull) Probe() error {
	if !isRoot() {
		return fmt.Errorf("mount a size-limited tmpfs: %w", errNotRoot)
	}
	return nil
}

// Setup mounts the tmpfs and returns an empty data dir inside it.
func (d *DiskFull) Setup(context.Context) (string, error) {
	if err := d.Probe(); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	size := d.Size
	if size <= 0 {
		size = 64 << 20
	}
	mnt, err := os.MkdirTemp("", "kvchaos-diskfull-")
	if err != nil {
		return "", fmt.Errorf("diskfull setup: %w", err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		os.Remove(mnt)
		return "", fmt.Errorf("diskfull mount tmpfs: %w", err)
	}
	d.mnt = mnt
	data := filepath.Join(mnt, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return "", fmt.Errorf("diskfull setup: %w", err)
	}
	return data, nil
}

// Free returns the bytes free on the tmpfs now.
func (d *DiskFull) Free() (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.free()
}

func (d *DiskFull) free() (int64, error) {
	if d.mnt == "" {
		return 0, errors.New("diskfull: not set up")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(d.mnt, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", d.mnt, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// Inject fills the tmpfs so that Leave bytes stay free (t is not used: the
// fault is on the filesystem Setup made).
func (d *DiskFull) Inject(context.Context, Target) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	free, err := d.free()
	if err != nil {
		return err
	}
	n := free - d.Leave
	if n <= 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(d.mnt, fillerName), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("diskfull filler: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("diskfull filler: %w", err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, fi.Size(), n); err != nil {
		return fmt.Errorf("diskfull fallocate %d bytes: %w", n, err)
	}
	d.filled = fi.Size() + n
	return nil
}

// Detail says how much was filled.
func (d *DiskFull) Detail() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fmt.Sprintf("filled %d bytes, leaving %d", d.filled, d.Leave)
}

// Heal deletes the filler file.
func (d *DiskFull) Heal(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mnt == "" {
		return nil
	}
	err := os.Remove(filepath.Join(d.mnt, fillerName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("diskfull heal: %w", err)
	}
	return nil
}

// Teardown unmounts the tmpfs (everything in it is gone) and removes the
// mount point. Safe to call more than once.
func (d *DiskFull) Teardown(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mnt == "" {
		return nil
	}
	err := unmount(d.mnt)
	if err == nil {
		err = os.Remove(d.mnt)
	}
	if err != nil {
		return fmt.Errorf("diskfull teardown: %w", err)
	}
	d.mnt = ""
	return nil
}

// unmount unmounts dir, lazily (MNT_DETACH) when it is busy.
func unmount(dir string) error {
	err := unix.Unmount(dir, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(dir, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) { // EINVAL: not mounted
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}
