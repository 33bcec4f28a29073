package harness

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// Batch op names.
const (
	BatchSet    = "set"
	BatchDelete = "delete"
	BatchGet    = "get"
	BatchCheck  = "check"
)

// BatchOp is one op of POST /api/v1/kv/batch. Value is sent as
// value_base64; in a history only its ValueRef is kept.
type BatchOp struct {
	Op  string `json:"op"`
	Key string `json:"key"`
	// Value is the value of a set.
	Value []byte `json:"-"`
	// Ref is Value's ValueRef (filled when recorded).
	Ref *ValueRef `json:"value,omitempty"`
	TTL string    `json:"ttl,omitempty"`
	// Revision is a check's expected revision (0: no revision check).
	Revision uint64 `json:"revision,omitempty"`
	// Exists, when non-nil, is a check's expected existence (false: the
	// key must be absent).
	Exists *bool `json:"exists,omitempty"`
}

// Set, Del, GetOp, CheckRev and CheckAbsent build batch ops.
func Set(key string, value []byte) BatchOp { return BatchOp{Op: BatchSet, Key: key, Value: value} }

// Del is a batch delete.
func Del(key string) BatchOp { return BatchOp{Op: BatchDelete, Key: key} }

// GetOp is a batch get.
func GetOp(key string) BatchOp { return BatchOp{Op: BatchGet, Key: key} }

// CheckRev is a check that key has exactly revision rev.
func CheckRev(key string, rev uint64) BatchOp {
	return BatchOp{Op: BatchCheck, Key: key, Revision: rev}
}

// CheckAbsent is a check that key does not exist.
func CheckAbsent(key string) BatchOp {
	f := false
	return BatchOp{Op: BatchCheck, Key: key, Exists: &f}
}

// BatchResult is one op's result in a successful batch.
type BatchResult struct {
	Op       string `json:"op"`
	Key      string `json:"key"`
	Revision uint64 `json:"revision,omitempty"`
	Created  bool   `json:"created,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
	Found    bool   `json:"found,omitempty"`
	// Data is a get's value (decoded from value_base64 or value); in a
	// history only Ref is kept.
	Data []byte    `json:"-"`
	Ref  *ValueRef `json:"value,omitempty"`
}

// BatchReply is the body of a successful batch.
type BatchReply struct {
	Revision uint64        `json:"revision"`
	Results  []BatchResult `json:"results"`
}

// wireOp is a batch op as the server reads it.
type wireOp struct {
	Op          string `json:"op"`
	Key         string `json:"key"`
	ValueBase64 string `json:"value_base64,omitempty"`
	TTL         string `json:"ttl,omitempty"`
	Revision    uint64 `json:"revision,omitempty"`
	Exists      *bool  `json:"exists,omitempty"`
}

// wireResult is a result as the server writes it; unknown fields ignored.
type wireResult struct {
	Op          string  `json:"op"`
	Key         string  `json:"key"`
	Revision    uint64  `json:"revision"`
	Created     bool    `json:"created"`
	Deleted     bool    `json:"deleted"`
	Found       bool    `json:"found"`
	Value       *string `json:"value"`
	ValueBase64 *string `json:"value_base64"`
}

// Batch applies ops atomically. A failed check is an *APIError with code
// BATCH_CONDITION_FAILED and details.op_index.
func (c *Client) Batch(ctx context.Context, ops []BatchOp) (*BatchReply, error) {
	wire := make([]wireOp, len(ops))
	rec := make([]BatchOp, len(ops))
	key := ""
	for i, op := range ops {
		wire[i] = wireOp{Op: op.Op, Key: op.Key, TTL: op.TTL, Revision: op.Revision, Exists: op.Exists}
		rec[i] = op
		rec[i].Value = nil
		if op.Op == BatchSet {
			wire[i].ValueBase64 = base64.StdEncoding.EncodeToString(op.Value)
			ref := RefOf(op.Value)
			rec[i].Ref = &ref
		}
		if i == 0 {
			key = op.Key
		}
	}
	r := c.begin(KindBatch, key, OpInput{Ops: rec})
	body, err := json.Marshal(map[string]any{"ops": wire})
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	resp, b, err := c.do(ctx, http.MethodPost, "/api/v1/kv/batch", body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		r.finish(resp, err, nil)
		return nil, err
	}
	var w struct {
		Revision uint64       `json:"revision"`
		Results  []wireResult `json:"results"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		err = fmt.Errorf("batch: decode %q: %w", truncate(string(b), 200), err)
		r.finish(resp, err, nil)
		return nil, err
	}
	reply := &BatchReply{Revision: w.Revision, Results: make([]BatchResult, len(w.Results))}
	recRes := make([]BatchResult, len(w.Results))
	for i, wr := range w.Results {
		br := BatchResult{Op: wr.Op, Key: wr.Key, Revision: wr.Revision, Created: wr.Created, Deleted: wr.Deleted, Found: wr.Found}
		switch {
		case wr.ValueBase64 != nil:
			br.Data, _ = base64.StdEncoding.DecodeString(*wr.ValueBase64)
		case wr.Value != nil:
			br.Data = []byte(*wr.Value)
		}
		if br.Op == "" && i < len(ops) {
			br.Op = ops[i].Op
		}
		if br.Key == "" && i < len(ops) {
			br.Key = ops[i].Key
		}
		reply.Results[i] = br
		recRes[i] = br
		recRes[i].Data = nil
		if br.Op == BatchGet && br.Found {
			ref := RefOf(br.Data)
			recRes[i].Ref = &ref
		}
	}
	r.finish(resp, nil, OpOutput{Revision: w.Revision, Results: recRes})
	return reply, nil
}
