package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func txRecord(rev uint64, keys ...string) []byte {
	return txRecordSynced(rev, 0, keys...)
}

// txRecordSynced builds a record written when the log was fsynced up to
// synced.
func txRecordSynced(rev uint64, synced int64, keys ...string) []byte {
	tx := Tx{Revision: rev, Time: int64(rev) * 1000, Synced: synced}
	for _, k := range keys {
		tx.Mutations = append(tx.Mutations, Mutation{Type: Set, Key: k, Value: []byte("value-of-" + k), ContentType: "text/plain", ExpiresAt: 42})
	}
	return AppendTxRecord(nil, &tx)
}

func TestTxRoundTrip(t *testing.T) {
	tx := Tx{Revision: 7, Time: -5, Mutations: []Mutation{
		{Type: Set, Key: "a/b", Value: []byte{0, 1, 2, 255}, ContentType: "application/x", ExpiresAt: 1 << 62},
		{Type: Delete, Key: "gone"},
		{Type: Set, Key: "empty"},
	}}
	rec := AppendTxRecord(nil, &tx)
	if !bytes.Equal(rec, AppendRecord(nil, EncodeTx(nil, &tx))) {
		t.Fatal("AppendTxRecord and AppendRecord(EncodeTx) differ")
	}
	tx.Synced = 77
	if _, synced, _, reason := parseRecord(AppendTxRecord(nil, &tx), 0); reason != "" || synced != 77 {
		t.Fatalf("synced watermark %d (%s), want 77", synced, reason)
	}
	tx.Synced = 0
	var got Tx
	res, err := Scan("mem", rec, func(p []byte, _ int64) error {
		var err error
		got, err = DecodeTx(p)
		return err
	})
	if err != nil || res.Records != 1 || res.End != int64(len(rec)) {
		t.Fatalf("scan: %+v %v", res, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(tx) {
		t.Fatalf("decoded %+v, want %+v", got, tx)
	}
}

// TestScanEveryCutPoint cuts a three-record file at every byte offset: each
// cut must read back as the complete records before it and a torn tail, never
// as corruption and never as a partial record.
func TestScanEveryCutPoint(t *testing.T) {
	var file []byte
	var ends []int
	for i := 1; i <= 3; i++ {
		file = append(file, txRecord(uint64(i), "k1", "k2")...)
		ends = append(ends, len(file))
	}
	for cut := 0; cut <= len(file); cut++ {
		res, err := Scan("f", file[:cut], nil)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		want := 0
		for _, e := range ends {
			if e <= cut {
				want++
			}
		}
		if res.Records != want {
			t.Fatalf("cut %d: %d records, want %d", cut, res.Records, want)
		}
		if res.End > int64(cut) || (res.End != int64(cut)) != (res.TornReason != "") {
			t.Fatalf("cut %d: end %d reason %q", cut, res.End, res.TornReason)
		}
	}
}

func TestScanZeroTailIsTorn(t *testing.T) {
	file := append(txRecord(1, "a"), make([]byte, 4096)...)
	res, err := Scan("f", file, nil)
	if err != nil || res.Records != 1 || res.TornBytes() != 4096 {
		t.Fatalf("got %+v %v", res, err)
	}
}

// TestScanCorruptMiddle flips each byte of the first record in turn: with a
// valid record after it that was written once the first was fsynced, every
// flip must be reported as corruption with the offset, never silently cut.
func TestScanCorruptMiddle(t *testing.T) {
	first := txRecord(1, "a")
	file := append(append([]byte(nil), first...), txRecordSynced(2, int64(len(first)), "b")...)
	file = append(file, txRecordSynced(3, int64(len(file)), "c")...)
	for i := range first {
		bad := append([]byte(nil), file...)
		bad[i] ^= 0x5a
		_, err := Scan("data/wal.log", bad, nil)
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d: err %v, want CorruptError", i, err)
		}
		if ce.Offset != 0 || ce.Next != int64(len(first)) {
			t.Fatalf("flip at %d: offset %d next %d", i, ce.Offset, ce.Next)
		}
		if msg := err.Error(); !strings.Contains(msg, "data/wal.log") || !strings.Contains(msg, "kvserver repair") {
			t.Fatalf("message does not name the file and the fix: %s", msg)
		}
	}
}

// TestOutOfOrderWritebackIsTorn models a power loss that kept later pages
// of the unsynced tail but not an earlier one: a hole followed by valid
// records that were all written before the hole was fsynced. That is a torn
// tail (cut, with the dropped records counted), not corruption.
func TestOutOfOrderWritebackIsTorn(t *testing.T) {
	file := txRecord(1, "a")
	synced := int64(len(file))
	hole := len(file)
	file = append(file, txRecordSynced(2, synced, "b")...)
	file = append(file, txRecordSynced(3, synced, "c")...)
	file = append(file, txRecordSynced(4, synced, "d")...)
	for i := hole; i < hole+len(txRecordSynced(2, synced, "b")); i++ {
		file[i] = 0
	}
	res, err := Scan("f", file, nil)
	if err != nil || res.Records != 1 || res.End != int64(hole) || res.Beyond != 2 {
		t.Fatalf("got %+v %v", res, err)
	}
	if MaxRevision(res.BeyondPayloads) != 4 {
		t.Fatalf("max revision beyond the hole %d", MaxRevision(res.BeyondPayloads))
	}
}

func TestHugeLengthIsNotTrusted(t *testing.T) {
	rec := txRecord(1, "a")
	rec[4], rec[5], rec[6], rec[7] = 0xff, 0xff, 0xff, 0x7f
	res, err := Scan("f", rec, nil)
	if err != nil || res.Records != 0 || !strings.Contains(res.TornReason, "length") {
		t.Fatalf("got %+v %v", res, err)
	}
}

func TestSnapshotRoundTripAndDamage(t *testing.T) {
	dir := t.TempDir()
	entries := []Entry{{Revision: 3, Key: "a", Value: []byte("1")}, {Revision: 9, Key: "b", ContentType: "x/y", ExpiresAt: 5, Value: []byte("22")}}
	path, _, err := WriteSnapshot(dir, 9, 100, entries)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	info, err := ReadSnapshot(path, func(e *Entry) error {
		got = append(got, fmt.Sprintf("%s=%s@%d", e.Key, e.Value, e.Revision))
		return nil
	})
	if err != nil || info.Revision != 9 || strings.Join(got, ",") != "a=1@3,b=22@9" {
		t.Fatalf("read back %v %+v %v", got, info, err)
	}
	data, _ := os.ReadFile(path)
	for _, cut := range []int{len(data) - 1, len(data) / 2, HeaderSize} {
		os.WriteFile(path, data[:cut], 0o644)
		if _, err := ReadSnapshot(path, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: err %v, want ErrCorrupt", cut, err)
		}
	}
}

func TestLogAppendSyncRotate(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLog(dir, "", 0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(txRecord(1, "a")); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(true); err != nil {
		t.Fatal(err)
	}
	if err := l.Rotate(2); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(txRecord(2, "b")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _, err := Files(dir)
	if err != nil || len(segs) != 2 || segs[0].Rev != 1 || segs[1].Rev != 2 {
		t.Fatalf("segments %+v %v", segs, err)
	}
	if err := Check(dir, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
}

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description: a second open in
	// the same process conflicts just like another process would.
	if _, err := LockDir(dir); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	l.Unlock()
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	l2.Unlock()
}

func TestRepairCutsAtDamageAndKeepsRevision(t *testing.T) {
	dir := t.TempDir()
	var file []byte
	for i := uint64(1); i <= 5; i++ {
		file = append(file, txRecordSynced(i, int64(len(file)), fmt.Sprint("k", i))...)
	}
	path := filepath.Join(dir, SegmentName(1))
	one := len(txRecordSynced(1, 0, "k1"))
	file[2*one+HeaderSize+3] ^= 0xff // damage the third record's payload
	os.WriteFile(path, file, 0o644)
	var out bytes.Buffer
	if err := Check(dir, &out); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := Repair(dir, &out); err != nil {
		t.Fatalf("repair: %v\n%s", err, out.String())
	}
	rep, err := ScanSegment(path)
	if err != nil || rep.Corrupt != nil || rep.Records != 3 || rep.LastRev != 5 {
		t.Fatalf("after repair: %+v %v\n%s", rep, err, out.String())
	}
	backups, _ := filepath.Glob(path + ".bak-*")
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if err := Check(dir, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
}

func FuzzScanDecode(f *testing.F) {
	f.Add(txRecord(1, "a", "b"))
	f.Add(append(txRecord(1, "a"), 0, 0, 0))
	f.Add([]byte{0x4b, 0x56, 0x57, 0x31, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Scan("fuzz", data, func(p []byte, _ int64) error {
			_, _ = DecodeTx(p)
			return nil
		})
		_, _ = readSnapshot("fuzz", data, nil)
		_, _ = DecodeTx(data)
	})
}
