package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/kvchaos/kvchaos/harness/load"
)

// Scenario is one request shape. The same requests go to kvserver and to the
// baseline, which answers every one of them without storing anything.
type Scenario struct {
	// Name is the scenario's id in flags, tables and bench.json.
	Name string
	// Doc says what one operation is.
	Doc string
	// Writes is false for read-only scenarios, which are measured under one
	// sync policy only: the policy decides nothing for a reader that no
	// writer is waiting on.
	Writes bool
	// ValueSize is the size of each value written or read.
	ValueSize int
	// Keys is the size of the key space the scenario cycles through.
	Keys int

	// prefix names the scenario's keys; preload fills them first.
	prefix  string
	preload bool
	// newOp returns the operation, sent through rq.
	newOp func(rq load.Requester) load.Op
}

// Scenarios are every scenario, in the order bench runs them.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "get-hot", Doc: "GET of one hot 100 B key", ValueSize: 100, Keys: 1, prefix: "hot", preload: true,
			newOp: getOp("hot", 1)},
		put("put-100b", 100, 10000),
		put("put-4k", 4<<10, 10000),
		put("put-1m", 1<<20, 64),
		{Name: "batch-10", Doc: "POST /api/v1/kv/batch of 10 sets of 100 B", Writes: true, ValueSize: 100, Keys: 10000, prefix: "batch",
			newOp: batchOp("batch", 10, 100, 10000)},
		{Name: "mix-90-10", Doc: "90% GET, 10% PUT of 100 B over 10,000 keys", Writes: true, ValueSize: 100, Keys: 10000, prefix: "mix", preload: true,
			newOp: mixOp("mix", 100, 10000)},
	}
}

// ScenarioNames lists the names of Scenarios.
func ScenarioNames() []string {
	var names []string
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return names
}

func put(name string, size, keys int) Scenario {
	return Scenario{Name: name, Doc: fmt.Sprintf("PUT of a %s value over %d keys", sizeName(size), keys),
		Writes: true, ValueSize: size, Keys: keys, prefix: name, newOp: putOp(name, size, keys)}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// value is a printable payload of n bytes (valid in a JSON string as is).
func value(n int) []byte { return bytes.Repeat([]byte("v"), n) }

// keyAt spreads seq over keys with a multiplicative hash, so concurrent
// workers rarely hit the same key at once.
func keyAt(prefix string, seq int64, keys int) string {
	return prefix + "-" + strconv.FormatUint(uint64(seq)*2654435761%uint64(keys), 10)
}

func getOp(prefix string, keys int) func(load.Requester) load.Op {
	return func(rq load.Requester) load.Op {
		return func(ctx context.Context, w int, seq int64) error {
			return rq.Request(ctx, w, http.MethodGet, "/api/v1/kv/"+keyAt(prefix, seq, keys), "", nil)
		}
	}
}

func putOp(prefix string, size, keys int) func(load.Requester) load.Op {
	body := value(size)
	return func(rq load.Requester) load.Op {
		return func(ctx context.Context, w int, seq int64) error {
			return rq.Request(ctx, w, http.MethodPut, "/api/v1/kv/"+keyAt(prefix, seq, keys), "application/octet-stream", body)
		}
	}
}

// putKey stores one value with a plain client (setup, not measured).
func putKey(ctx context.Context, c *http.Client, base, key string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/v1/kv/"+key, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return load.Exchange(c, req)
}

func batchOp(prefix string, ops, size, keys int) func(load.Requester) load.Op {
	val := string(value(size))
	return func(rq load.Requester) load.Op {
		return func(ctx context.Context, w int, seq int64) error {
			body := batchBody(prefix, seq*int64(ops), ops, keys, val)
			return rq.Request(ctx, w, http.MethodPost, "/api/v1/kv/batch", "application/json", body)
		}
	}
}

// batchBody is a batch of n set ops on the keys from seq on; val must not
// need JSON escaping.
func batchBody(prefix string, seq int64, n, keys int, val string) []byte {
	b := make([]byte, 0, n*(len(val)+48)+16)
	b = append(b, `{"ops":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":"set","key":"`...)
		b = append(b, keyAt(prefix, seq+int64(i), keys)...)
		b = append(b, `","value":"`...)
		b = append(b, val...)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}

func mixOp(prefix string, size, keys int) func(load.Requester) load.Op {
	body := value(size)
	return func(rq load.Requester) load.Op {
		return func(ctx context.Context, w int, seq int64) error {
			key := "/api/v1/kv/" + keyAt(prefix, seq, keys)
			if seq%10 == 9 {
				return rq.Request(ctx, w, http.MethodPut, key, "application/octet-stream", body)
			}
			return rq.Request(ctx, w, http.MethodGet, key, "", nil)
		}
	}
}

// prepare stores the keys a read scenario reads, in batches.
func (s Scenario) prepare(ctx context.Context, c *http.Client, base string) error {
	if !s.preload {
		return nil
	}
	return fill(ctx, c, base, s.prefix, s.Keys, s.ValueSize, 1)
}

// fill writes keys prefix-0..prefix-(n-1) with size-byte values, rounds
// times over, in batches of up to 500 sets from 4 clients.
func fill(ctx context.Context, c *http.Client, base, prefix string, n, size, rounds int) error {
	const per = 500
	val := string(value(size))
	chunks := (n + per - 1) / per
	total := int64(chunks * rounds)
	var next atomic.Int64
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				i := next.Add(1) - 1
				if i >= total || ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				chunk := int(i % int64(chunks))
				from, to := chunk*per, min(n, (chunk+1)*per)
				b := make([]byte, 0, (to-from)*(size+48)+16)
				b = append(b, `{"ops":[`...)
				for k := from; k < to; k++ {
					if k > from {
						b = append(b, ',')
					}
					b = fmt.Appendf(b, `{"op":"set","key":"%s-%d","value":"%s"}`, prefix, k, val)
				}
				b = append(b, "]}"...)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/kv/batch", bytes.NewReader(b))
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
					err = load.Exchange(c, req)
				}
				if err != nil {
					errs <- fmt.Errorf("fill %s: %w", prefix, err)
					return
				}
			}
		}()
	}
	var first error
	for range 4 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
