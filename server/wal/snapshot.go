package wal

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// WriteSnapshot writes a snapshot of entries at revision rev to dir: a temp
// file, fsynced, renamed into place, and the directory fsynced, so that a
// crash at any moment leaves either no snapshot or a complete one (buntdb's
// own shrink renames without any fsync). It returns the snapshot's path and
// size.
func WriteSnapshot(dir string, rev uint64, t int64, entries []Entry) (string, int64, error) {
	final := filepath.Join(dir, SnapshotName(rev))
	tmp := final + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", 0, fmt.Errorf("create snapshot: %w", err)
	}
	fail := func(err error) (string, int64, error) {
		f.Close()
		os.Remove(tmp)
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var size int64
	put := func(payload []byte) error {
		rec := AppendRecord(make([]byte, 0, HeaderSize+len(payload)), payload)
		size += int64(len(rec))
		_, err := w.Write(rec)
		return err
	}
	if err := put(encodeSnapHeader(rev, uint64(len(entries)), t)); err != nil {
		return fail(fmt.Errorf("write snapshot: %w", err))
	}
	var buf []byte
	for i := range entries {
		buf = appendSnapEntry(buf[:0], &entries[i])
		if err := put(buf); err != nil {
			return fail(fmt.Errorf("write snapshot: %w", err))
		}
	}
	if err := put(encodeSnapFooter(uint64(len(entries)))); err != nil {
		return fail(fmt.Errorf("write snapshot: %w", err))
	}
	if err := w.Flush(); err != nil {
		return fail(fmt.Errorf("write snapshot: %w", err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("fsync snapshot: %w", err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("close snapshot: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("rename snapshot: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		return "", 0, err
	}
	return final, size, nil
}

// SnapshotInfo describes a snapshot read back.
type SnapshotInfo struct {
	Revision uint64
	Time     int64
	Entries  int
	Size     int64
}

// ReadSnapshot reads the snapshot at path, calling fn for each entry (whose
// Value aliases memory that is gone after fn returns). Any damage — a bad
// record anywhere, a missing header or footer, a count that does not match —
// is an error wrapping ErrCorrupt: a snapshot is written whole and renamed
// into place, so unlike a log's tail it can never be legitimately torn.
func ReadSnapshot(path string, fn func(e *Entry) error) (SnapshotInfo, error) {
	m, err := MapFile(path)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("read snapshot: %w", err)
	}
	defer m.Close()
	return readSnapshot(path, m.Data, fn)
}

func readSnapshot(path string, data []byte, fn func(e *Entry) error) (SnapshotInfo, error) {
	info := SnapshotInfo{Size: int64(len(data))}
	var header, footer bool
	var wantCount uint64
	corrupt := func(off int64, reason string) error {
		return &CorruptError{Path: path, Offset: off, Reason: reason}
	}
	res, err := Scan(path, data, func(p []byte, off int64) error {
		if footer {
			return corrupt(off, "record after the snapshot's footer")
		}
		if len(p) == 0 {
			return corrupt(off, "empty record")
		}
		switch p[0] {
		case kindSnapHeader:
			if header {
				return corrupt(off, "second header")
			}
			d := decoder{p: p[1:]}
			info.Revision, wantCount, info.Time = d.uvarint(), d.uvarint(), d.varint()
			if d.err != nil {
				return corrupt(off, "bad header: "+d.err.Error())
			}
			header = true
		case kindSnapEntry:
			if !header {
				return corrupt(off, "entry before the header")
			}
			e, err := decodeSnapEntry(p)
			if err != nil {
				return corrupt(off, "bad entry: "+err.Error())
			}
			info.Entries++
			if fn != nil {
				if err := fn(&e); err != nil {
					return err
				}
			}
		case kindSnapFooter:
			d := decoder{p: p[1:]}
			n := d.uvarint()
			if d.err != nil || n != wantCount || uint64(info.Entries) != n {
				return corrupt(off, fmt.Sprintf("footer count %d, header %d, entries read %d", n, wantCount, info.Entries))
			}
			footer = true
		default:
			return corrupt(off, fmt.Sprintf("unknown record kind %d", p[0]))
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	if res.End != res.Size {
		return info, corrupt(res.End, res.TornReason)
	}
	if !header || !footer {
		return info, corrupt(res.End, "snapshot incomplete (no header or footer)")
	}
	return info, nil
}
