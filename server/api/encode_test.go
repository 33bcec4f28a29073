package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestPutResponseEncoding checks the hand-written PUT body against
// encoding/json's Encoder (what echo's c.JSON writes) over keys with every
// kind of character JSON escapes, and random ones.
func TestPutResponseEncoding(t *testing.T) {
	exp := "2026-01-02T03:04:05.000000000Z"
	keys := []string{"a", "", `quo"te`, `back\slash`, "tab\tnl\ncr\rff\fbs\b", "\x00\x01\x1f\x7f", "<html>&amp;",
		"line\u2028para\u2029", "üñí©ødé 日本 🎉", "bad\xffutf8\xc3", "a/b%2Fc"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		keys = append(keys, string(b))
	}
	for i, key := range keys {
		out := putResponse{Key: key, Revision: uint64(i) * 1e15, Size: i * 7}
		if i%2 == 0 {
			out.ExpiresAt = &exp
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(out); err != nil {
			t.Fatal(err)
		}
		if got := appendPutResponse(nil, out); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("key %q:\n got %s\nwant %s", key, got, want.Bytes())
		}
	}
}
