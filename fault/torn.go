package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// TornMode is how TornWrite damages a file's tail.
type TornMode int

const (
	// TornCut truncates the file at the offset (a write that never reached
	// the disk past it). It is the zero value.
	TornCut TornMode = iota
	// TornZero keeps the file's size and zeroes every byte from the offset
	// to the end (the file grew, but its data pages were never written).
	TornZero
)

// DefaultPattern is the data file Torn and Corrupt pick when File is empty:
// the newest kvserver log segment.
const DefaultPattern = "wal-*.log"

// TornWrite damages the tail of a data file, as a crash in the middle of a
// write would, at an offset drawn from Rand in the last Tail bytes (0: the
// whole file), or exactly Back bytes before the end when Back is set (to
// sweep every cut point). Apply it to a stopped server (after Kill): the
// server must come back with a prefix of its history. File names the file
// inside the data dir; empty picks the newest file matching DefaultPattern.
type TornWrite struct {
	Mode TornMode
	Tail int64
	Back int64
	File string
	Rand *rand.Rand

	mu     sync.Mutex
	detail string
	// Path, Size and Offset say, after Inject, which file was damaged, its
	// size before and where the damage starts.
	Path         string
	Size, Offset int64
}

var _ Injector = (*TornWrite)(nil)

// Name returns "torn-write".
func (*TornWrite) Name() string { return "torn-write" }

// Detail says what was cut.
func (w *TornWrite) Detail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.detail
}

// Inject damages the file.
func (w *TornWrite) Inject(_ context.Context, t Target) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Rand == nil && w.Back <= 0 {
		return errors.New("torn-write: no seeded Rand and no Back")
	}
	path, err := dataFile(t.DataDir(), w.File)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("torn-write: %w", err)
	}
	size := fi.Size()
	if size == 0 {
		return fmt.Errorf("torn-write: %s is empty", path)
	}
	tail := w.Tail
	if tail <= 0 || tail > size {
		tail = size
	}
	var off int64
	switch {
	case w.Back > size:
		return fmt.Errorf("torn-write: Back %d is past the start of %s (%d bytes)", w.Back, path, size)
	case w.Back > 0:
		off = size - w.Back
	default:
		off = size - 1 - w.Rand.Int63n(tail) // in [size-tail, size-1]: always damages
	}
	w.Path, w.Size, w.Offset = path, size, off
	switch w.Mode {
	case TornCut:
		err = os.Truncate(path, off)
		w.detail = fmt.Sprintf("cut %s from %d to %d bytes", filepath.Base(path), size, off)
	case TornZero:
		err = zeroRange(path, off, size-off)
		w.detail = fmt.Sprintf("zeroed %s from offset %d to its end (%d bytes)", filepath.Base(path), off, size-off)
	default:
		err = fmt.Errorf("unknown mode %d", w.Mode)
	}
	if err != nil {
		return fmt.Errorf("torn-write: %w", err)
	}
	return nil
}

func zeroRange(path string, off, n int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(make([]byte, n), off); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// dataFile resolves name inside dir, or picks the newest file matching
// DefaultPattern (segments sort by the number in their name).
func dataFile(dir, name string) (string, error) {
	if name != "" {
		return filepath.Join(dir, name), nil
	}
	m, err := filepath.Glob(filepath.Join(dir, DefaultPattern))
	if err != nil || len(m) == 0 {
		return "", fmt.Errorf("no %s in %s", DefaultPattern, dir)
	}
	num := func(p string) uint64 {
		s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "wal-"), ".log")
		n, _ := strconv.ParseUint(s, 10, 64)
		return n
	}
	sort.Slice(m, func(i, j int) bool { return num(m[i]) < num(m[j]) })
	return m[len(m)-1], nil
}
