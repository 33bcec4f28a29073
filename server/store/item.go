package store

import (
	"encoding/binary"
	"errors"
	"time"
	"unsafe"
)

// An item is how one key's state is kept as a buntdb value: a small header
// (format byte, revision, expiry, content type) and the value's bytes. buntdb's
// own TTLs are not used: they lose sub-second precision on disk, and an expiry
// must go through this package's accounting.
const itemFormat byte = 1

type item struct {
	rev         uint64
	expiresAt   int64 // unix nanos, 0 = none
	contentType string
	value       string
}

func encodeItem(rev uint64, expiresAt int64, contentType string, value []byte) string {
	buf := make([]byte, 0, 1+2*binary.MaxVarintLen64+binary.MaxVarintLen16+len(contentType)+len(value))
	buf = append(buf, itemFormat)
	buf = binary.AppendUvarint(buf, rev)
	buf = binary.AppendVarint(buf, expiresAt)
	buf = binary.AppendUvarint(buf, uint64(len(contentType)))
	buf = append(buf, contentType...)
	buf = append(buf, value...)
	return unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is never written again
}

var errBadItem = errors.New("store: undecodable item")

func decodeItem(s string) (item, error) {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	if len(b) == 0 || b[0] != itemFormat {
		return item{}, errBadItem
	}
	b = b[1:]
	rev, n := binary.Uvarint(b)
	if n <= 0 {
		return item{}, errBadItem
	}
	b = b[n:]
	exp, n := binary.Varint(b)
	if n <= 0 {
		return item{}, errBadItem
	}
	b = b[n:]
	ctLen, n := binary.Uvarint(b)
	if n <= 0 || ctLen > uint64(len(b)-n) {
		return item{}, errBadItem
	}
	b = b[n:]
	off := len(s) - len(b)
	return item{rev: rev, expiresAt: exp, contentType: s[off : off+int(ctLen)], value: s[off+int(ctLen):]}, nil
}

func (it *item) expired(now int64) bool { return it.expiresAt != 0 && it.expiresAt <= now }

func (it *item) meta(key string) Meta {
	m := Meta{Key: key, Size: len(it.value), Revision: it.rev, ContentType: it.contentType}
	if it.expiresAt != 0 {
		m.ExpiresAt = time.Unix(0, it.expiresAt)
	}
	return m
}

// bytesOf returns the bytes of an immutable string without copying. The
// result must never be written to: the store hands values out this way so
// that a 16 MiB GET costs no copy.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
