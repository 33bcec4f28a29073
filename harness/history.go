package harness

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"sync"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Op kinds recorded in a History (artifact.Op.Kind).
const (
	KindGet    = "get"
	KindHead   = "head"
	KindPut    = "put"
	KindCAS    = "cas" // a put or delete with If-Match or If-None-Match
	KindDelete = "delete"
	KindBatch  = "batch"
	KindList   = "list"
)

// ValueRef identifies a value in a history without carrying its bytes: the
// sha256 of the bytes (hex) and their length.
type ValueRef struct {
	SHA256 string `json:"sha256"`
	Len    int    `json:"len"`
	// Inline is the value itself when it is short printable text (a bank
	// balance, a counter), so checkers can read it back from a history.
	Inline string `json:"inline,omitempty"`
}

// InlineMax is the longest value a ValueRef carries inline.
const InlineMax = 32

// RefOf returns the ValueRef of b.
func RefOf(b []byte) ValueRef {
	sum := sha256.Sum256(b)
	r := ValueRef{SHA256: hex.EncodeToString(sum[:]), Len: len(b)}
	if len(b) <= InlineMax && printable(b) {
		r.Inline = string(b)
	}
	return r
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// String is a short form for messages: the first 12 hex digits and the length.
func (r ValueRef) String() string {
	if r.Inline != "" || r.Len == 0 {
		return fmt.Sprintf("%q", r.Inline)
	}
	if len(r.SHA256) < 12 {
		return fmt.Sprintf("sha256:%s (%d bytes)", r.SHA256, r.Len)
	}
	return fmt.Sprintf("sha256:%s… (%d bytes)", r.SHA256[:12], r.Len)
}

// OpInput is what an operation asked for (artifact.Op.Input).
type OpInput struct {
	Value       *ValueRef `json:"value,omitempty"`
	TTL         string    `json:"ttl,omitempty"`
	IfMatch     uint64    `json:"if_match,omitempty"`
	IfNoneMatch bool      `json:"if_none_match,omitempty"`
	Ops         []BatchOp `json:"ops,omitempty"`
	Prefix      string    `json:"prefix,omitempty"`
	After       string    `json:"after,omitempty"`
	Limit       int       `json:"limit,omitempty"`
}

// OpOutput is what an operation returned (artifact.Op.Output), when it
// returned at all.
type OpOutput struct {
	Found    bool      `json:"found,omitempty"`
	Value    *ValueRef `json:"value,omitempty"`
	Revision uint64    `json:"revision,omitempty"`
	Created  bool      `json:"created,omitempty"`
	// TTLMillis is X-Kv-Ttl-Ms of a get (-1 when the key has no TTL).
	TTLMillis int64 `json:"ttl_ms,omitempty"`
	// FailedOp is the op index of a batch's failed check (409).
	FailedOp *int          `json:"failed_op,omitempty"`
	Results  []BatchResult `json:"results,omitempty"`
	Keys     []string      `json:"keys,omitempty"`
}

// History is a concurrency-safe record of client operations on a run clock.
// Use NewHistory; the zero value is not usable.
type History struct {
	clock *Clock
	mu    sync.Mutex
	ops   []artifact.Op
}

// NewHistory returns an empty history timed by clock.
func NewHistory(clock *Clock) *History {
	return &History{clock: clock}
}

// Clock is the history's run clock.
func (h *History) Clock() *Clock { return h.clock }

// Record appends a finished operation.
func (h *History) Record(op artifact.Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// Ops returns a copy of the operations, ordered by call time.
func (h *History) Ops() []artifact.Op {
	h.mu.Lock()
	ops := append([]artifact.Op(nil), h.ops...)
	h.mu.Unlock()
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	return ops
}

// Len is the number of recorded operations.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// Count returns how many ops have each outcome.
func (h *History) Count() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := map[string]int{}
	for _, op := range h.ops {
		n[op.Outcome]++
	}
	return n
}

// WriteFile saves the history as JSON (history.json).
func (h *History) WriteFile(path string) error {
	return WriteJSON(path, h.Ops())
}

// ReadHistory loads a history.json written by WriteFile. Input and Output
// come back as generic JSON values; DecodeInput and DecodeOutput type them.
func ReadHistory(path string) ([]artifact.Op, error) {
	var ops []artifact.Op
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	if err := json.Unmarshal(b, &ops); err != nil {
		return nil, fmt.Errorf("read history %s: %w", path, err)
	}
	return ops, nil
}

// DecodeInput returns op.Input as an OpInput, whether it was recorded in
// this process or read back from JSON.
func DecodeInput(v any) (OpInput, error) {
	switch in := v.(type) {
	case nil:
		return OpInput{}, nil
	case OpInput:
		return in, nil
	case *OpInput:
		return *in, nil
	}
	var in OpInput
	return in, roundTrip(v, &in)
}

// DecodeOutput returns op.Output as an OpOutput (zero when none).
func DecodeOutput(v any) (OpOutput, error) {
	switch out := v.(type) {
	case nil:
		return OpOutput{}, nil
	case OpOutput:
		return out, nil
	case *OpOutput:
		return *out, nil
	}
	var out OpOutput
	return out, roundTrip(v, &out)
}

func roundTrip(v, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("decode op: %w", err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("decode op: %w", err)
	}
	return nil
}

// WriteJSON writes v as indented JSON to path.
func WriteJSON(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = writeJSON(w, v)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeJSON writes a slice as a JSON array with one compact element per
// line (a 30-second history is hundreds of MB indented; this is valid JSON
// that still reads and greps line by line), and anything else indented.
func writeJSON(w io.Writer, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	for i := range rv.Len() {
		b, err := json.Marshal(rv.Index(i).Interface())
		if err != nil {
			return err
		}
		sep := ",\n"
		if i == 0 {
			sep = "\n"
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n]\n")
	return err
}
