// Package wal is kvserver's on-disk format: a write-ahead log of checksummed
// records, one record per committed transaction, cut into segment files, plus
// snapshots written in the same framing. It knows nothing of keys' meaning;
// package store decides what to write and replays what it reads.
//
// A record is a 20-byte header and a payload:
//
//	magic  uint32  "KVW1" (little-endian 0x3157564b)
//	length uint32  payload length
//	synced uint64  offset up to which this segment was known fsynced when the record was written
//	crc    uint32  CRC-32C (Castagnoli) of length, synced and the payload
//	payload
//
// Reading never trusts a length before it has checked it against what is left
// of the file, never allocates from a length, and never loops on one, so a
// damaged file cannot make a reader panic, hang or exhaust memory.
//
// A torn tail is told apart from damage in the middle by the synced
// watermark. After a power loss, everything past the last fsync may be cut
// short, zero-filled, or written back out of order (a hole, then pages that
// did reach the disk). So when the first bad record at offset X is followed
// by valid records, the file is corrupt in the middle (ErrCorrupt, never
// silently cut) only if one of those records says X had been fsynced before
// it was written (synced > X); otherwise X lay in the unsynced tail and
// everything from X on is a torn tail, which recovery cuts away and reports.
package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// HeaderSize is the size of a record header in bytes.
const HeaderSize = 20

// Magic starts every record.
const Magic uint32 = 0x3157564b // "KVW1"

// MaxPayload is the largest payload a record may carry (1 GiB). A length
// above it is damage, not data.
const MaxPayload = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var magicBytes = binary.LittleEndian.AppendUint32(nil, Magic)

// ErrCorrupt reports damage in the middle of a file: a bad record followed by
// valid ones. The *CorruptError carrying it names the file and the offset.
var ErrCorrupt = errors.New("corrupt data file")

// CorruptError locates damage in a data file.
type CorruptError struct {
	Path   string
	Offset int64  // offset of the first bad record
	Next   int64  // offset of the next valid record after it
	Reason string // what was wrong at Offset
}

func (e *CorruptError) Error() string {
	where := fmt.Sprintf("damaged record at offset %d (%s)", e.Offset, e.Reason)
	if e.Next > e.Offset {
		where += fmt.Sprintf(" followed by valid data at offset %d", e.Next)
	}
	return fmt.Sprintf("%s: %s: refusing to guess; run `kvserver check --data-dir DIR` for details and "+
		"`kvserver repair --data-dir DIR` to cut the data back to the last good transaction (a backup is kept)",
		e.Path, where)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// AppendRecord appends one framed record carrying payload to buf, with a
// synced watermark of 0.
func AppendRecord(buf, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, HeaderSize)...)
	buf = append(buf, payload...)
	sealRecord(buf[start:], 0)
	return buf
}

// AppendTxRecord appends tx as one framed record to buf, encoding it in
// place (no intermediate copy of large values). tx.Synced goes in the header.
func AppendTxRecord(buf []byte, tx *Tx) []byte {
	start := len(buf)
	buf = slices.Grow(buf, HeaderSize+TxSize(tx)) // amortised: a group of large values is not copied again per record
	buf = append(buf, make([]byte, HeaderSize)...)
	buf = EncodeTx(buf, tx)
	sealRecord(buf[start:], tx.Synced)
	return buf
}

// sealRecord fills the header of rec (header + payload) in place.
func sealRecord(rec []byte, synced int64) {
	binary.LittleEndian.PutUint32(rec[0:4], Magic)
	binary.LittleEndian.PutUint32(rec[4:8], uint32(len(rec)-HeaderSize))
	binary.LittleEndian.PutUint64(rec[8:16], uint64(synced))
	crc := crc32.Update(0, castagnoli, rec[4:16])
	crc = crc32.Update(crc, castagnoli, rec[HeaderSize:])
	binary.LittleEndian.PutUint32(rec[16:20], crc)
}

// parseRecord reads the record at data[off:]. It returns the payload, the
// record's synced watermark and the offset just past the record, or a reason
// why there is no valid record there.
func parseRecord(data []byte, off int64) (payload []byte, synced, next int64, reason string) {
	rest := data[off:]
	if len(rest) < HeaderSize {
		return nil, 0, 0, fmt.Sprintf("incomplete header (%d of %d bytes)", len(rest), HeaderSize)
	}
	if m := binary.LittleEndian.Uint32(rest[0:4]); m != Magic {
		return nil, 0, 0, fmt.Sprintf("bad magic %#08x", m)
	}
	n := binary.LittleEndian.Uint32(rest[4:8])
	if n > MaxPayload {
		return nil, 0, 0, fmt.Sprintf("length %d over the limit", n)
	}
	if uint64(n) > uint64(len(rest)-HeaderSize) {
		return nil, 0, 0, fmt.Sprintf("length %d runs past the end of the file (%d bytes left)", n, len(rest)-HeaderSize)
	}
	body := rest[HeaderSize : HeaderSize+int(n)]
	crc := crc32.Update(0, castagnoli, rest[4:16])
	crc = crc32.Update(crc, castagnoli, body)
	if want := binary.LittleEndian.Uint32(rest[16:20]); crc != want {
		return nil, 0, 0, fmt.Sprintf("checksum mismatch (stored %#08x, computed %#08x)", want, crc)
	}
	return body, int64(binary.LittleEndian.Uint64(rest[8:16])), off + HeaderSize + int64(n), ""
}

// ScanResult says how far a file's records were valid.
type ScanResult struct {
	// Records is the number of valid records before End.
	Records int
	// End is the offset just past the last valid record: the length the
	// file should have.
	End int64
	// Size is the file's size as read.
	Size int64
	// TornReason says why the bytes from End on were not a record (empty
	// when End == Size).
	TornReason string
	// Beyond counts the valid records found past a hole in the unsynced
	// tail: they are dropped with it.
	Beyond int
	// BeyondPayloads are those records' payloads, for callers that want to
	// know what was dropped (e.g. the highest revision).
	BeyondPayloads [][]byte
}

// TornBytes is the number of bytes past the last valid record.
func (r ScanResult) TornBytes() int64 { return r.Size - r.End }

// Scan walks the records of data (the content of the file at path, used in
// messages), calling fn with each valid payload and its offset. It stops at
// the first invalid record. When a later valid record says that record's
// offset had been fsynced, Scan returns a *CorruptError; otherwise the rest
// is a torn tail, reported in the result. An error from fn stops the scan and
// is returned.
func Scan(path string, data []byte, fn func(payload []byte, off int64) error) (ScanResult, error) {
	res := ScanResult{Size: int64(len(data))}
	var off int64
	for off < int64(len(data)) {
		payload, _, next, reason := parseRecord(data, off)
		if reason != "" {
			res.End = off
			res.TornReason = reason
			for from := off + 1; ; {
				at, ok := findValidRecord(data, from)
				if !ok {
					break
				}
				p, synced, next, _ := parseRecord(data, at)
				if synced > off {
					return res, &CorruptError{Path: path, Offset: off, Next: at,
						Reason: fmt.Sprintf("%s; the record at %d says the log was fsynced up to %d", reason, at, synced)}
				}
				res.Beyond++
				res.BeyondPayloads = append(res.BeyondPayloads, p)
				from = next
			}
			if res.Beyond > 0 {
				res.TornReason = fmt.Sprintf("%s; %d later record(s) were written before this point was fsynced (out-of-order writeback after a power loss) and are dropped with it", reason, res.Beyond)
			}
			return res, nil
		}
		if fn != nil {
			if err := fn(payload, off); err != nil {
				res.End = off
				return res, err
			}
		}
		res.Records++
		off = next
	}
	res.End = off
	return res, nil
}

// findValidRecord looks for a complete, checksummed record starting at or
// after from. A random match of magic, length and CRC-32C in garbage is
// about one in 2^64.
func findValidRecord(data []byte, from int64) (int64, bool) {
	for from < int64(len(data)) {
		i := bytes.Index(data[from:], magicBytes)
		if i < 0 {
			return 0, false
		}
		at := from + int64(i)
		// A real record at offset at cannot claim more fsynced bytes than
		// lie before it: checked before the (costly) checksum, this also
		// rejects records forged inside a stored value that claim the log
		// was synced past the damage.
		if len(data)-int(at) >= HeaderSize {
			if synced := int64(binary.LittleEndian.Uint64(data[at+8 : at+16])); synced < 0 || synced > at {
				from = at + 1
				continue
			}
		}
		if _, _, _, reason := parseRecord(data, at); reason == "" {
			return at, true
		}
		from = at + 1
	}
	return 0, false
}
