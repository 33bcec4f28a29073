package lazyfs

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// pageSize is the unit in which unsynced data is kept.
const pageSize = 4096

// fileState is the unsynced part of one backing file, shared by all its open
// handles: dirty pages and the file's logical size. The backing file holds
// exactly the durable data; its size is durable.
type fileState struct {
	mu      sync.Mutex
	size    int64 // logical size, as readers see it
	durable int64 // the backing file's size
	pages   map[int64][]byte
}

func (f *fileState) drop() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := int64(len(f.pages)) * pageSize
	f.pages = map[int64][]byte{}
	f.size = f.durable
	return n
}

// crash writes the pages keep picks to the backing file at path and drops
// the rest.
func (f *fileState) crash(path string, keep func() bool) (dropped, kept int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	idxs := make([]int64, 0, len(f.pages))
	for idx := range f.pages {
		idxs = append(idxs, idx)
	}
	sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
	var out *os.File
	for _, idx := range idxs {
		end := min(pageSize, f.size-idx*pageSize)
		if end <= 0 || path == "" || !keep() {
			dropped += pageSize
			continue
		}
		if out == nil {
			if out, err = os.OpenFile(path, os.O_WRONLY, 0); err != nil {
				return dropped, kept, fmt.Errorf("lazyfs crash: %w", err)
			}
			defer out.Close()
		}
		if _, err := out.WriteAt(f.pages[idx][:end], idx*pageSize); err != nil {
			return dropped, kept, fmt.Errorf("lazyfs crash: %w", err)
		}
		kept += pageSize
		f.durable = max(f.durable, idx*pageSize+end)
	}
	if out != nil {
		if err := out.Sync(); err != nil {
			return dropped, kept, fmt.Errorf("lazyfs crash: %w", err)
		}
	}
	f.pages = map[int64][]byte{}
	f.size = f.durable
	return dropped, kept, nil
}

// truncate applies a truncate that already reached the backing file.
func (f *fileState) truncate(sz int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.size, f.durable = sz, sz
	for idx, pg := range f.pages {
		start := idx * pageSize
		switch {
		case start >= sz:
			delete(f.pages, idx)
		case start+pageSize > sz:
			clear(pg[sz-start:])
		}
	}
}

// file is an open handle: reads merge dirty pages over the backing file,
// writes go to dirty pages, fsync writes them to the backing file.
type file struct {
	fs     *FS
	lf     *fs.LoopbackFile
	fd     int
	st     *fileState
	append bool
}

var (
	_ fs.FileReader   = (*file)(nil)
	_ fs.FileWriter   = (*file)(nil)
	_ fs.FileFsyncer  = (*file)(nil)
	_ fs.FileFlusher  = (*file)(nil)
	_ fs.FileReleaser = (*file)(nil)
)

// wrap turns a loopback handle into a lazy one.
func (l *FS) wrap(fh fs.FileHandle, flags uint32) (*file, syscall.Errno) {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		return nil, syscall.EIO
	}
	fd, _ := lf.PassthroughFd()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		lf.Release(context.Background())
		return nil, fs.ToErrno(err)
	}
	s := l.state(st.Ino, st.Size)
	if flags&syscall.O_TRUNC != 0 {
		s.truncate(st.Size) // the open truncated the backing file: durable
	}
	return &file{fs: l, lf: lf, fd: fd, st: s, append: flags&syscall.O_APPEND != 0}, 0
}

// Read serves dirty pages from memory and the rest from the backing file.
func (h *file) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if off >= h.st.size {
		return fuse.ReadResultData(nil), 0
	}
	n := min(int64(len(dest)), h.st.size-off)
	for pos := off; pos < off+n; {
		idx, in := pos/pageSize, pos%pageSize
		chunk := min(pageSize-in, off+n-pos)
		out := dest[pos-off : pos-off+chunk]
		if pg, ok := h.st.pages[idx]; ok {
			copy(out, pg[in:in+chunk])
		} else if errno := h.pread(out, pos); errno != 0 {
			return nil, errno
		}
		pos += chunk
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// pread fills out from the backing file at off, zeroes past its end.
func (h *file) pread(out []byte, off int64) syscall.Errno {
	got := 0
	for got < len(out) {
		m, err := syscall.Pread(h.fd, out[got:], off+int64(got))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fs.ToErrno(err)
		}
		if m == 0 {
			break
		}
		got += m
	}
	clear(out[got:])
	return 0
}

// Write keeps data in dirty pages; an O_APPEND handle writes at the end.
func (h *file) Write(_ context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if h.append {
		off = h.st.size
	}
	for pos := off; pos < off+int64(len(data)); {
		idx, in := pos/pageSize, pos%pageSize
		chunk := min(pageSize-in, off+int64(len(data))-pos)
		pg, ok := h.st.pages[idx]
		if !ok {
			pg = make([]byte, pageSize)
			if idx*pageSize < h.st.size {
				if errno := h.pread(pg, idx*pageSize); errno != 0 {
					return 0, errno
				}
			}
			h.st.pages[idx] = pg
		}
		copy(pg[in:in+chunk], data[pos-off:])
		pos += chunk
	}
	h.st.size = max(h.st.size, off+int64(len(data)))
	return uint32(len(data)), 0
}

// Fsync writes the dirty pages and the logical size to the backing file and
// fsyncs it: from here on the data survives DropUnsynced. Then it calls the
// OnSync hook.
func (h *file) Fsync(context.Context, uint32) syscall.Errno {
	h.fs.syncMu.Lock()
	defer h.fs.syncMu.Unlock()
	if errno := h.sync(); errno != 0 {
		return errno
	}
	if h.fs.onSync != nil {
		h.fs.onSync()
	}
	return 0
}

func (h *file) sync() syscall.Errno {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	idxs := make([]int64, 0, len(h.st.pages))
	for idx := range h.st.pages {
		idxs = append(idxs, idx)
	}
	sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
	for _, idx := range idxs {
		end := min(pageSize, h.st.size-idx*pageSize)
		if end <= 0 {
			continue
		}
		if _, err := syscall.Pwrite(h.fd, h.st.pages[idx][:end], idx*pageSize); err != nil {
			return fs.ToErrno(err)
		}
	}
	if err := syscall.Ftruncate(h.fd, h.st.size); err != nil {
		return fs.ToErrno(err)
	}
	if err := syscall.Fsync(h.fd); err != nil {
		return fs.ToErrno(err)
	}
	h.st.pages = map[int64][]byte{}
	h.st.durable = h.st.size
	return 0
}

// Flush (on close) makes nothing durable.
func (h *file) Flush(ctx context.Context) syscall.Errno { return h.lf.Flush(ctx) }

// Release closes the backing file; unsynced data stays in memory.
func (h *file) Release(ctx context.Context) syscall.Errno { return h.lf.Release(ctx) }
