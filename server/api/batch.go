package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/kvchaos/kvchaos/server/store"
)

// batchRequest is the body of POST /api/v1/kv/batch.
type batchRequest struct {
	Ops []json.RawMessage `json:"ops"`
}

// batchOp is one op of a batch as sent. Pointers tell "absent" from zero.
type batchOp struct {
	Op          string  `json:"op"`
	Key         *string `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 *string `json:"value_base64"`
	ContentType *string `json:"content_type"`
	TTL         *string `json:"ttl"`
	Revision    *uint64 `json:"revision"`
	Exists      *bool   `json:"exists"`
}

// batchResponse is the body of a committed batch.
type batchResponse struct {
	Revision uint64        `json:"revision"`
	Results  []batchResult `json:"results"`
}

// batchResult is one op's outcome. set: revision, size, expires_at,
// created; delete: deleted; get: found and, when found, revision, size,
// content_type, expires_at and the value as "value" when it is valid UTF-8,
// else as "value_base64"; check: revision of the key when it exists.
type batchResult struct {
	Op          string  `json:"op"`
	Key         string  `json:"key"`
	Created     *bool   `json:"created,omitempty"`
	Deleted     *bool   `json:"deleted,omitempty"`
	Found       *bool   `json:"found,omitempty"`
	Revision    uint64  `json:"revision,omitempty"`
	Size        *int    `json:"size,omitempty"`
	ContentType string  `json:"content_type,omitempty"`
	ExpiresAt   *string `json:"expires_at,omitempty"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 *string `json:"value_base64,omitempty"`
}

// batchError is a validation failure of a batch: the op it is about (-1 for
// the body as a whole) and why.
type batchError struct {
	index  int
	reason string
}

func (e *batchError) Error() string { return fmt.Sprintf("op %d: %s", e.index, e.reason) }

// decodeBatch parses and validates a whole batch body into store ops,
// before anything is applied. It returns *batchError for a malformed body
// or op, and errTooManyOps past maxOps.
func decodeBatch(body []byte, maxOps int, maxTTL time.Duration) ([]store.Op, error) {
	// encoding/json would silently turn invalid UTF-8 into U+FFFD, and so
	// store under a key the client never sent.
	if !utf8.Valid(body) {
		return nil, &batchError{-1, "body is not valid UTF-8; send binary values as value_base64"}
	}
	var req batchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, &batchError{-1, "body is not a JSON object {\"ops\":[...]}: " + err.Error()}
	}
	if dec.More() {
		return nil, &batchError{-1, "trailing data after the JSON object"}
	}
	if len(req.Ops) == 0 {
		return nil, &batchError{-1, "ops must be a non-empty array"}
	}
	if len(req.Ops) > maxOps {
		return nil, fmt.Errorf("%w: %d ops, the limit is %d", errTooManyOps, len(req.Ops), maxOps)
	}
	ops := make([]store.Op, len(req.Ops))
	for i, raw := range req.Ops {
		op, reason := decodeOp(raw, maxTTL)
		if reason != "" {
			return nil, &batchError{i, reason}
		}
		ops[i] = op
	}
	return ops, nil
}

// errTooManyOps: the batch has more ops than allowed.
var errTooManyOps = errors.New("too many ops in batch")

// decodeOp validates one op; a non-empty reason says what is wrong.
func decodeOp(raw json.RawMessage, maxTTL time.Duration) (store.Op, string) {
	var in batchOp
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return store.Op{}, "not a valid op object: " + err.Error()
	}
	if in.Key == nil {
		return store.Op{}, "key is required"
	}
	if err := validateKey(*in.Key); err != nil {
		return store.Op{}, "invalid key: " + err.Error()
	}
	op := store.Op{Key: *in.Key}
	setOnly := in.Value != nil || in.ValueBase64 != nil || in.ContentType != nil || in.TTL != nil
	switch in.Op {
	case "set":
		op.Kind = store.OpSet
		switch {
		case in.Value != nil && in.ValueBase64 != nil:
			return op, "set takes value or value_base64, not both"
		case in.Value != nil:
			op.Value = []byte(*in.Value)
		case in.ValueBase64 != nil:
			v, err := base64.StdEncoding.DecodeString(*in.ValueBase64)
			if err != nil {
				return op, "value_base64 is not valid base64: " + err.Error()
			}
			op.Value = v
		default:
			return op, "set needs value or value_base64"
		}
		if in.ContentType != nil {
			op.ContentType = storedContentType(*in.ContentType)
		}
		if in.TTL != nil {
			ttl, err := parseTTL(*in.TTL, maxTTL)
			if err != nil {
				return op, "invalid ttl: " + err.Error()
			}
			op.TTL = ttl
		}
		if in.Revision != nil || in.Exists != nil {
			return op, "set takes no revision or exists"
		}
	case "delete", "get":
		op.Kind = store.OpDelete
		if in.Op == "get" {
			op.Kind = store.OpGet
		}
		if setOnly || in.Revision != nil || in.Exists != nil {
			return op, in.Op + " takes only op and key"
		}
	case "check":
		op.Kind = store.OpCheck
		switch {
		case setOnly:
			return op, "check takes only key and revision or exists:false"
		case in.Revision != nil && in.Exists != nil:
			return op, "check takes revision or exists:false, not both"
		case in.Revision != nil:
			if *in.Revision == 0 {
				return op, "revision must be at least 1"
			}
			op.IfRevision = *in.Revision
		case in.Exists != nil && !*in.Exists:
			op.IfAbsent = true
		case in.Exists != nil:
			return op, `exists:true is not supported; check with "revision"`
		default:
			return op, "check needs revision or exists:false"
		}
	case "":
		return op, "op is required (set, delete, get or check)"
	default:
		return op, fmt.Sprintf("unknown op %q (want set, delete, get or check)", in.Op)
	}
	return op, ""
}

// batch applies a batch of ops atomically.
func (s *Server) batch(c echo.Context) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	body, err := readBody(c, s.cfg.MaxBodySize)
	if err != nil {
		return err
	}
	ops, err := decodeBatch(body, s.cfg.MaxBatchOps, s.cfg.MaxTTL)
	var be *batchError
	switch {
	case errors.As(err, &be):
		details := map[string]any{"reason": be.reason}
		if be.index >= 0 {
			details["op_index"] = be.index
		}
		return apiError(http.StatusBadRequest, CodeInvalidBatch, be.Error(), details)
	case errors.Is(err, errTooManyOps):
		return apiError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, err.Error(),
			map[string]any{"max_batch_ops": s.cfg.MaxBatchOps})
	case err != nil:
		return err
	}
	res, err := db.Apply(ops)
	if err != nil {
		var ce *store.ConditionError
		if errors.As(err, &ce) {
			return &Error{Status: http.StatusConflict, Code: CodeBatchConditionFailed, Message: ce.Error(),
				Details: map[string]any{"op_index": ce.OpIndex, "key": ce.Key, "reason": ce.Reason}, Err: err}
		}
		return storeError(err)
	}
	out := batchResponse{Revision: res.Revision, Results: make([]batchResult, len(ops))}
	for i, op := range ops {
		var r store.OpResult
		if i < len(res.Results) {
			r = res.Results[i]
		}
		out.Results[i] = encodeResult(op, r)
	}
	return c.JSON(http.StatusOK, out)
}

// encodeResult renders one op's outcome.
func encodeResult(op store.Op, r store.OpResult) batchResult {
	out := batchResult{Op: string(op.Kind), Key: op.Key}
	meta := func(m *store.Meta) {
		if m == nil {
			return
		}
		size := m.Size
		out.Revision, out.Size, out.ExpiresAt = m.Revision, &size, formatTime(m.ExpiresAt)
	}
	switch op.Kind {
	case store.OpSet:
		created := r.Created
		out.Created = &created
		meta(r.Meta)
	case store.OpDelete:
		deleted := r.Deleted
		out.Deleted = &deleted
	case store.OpGet:
		found := r.Found && r.Entry != nil
		out.Found = &found
		if found {
			meta(&r.Entry.Meta)
			out.ContentType = shownContentType(r.Entry.ContentType)
			if v := r.Entry.Value; utf8.Valid(v) {
				s := string(v)
				out.Value = &s
			} else {
				s := base64.StdEncoding.EncodeToString(v)
				out.ValueBase64 = &s
			}
		}
	case store.OpCheck:
		if r.Meta != nil {
			out.Revision = r.Meta.Revision
		}
	}
	return out
}
