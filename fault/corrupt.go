package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Corrupt flips bits in the middle of a data file (bit rot, a misdirected
// write): N bytes (default 1) at distinct offsets drawn from Rand in the
// middle half of the file, each XORed with a random non-zero mask. Apply it to
// a stopped server: the server should refuse to start and say where. File
// names the file inside the data dir; empty picks the newest file matching
// DefaultPattern.
type Corrupt struct {
	N    int
	File string
	Rand *rand.Rand

	mu sync.Mutex
	// Path and Offsets say, after Inject, which file and bytes were changed.
	Path    string
	Offsets []int64
}

var _ Injector = (*Corrupt)(nil)

// Name returns "corrupt".
func (*Corrupt) Name() string { return "corrupt" }

// Detail lists the flipped offsets.
func (c *Corrupt) Detail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := make([]string, len(c.Offsets))
	for i, o := range c.Offsets {
		s[i] = fmt.Sprint(o)
	}
	return fmt.Sprintf("flipped bytes of %s at offsets %s", filepath.Base(c.Path), strings.Join(s, ","))
}

// Inject flips the bytes.
func (c *Corrupt) Inject(_ context.Context, t Target) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Rand == nil {
		return errors.New("corrupt: no seeded Rand")
	}
	path, err := dataFile(t.DataDir(), c.File)
	if err != nil {
		return fmt.Errorf("corrupt: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("corrupt: %w", err)
	}
	n := max(c.N, 1)
	lo, span := int64(len(b))/4, int64(len(b))/2
	if span < int64(n) {
		return fmt.Errorf("corrupt: %s has %d bytes, too small to flip %d in its middle", path, len(b), n)
	}
	seen := map[int64]bool{}
	c.Path, c.Offsets = path, nil
	for len(c.Offsets) < n {
		off := lo + c.Rand.Int63n(span)
		if seen[off] {
			continue
		}
		seen[off] = true
		b[off] ^= byte(1 + c.Rand.Intn(255))
		c.Offsets = append(c.Offsets, off)
	}
	sort.Slice(c.Offsets, func(i, j int) bool { return c.Offsets[i] < c.Offsets[j] })
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("corrupt: %w", err)
	}
	for _, off := range c.Offsets {
		if _, err := f.WriteAt(b[off:off+1], off); err != nil {
			f.Close()
			return fmt.Errorf("corrupt: %w", err)
		}
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("corrupt: %w", err)
	}
	return nil
}
