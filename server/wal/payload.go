package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Payload kinds: the first byte of every payload.
const (
	kindTx         byte = 1
	kindSnapHeader byte = 2
	kindSnapEntry  byte = 3
	kindSnapFooter byte = 4
)

// MutationType says whether a mutation sets or deletes a key.
type MutationType byte

// The mutation types.
const (
	Set    MutationType = 1
	Delete MutationType = 2
)

// Mutation is one change of a transaction.
type Mutation struct {
	Type MutationType
	Key  string
	// Value and ContentType are set by Set. When decoded, Value aliases
	// the payload: copy it before the payload's memory goes away.
	Value       []byte
	ContentType string
	// ExpiresAt is the absolute expiry in Unix nanoseconds, 0 for none.
	ExpiresAt int64
}

// Tx is one committed transaction: the unit of atomicity on disk.
type Tx struct {
	Revision uint64
	// Time is the commit time in Unix nanoseconds.
	Time      int64
	Mutations []Mutation
	// Synced is the offset up to which the segment was known fsynced when
	// the record was written. It lives in the record header, not the
	// payload: AppendTxRecord writes it, DecodeTx leaves it zero.
	Synced int64
}

// Entry is one key of a snapshot.
type Entry struct {
	Revision    uint64
	Key         string
	ContentType string
	ExpiresAt   int64
	// Value aliases the payload when decoded.
	Value []byte
}

var errShort = errors.New("payload too short")

// EncodeTx appends tx's payload to buf.
func EncodeTx(buf []byte, tx *Tx) []byte {
	buf = append(buf, kindTx)
	buf = binary.AppendUvarint(buf, tx.Revision)
	buf = binary.AppendVarint(buf, tx.Time)
	buf = binary.AppendUvarint(buf, uint64(len(tx.Mutations)))
	for i := range tx.Mutations {
		m := &tx.Mutations[i]
		buf = append(buf, byte(m.Type))
		buf = appendString(buf, m.Key)
		if m.Type == Set {
			buf = appendString(buf, m.ContentType)
			buf = binary.AppendVarint(buf, m.ExpiresAt)
			buf = binary.AppendUvarint(buf, uint64(len(m.Value)))
			buf = append(buf, m.Value...)
		}
	}
	return buf
}

// TxSize is an upper bound of tx's encoded payload size, for buffer sizing.
func TxSize(tx *Tx) int {
	n := 1 + 3*binary.MaxVarintLen64
	for i := range tx.Mutations {
		m := &tx.Mutations[i]
		n += 1 + 4*binary.MaxVarintLen64 + len(m.Key) + len(m.ContentType) + len(m.Value)
	}
	return n
}

// DecodeTx decodes a transaction payload. Byte slices in the result alias p.
func DecodeTx(p []byte) (Tx, error) {
	d := decoder{p: p}
	if k := d.byte(); k != kindTx {
		return Tx{}, fmt.Errorf("not a transaction record (kind %d)", k)
	}
	tx := Tx{Revision: d.uvarint(), Time: d.varint()}
	n := d.uvarint()
	if d.err != nil {
		return Tx{}, d.err
	}
	// Each mutation takes at least 2 bytes: bound n before allocating.
	if n > uint64(len(d.p))/2 {
		return Tx{}, fmt.Errorf("mutation count %d larger than the payload allows", n)
	}
	tx.Mutations = make([]Mutation, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		m := Mutation{Type: MutationType(d.byte()), Key: string(d.bytes())}
		switch m.Type {
		case Set:
			m.ContentType = string(d.bytes())
			m.ExpiresAt = d.varint()
			m.Value = d.bytes()
		case Delete:
		default:
			if d.err == nil {
				d.err = fmt.Errorf("unknown mutation type %d", m.Type)
			}
		}
		tx.Mutations = append(tx.Mutations, m)
	}
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.p))
	}
	return tx, d.err
}

// encodeSnapHeader and the others below encode snapshot records.
func encodeSnapHeader(rev uint64, count uint64, t int64) []byte {
	buf := []byte{kindSnapHeader}
	buf = binary.AppendUvarint(buf, rev)
	buf = binary.AppendUvarint(buf, count)
	return binary.AppendVarint(buf, t)
}

func encodeSnapFooter(count uint64) []byte {
	return binary.AppendUvarint([]byte{kindSnapFooter}, count)
}

func appendSnapEntry(buf []byte, e *Entry) []byte {
	buf = append(buf, kindSnapEntry)
	buf = binary.AppendUvarint(buf, e.Revision)
	buf = appendString(buf, e.Key)
	buf = appendString(buf, e.ContentType)
	buf = binary.AppendVarint(buf, e.ExpiresAt)
	buf = binary.AppendUvarint(buf, uint64(len(e.Value)))
	return append(buf, e.Value...)
}

func decodeSnapEntry(p []byte) (Entry, error) {
	d := decoder{p: p[1:]}
	e := Entry{Revision: d.uvarint(), Key: string(d.bytes()), ContentType: string(d.bytes()), ExpiresAt: d.varint()}
	e.Value = d.bytes()
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.p))
	}
	return e, d.err
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// decoder reads varints and length-prefixed bytes, remembering the first
// error; every read after an error returns zero values.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.p) < 1 {
		d.err = errShort
		return 0
	}
	b := d.p[0]
	d.p = d.p[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.p)) {
		d.err = fmt.Errorf("length %d past the end of the payload", n)
		return nil
	}
	b := d.p[:n:n]
	d.p = d.p[n:]
	return b
}
