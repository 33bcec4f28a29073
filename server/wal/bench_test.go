package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The log's hot paths, for benchstat:
//
//	go test -run '^$' -bench . -benchmem ./server/wal

func benchTx(rev uint64, muts, size int) *Tx {
	val := bytes.Repeat([]byte("v"), size)
	tx := &Tx{Revision: rev, Time: 1_700_000_000_000_000_000}
	for i := range muts {
		tx.Mutations = append(tx.Mutations, Mutation{Type: Set, Key: "key-" + strconv.Itoa(i), Value: val, ContentType: "application/octet-stream"})
	}
	return tx
}

var benchShapes = []struct {
	name       string
	muts, size int
}{{"1x100B", 1, 100}, {"1x4KiB", 1, 4 << 10}, {"10x100B", 10, 100}, {"1x1MiB", 1, 1 << 20}}

// BenchmarkAppendTxRecord encodes one transaction as a framed record.
func BenchmarkAppendTxRecord(b *testing.B) {
	for _, sh := range benchShapes {
		b.Run(sh.name, func(b *testing.B) {
			tx := benchTx(1, sh.muts, sh.size)
			buf := make([]byte, 0, 2<<20)
			b.SetBytes(int64(TxSize(tx)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendTxRecord(buf[:0], tx)
			}
		})
	}
}

// BenchmarkScanDecode walks a log of 10,000 records, checking every CRC and
// decoding every transaction: the replay half of recovery.
func BenchmarkScanDecode(b *testing.B) {
	for _, sh := range benchShapes[:3] {
		b.Run(sh.name, func(b *testing.B) {
			var data []byte
			for i := range 10000 {
				data = AppendTxRecord(data, benchTx(uint64(i+1), sh.muts, sh.size))
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				_, err := Scan("bench.log", data, func(p []byte, _ int64) error {
					if _, err := DecodeTx(p); err != nil {
						return err
					}
					n++
					return nil
				})
				if err != nil || n != 10000 {
					b.Fatalf("scan: %d records, %v", n, err)
				}
			}
		})
	}
}

// BenchmarkLogAppendSync is one group written and fsynced, by group size:
// the cost group commit shares among the group's transactions.
func BenchmarkLogAppendSync(b *testing.B) {
	for _, group := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			dir := b.TempDir()
			l, err := OpenLog(dir, "", 0, 1, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close() })
			var buf []byte
			for i := range group {
				buf = AppendTxRecord(buf, benchTx(uint64(i+1), 1, 100))
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Append(buf); err != nil {
					b.Fatal(err)
				}
				if err := l.Sync(true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(group), "tx/fsync")
			if fi, err := os.Stat(filepath.Join(dir, SegmentName(1))); err == nil && fi.Size() == 0 {
				b.Fatal("nothing written")
			}
		})
	}
}
