package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// SegmentReport is what Check found in one log segment.
type SegmentReport struct {
	Path       string
	Records    int
	FirstRev   uint64
	LastRev    uint64
	End        int64 // end of the last valid record
	Size       int64
	TornReason string
	Corrupt    *CorruptError
	// MaxRevAfter is the highest revision of valid records found after the
	// damage (0 when none): what a repair throws away.
	MaxRevAfter uint64
	DroppedTx   int
}

// ScanSegment checks one segment: every record's checksum and payload, and
// revisions that rise.
func ScanSegment(path string) (SegmentReport, error) {
	rep := SegmentReport{Path: path}
	m, err := MapFile(path)
	if err != nil {
		return rep, fmt.Errorf("read %s: %w", path, err)
	}
	defer m.Close()
	var last uint64
	res, err := Scan(path, m.Data, func(p []byte, off int64) error {
		tx, err := DecodeTx(p)
		if err != nil {
			return &CorruptError{Path: path, Offset: off, Reason: "undecodable transaction: " + err.Error()}
		}
		if tx.Revision <= last {
			return &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf("revision %d after %d", tx.Revision, last)}
		}
		if rep.FirstRev == 0 {
			rep.FirstRev = tx.Revision
		}
		last = tx.Revision
		return nil
	})
	rep.Records, rep.End, rep.Size, rep.TornReason, rep.LastRev = res.Records, res.End, res.Size, res.TornReason, last
	var ce *CorruptError
	if errors.As(err, &ce) {
		rep.Corrupt = ce
		rep.MaxRevAfter, rep.DroppedTx = revsAfter(m.Data, ce.Offset+1)
		return rep, nil
	}
	rep.MaxRevAfter, rep.DroppedTx = MaxRevision(res.BeyondPayloads), len(res.BeyondPayloads)
	return rep, err
}

// MaxRevision is the highest revision among transaction payloads (0 when
// none decodes).
func MaxRevision(payloads [][]byte) uint64 {
	var rev uint64
	for _, p := range payloads {
		if tx, err := DecodeTx(p); err == nil {
			rev = max(rev, tx.Revision)
		}
	}
	return rev
}

// revsAfter finds the valid transaction records after from (skipping damage)
// and returns their highest revision and their count.
func revsAfter(data []byte, from int64) (maxRev uint64, n int) {
	for {
		at, ok := findValidRecord(data, from)
		if !ok {
			return maxRev, n
		}
		p, _, next, _ := parseRecord(data, at)
		if tx, err := DecodeTx(p); err == nil {
			n++
			maxRev = max(maxRev, tx.Revision)
		}
		from = next
	}
}

// Check reports on every data file in dir to w. It returns an error wrapping
// ErrCorrupt when any file is damaged in a way a start would refuse; a torn
// log tail is reported but is not an error (the next start cuts it).
func Check(dir string, w io.Writer) error {
	segs, snaps, err := Files(dir)
	if err != nil {
		return err
	}
	var bad []string
	for _, s := range snaps {
		info, err := ReadSnapshot(s.Path, nil)
		if err != nil {
			fmt.Fprintf(w, "snapshot %s: DAMAGED: %v\n", s.Path, err)
			bad = append(bad, s.Path)
			continue
		}
		fmt.Fprintf(w, "snapshot %s: ok, revision %d, %d keys, %d bytes\n", s.Path, info.Revision, info.Entries, info.Size)
	}
	for i, s := range segs {
		rep, err := ScanSegment(s.Path)
		if err != nil {
			return err
		}
		switch {
		case rep.Corrupt != nil:
			fmt.Fprintf(w, "log %s: DAMAGED at offset %d (%s); %d good transactions before it (revisions %d..%d), %d valid transactions after it up to revision %d would be lost by a repair\n",
				s.Path, rep.Corrupt.Offset, rep.Corrupt.Reason, rep.Records, rep.FirstRev, rep.LastRev, rep.DroppedTx, rep.MaxRevAfter)
			bad = append(bad, s.Path)
		case rep.End != rep.Size && i < len(segs)-1:
			fmt.Fprintf(w, "log %s: DAMAGED: torn tail of %d bytes at offset %d (%s) in a segment that is not the newest\n",
				s.Path, rep.Size-rep.End, rep.End, rep.TornReason)
			bad = append(bad, s.Path)
		case rep.End != rep.Size:
			fmt.Fprintf(w, "log %s: ok, %d transactions (revisions %d..%d); torn tail of %d bytes at offset %d (%s) will be cut at the next start\n",
				s.Path, rep.Records, rep.FirstRev, rep.LastRev, rep.Size-rep.End, rep.End, rep.TornReason)
		default:
			fmt.Fprintf(w, "log %s: ok, %d transactions (revisions %d..%d), %d bytes\n", s.Path, rep.Records, rep.FirstRev, rep.LastRev, rep.Size)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(w, "%d damaged file(s); `kvserver repair --data-dir %s` cuts them back to the last good transaction and keeps backups\n", len(bad), dir)
		return fmt.Errorf("%d damaged file(s) in %s: %w", len(bad), dir, ErrCorrupt)
	}
	fmt.Fprintf(w, "data dir %s: ok\n", dir)
	return nil
}

// Repair cuts every damaged file in dir back to its last good record, keeping
// a backup (NAME.bak-UNIXTIME) of everything it changes or removes, and
// writes what it did to w. A damaged log segment is cut at the damage and
// every newer segment is moved aside; an empty transaction carrying the
// highest revision seen is appended so that revisions never go backwards. A
// damaged snapshot is rewritten from its readable entries. The caller must
// hold the directory's lock.
func Repair(dir string, w io.Writer) error {
	segs, snaps, err := Files(dir)
	if err != nil {
		return err
	}
	stamp := fmt.Sprintf("%s-%d", backupSuffix, time.Now().Unix())
	changed := 0
	for _, s := range snaps {
		if _, err := ReadSnapshot(s.Path, nil); err == nil {
			continue
		}
		if err := salvageSnapshot(dir, s, stamp, w); err != nil {
			return err
		}
		changed++
	}
	var maxSeen uint64
	for i, s := range segs {
		rep, err := ScanSegment(s.Path)
		if err != nil {
			return err
		}
		maxSeen = max(maxSeen, rep.LastRev, rep.MaxRevAfter)
		if rep.End == rep.Size {
			continue
		}
		if err := copyFile(s.Path, s.Path+stamp); err != nil {
			return fmt.Errorf("back up %s: %w", s.Path, err)
		}
		if err := os.Truncate(s.Path, rep.End); err != nil {
			return fmt.Errorf("cut %s: %w", s.Path, err)
		}
		fmt.Fprintf(w, "cut %s from %d to %d bytes (backup %s)\n", s.Path, rep.Size, rep.End, filepath.Base(s.Path+stamp))
		changed++
		if rep.Corrupt == nil && i == len(segs)-1 {
			break // a torn tail of the newest segment: nothing newer to drop
		}
		for _, later := range segs[i+1:] {
			lrep, _ := ScanSegment(later.Path)
			maxSeen = max(maxSeen, lrep.LastRev, lrep.MaxRevAfter)
			if err := os.Rename(later.Path, later.Path+stamp); err != nil {
				return fmt.Errorf("move aside %s: %w", later.Path, err)
			}
			fmt.Fprintf(w, "moved aside %s (newer than the damage) to %s\n", later.Path, filepath.Base(later.Path+stamp))
		}
		if maxSeen > rep.LastRev {
			rec := AppendTxRecord(nil, &Tx{Revision: maxSeen, Time: time.Now().UnixNano(), Synced: rep.End})
			if err := appendSync(s.Path, rec); err != nil {
				return err
			}
			fmt.Fprintf(w, "kept the revision counter at %d (an empty transaction) so revisions never go backwards\n", maxSeen)
		}
		break
	}
	if err := SyncDir(dir); err != nil {
		return err
	}
	if changed == 0 {
		fmt.Fprintf(w, "nothing to repair in %s\n", dir)
	}
	return nil
}

func salvageSnapshot(dir string, s File, stamp string, w io.Writer) error {
	m, err := MapFile(s.Path)
	if err != nil {
		return err
	}
	defer m.Close()
	var (
		entries []Entry
		rev     uint64
		t       int64
		from    int64
	)
	for {
		at, ok := findValidRecord(m.Data, from)
		if !ok {
			break
		}
		p, _, next, _ := parseRecord(m.Data, at)
		from = next
		if len(p) == 0 {
			continue
		}
		switch p[0] {
		case kindSnapHeader:
			d := decoder{p: p[1:]}
			r, _, tt := d.uvarint(), d.uvarint(), d.varint()
			if d.err == nil {
				rev, t = r, tt
			}
		case kindSnapEntry:
			if e, err := decodeSnapEntry(p); err == nil {
				e.Value = append([]byte(nil), e.Value...)
				entries = append(entries, e)
				rev = max(rev, e.Revision)
			}
		}
	}
	if rev == 0 {
		rev = s.Rev
	}
	if err := os.Rename(s.Path, s.Path+stamp); err != nil {
		return fmt.Errorf("move aside %s: %w", s.Path, err)
	}
	path, _, err := WriteSnapshot(dir, max(rev, s.Rev), t, entries)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "rewrote damaged snapshot %s as %s with the %d readable keys (backup %s)\n",
		s.Path, filepath.Base(path), len(entries), filepath.Base(s.Path+stamp))
	return nil
}

func appendSync(path string, rec []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(rec); err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	return f.Sync()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
