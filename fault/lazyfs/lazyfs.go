// Package lazyfs is a FUSE filesystem that passes everything through to a
// backing directory except file data that has not been fsynced: that stays in
// memory until fsync, so dropping it (DropUnsynced) is what a power loss
// does to a real disk's volatile cache. It is the model behind fault.PowerLoss,
// in the manner of Jepsen's LazyFS.
//
// What it models, exactly:
//   - File data written with write(2) is durable only after fsync or
//     fdatasync on that file (any open handle of it). Until then reads see it,
//     the backing file does not have it, and DropUnsynced forgets it.
//   - A file's size grows with unsynced writes in the same way: after
//     DropUnsynced it is back to its size at the last fsync.
//   - Metadata operations — create, mkdir, rename, unlink, link, truncate,
//     chmod — are durable at once, as on a filesystem with synchronous
//     metadata; a directory fsync is accepted and does nothing more. So a
//     file created and renamed but never fsynced survives a power loss with
//     the data it had at its last fsync (none: empty).
//   - Crash (instead of DropUnsynced) models a power loss in the middle of
//     writeback: any subset of the unsynced pages, in any order, made it to
//     the disk; the bytes of a file between its durable end and a page that
//     made it read as zeros.
//   - Not modelled: torn sectors inside one page (see fault.TornWrite),
//     reordering of fsynced writes, mmap writes (mmap is served from the
//     backing file), fallocate (refused with ENOTSUP).
//
// Mount as root with DirectMount (no fusermount needed).
package lazyfs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is one mounted lazy filesystem.
type FS struct {
	mnt, backing string
	server       *fuse.Server

	// syncMu serialises file fsyncs with OnSync, so the backing dir does
	// not change under a hook (metadata operations still may: each is
	// atomic, so any moment is a state a disk could hold).
	syncMu sync.Mutex
	onSync func()

	mu    sync.Mutex
	files map[uint64]*fileState // by the backing file's inode number
}

// Mount mounts a lazy view of backing at mnt (both directories must exist).
func Mount(mnt, backing string) (*FS, error) { return MountWith(mnt, backing, nil) }

// MountWith is Mount with a hook called after every successful file fsync,
// while no other fsync runs: the backing dir then holds exactly what a
// power loss at that moment would leave (a crash state).
func MountWith(mnt, backing string, onSync func()) (*FS, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("lazyfs: backing dir: %w", err)
	}
	l := &FS{mnt: mnt, backing: backing, files: map[uint64]*fileState{}, onSync: onSync}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fs: l}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	root.RootNode = rootNode
	sec := time.Second
	server, err := fs.Mount(mnt, rootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMount: true,
			FsName:      "kvchaos-lazyfs",
			Name:        "lazyfs",
		},
		AttrTimeout:  &sec,
		EntryTimeout: &sec,
	})
	if err != nil {
		return nil, fmt.Errorf("lazyfs: mount %s: %w", mnt, err)
	}
	l.server = server
	return l, nil
}

// Mountpoint returns where the filesystem is mounted.
func (l *FS) Mountpoint() string { return l.mnt }

// Unsynced returns how many bytes of file data are held in memory, not yet
// fsynced (counted in whole pages).
func (l *FS) Unsynced() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, f := range l.files {
		f.mu.Lock()
		n += int64(len(f.pages)) * pageSize
		f.mu.Unlock()
	}
	return n
}

// DropUnsynced throws away every byte not yet fsynced and returns how many
// were dropped (whole pages). Call it only once the writers are dead: a write
// racing with it may survive.
func (l *FS) DropUnsynced() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, f := range l.files {
		n += f.drop()
	}
	return n
}

// Crash is a power loss during writeback: each unsynced page survives when
// keep says so (a disk that wrote some dirty pages, in any order, before the
// power went), the rest is thrown away. A kept page past the durable end
// extends the file, and the unsynced bytes between read as zeros (an
// unwritten extent). It returns the bytes dropped and kept (whole pages).
// Call it only once the writers are dead.
func (l *FS) Crash(keep func() bool) (dropped, kept int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ino, f := range l.files {
		d, k, ferr := f.crash(l.pathOf(ino), keep)
		dropped, kept = dropped+d, kept+k
		err = errors.Join(err, ferr)
	}
	return dropped, kept, err
}

// pathOf finds the backing path of inode ino ("" when it is gone).
func (l *FS) pathOf(ino uint64) string {
	var found string
	_ = filepath.WalkDir(l.backing, func(p string, d iofs.DirEntry, err error) error {
		if err != nil || found != "" || d.IsDir() {
			return nil
		}
		if info, ierr := d.Info(); ierr == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Ino == ino {
				found = p
			}
		}
		return nil
	})
	return found
}

// Unmount unmounts the filesystem (lazily when busy). Unsynced data is lost
// with it; call Sync first to keep it.
func (l *FS) Unmount() error {
	err := l.server.Unmount()
	if err != nil {
		if derr := syscall.Unmount(l.mnt, 0x2 /* MNT_DETACH */); derr != nil && !errors.Is(derr, syscall.EINVAL) {
			return fmt.Errorf("lazyfs: unmount %s: %w", l.mnt, errors.Join(err, derr))
		}
	}
	l.server.Wait()
	return nil
}

// state returns the shared state of the backing file with inode ino, creating
// it with the given durable size.
func (l *FS) state(ino uint64, size int64) *fileState {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.files[ino]
	if !ok {
		f = &fileState{size: size, durable: size, pages: map[int64][]byte{}}
		l.files[ino] = f
	}
	return f
}

// peek returns the state of ino, or nil.
func (l *FS) peek(ino uint64) *fileState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.files[ino]
}

// forget drops the state of a backing file that is being removed or
// replaced, so a reused inode number starts clean.
func (l *FS) forget(path string) {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) != nil || st.Nlink > 1 {
		return
	}
	l.mu.Lock()
	delete(l.files, st.Ino)
	l.mu.Unlock()
}

// fixSize reports the logical size of ino instead of the backing size.
func (l *FS) fixSize(ino uint64, size *uint64) {
	if f := l.peek(ino); f != nil {
		f.mu.Lock()
		*size = uint64(f.size)
		f.mu.Unlock()
	}
}

// node is a loopback node whose files keep unsynced data in memory.
type node struct {
	fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeStatxer   = (*node)(nil)
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeFsyncer   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
)

func (n *node) path() string {
	return n.LoopbackNode.RootData.Path + "/" + n.Path(n.Root())
}

// Lookup reports the logical size.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno == 0 {
		n.fs.fixSize(out.Attr.Ino, &out.Attr.Size)
	}
	return ch, errno
}

// Getattr reports the logical size.
func (n *node) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	errno := n.LoopbackNode.Getattr(ctx, nil, out)
	if errno == 0 {
		n.fs.fixSize(out.Attr.Ino, &out.Attr.Size)
	}
	return errno
}

// Statx reports the logical size.
func (n *node) Statx(ctx context.Context, _ fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	errno := n.LoopbackNode.Statx(ctx, nil, flags, mask, out)
	if errno == 0 {
		n.fs.fixSize(out.Ino, &out.Size)
	}
	return errno
}

// Setattr applies a truncate at once (durable) to both the backing file and
// the unsynced pages, then the rest through the loopback.
func (n *node) Setattr(ctx context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok {
		p := n.path()
		if err := syscall.Truncate(p, int64(sz)); err != nil {
			return fs.ToErrno(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err == nil {
			if f := n.fs.peek(st.Ino); f != nil {
				f.truncate(int64(sz))
			}
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	errno := n.LoopbackNode.Setattr(ctx, nil, in, out)
	if errno == 0 {
		n.fs.fixSize(out.Attr.Ino, &out.Attr.Size)
	}
	return errno
}

// Open opens the backing file read-write (to fill and flush pages) and wraps
// it in a lazy handle.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, _, errno := n.LoopbackNode.Open(ctx, rw(flags))
	if errno != 0 {
		return nil, 0, errno
	}
	h, errno := n.fs.wrap(fh, flags)
	return h, 0, errno
}

// Create creates the backing file (durable at once, empty) and wraps it.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	n.fs.forget(n.path() + "/" + name)
	ch, fh, _, errno := n.LoopbackNode.Create(ctx, name, rw(flags), mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	h, errno := n.fs.wrap(fh, flags)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	n.fs.fixSize(out.Attr.Ino, &out.Attr.Size)
	return ch, h, 0, 0
}

// Fsync makes a file's unsynced data durable; on a directory it does
// nothing more (metadata is durable at once).
func (n *node) Fsync(_ context.Context, f fs.FileHandle, _ uint32) syscall.Errno {
	if h, ok := f.(*file); ok {
		return h.Fsync(context.Background(), 0)
	}
	return 0
}

// Unlink forgets the unsynced data of the removed file.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.fs.forget(n.path() + "/" + name)
	return n.LoopbackNode.Unlink(ctx, name)
}

// Rename forgets the unsynced data of a file it replaces.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if np, ok := newParent.(*node); ok && flags == 0 {
		n.fs.forget(np.path() + "/" + newName)
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
}

// rw turns an open's access mode into read-write (we read pages to merge
// partial writes and write them on fsync) and drops O_APPEND (we place
// appends ourselves).
func rw(flags uint32) uint32 {
	return flags&^uint32(syscall.O_ACCMODE|syscall.O_APPEND) | syscall.O_RDWR
}
