package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kvchaos/kvchaos/server/store"
)

func TestDecodeBatch(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantOps []store.Op
		wantIdx int    // op_index of the error; -1 for the body
		wantErr string // substring of the reason; "" for success
	}{
		{name: "all kinds", body: `{"ops":[{"op":"set","key":"a","value":"x","ttl":"5s"},{"op":"set","key":"b","value_base64":"AP8=","content_type":"t/x"},{"op":"delete","key":"a"},{"op":"get","key":"b"},{"op":"check","key":"b","revision":3},{"op":"check","key":"c","exists":false}]}`,
			wantOps: []store.Op{
				{Kind: store.OpSet, Key: "a", Value: []byte("x"), TTL: 5 * time.Second},
				{Kind: store.OpSet, Key: "b", Value: []byte{0, 0xff}, ContentType: "t/x"},
				{Kind: store.OpDelete, Key: "a"},
				{Kind: store.OpGet, Key: "b"},
				{Kind: store.OpCheck, Key: "b", IfRevision: 3},
				{Kind: store.OpCheck, Key: "c", IfAbsent: true},
			}},
		{name: "empty value", body: `{"ops":[{"op":"set","key":"a","value":""}]}`, wantOps: []store.Op{{Kind: store.OpSet, Key: "a", Value: []byte{}}}},
		{name: "not json", body: `nope`, wantIdx: -1, wantErr: "not a JSON object"},
		{name: "trailing data", body: `{"ops":[{"op":"get","key":"a"}]} {}`, wantIdx: -1, wantErr: "trailing"},
		{name: "unknown top field", body: `{"ops":[],"x":1}`, wantIdx: -1, wantErr: "unknown field"},
		{name: "no ops", body: `{}`, wantIdx: -1, wantErr: "non-empty"},
		{name: "empty ops", body: `{"ops":[]}`, wantIdx: -1, wantErr: "non-empty"},
		{name: "ops not array", body: `{"ops":{}}`, wantIdx: -1, wantErr: "not a JSON object"},
		{name: "op not object", body: `{"ops":[1]}`, wantIdx: 0, wantErr: "not a valid op"},
		{name: "missing op", body: `{"ops":[{"key":"a"}]}`, wantIdx: 0, wantErr: "op is required"},
		{name: "unknown op", body: `{"ops":[{"op":"get","key":"a"},{"op":"incr","key":"a"}]}`, wantIdx: 1, wantErr: "unknown op"},
		{name: "unknown op field", body: `{"ops":[{"op":"get","key":"a","valu":"x"}]}`, wantIdx: 0, wantErr: "unknown field"},
		{name: "missing key", body: `{"ops":[{"op":"get"}]}`, wantIdx: 0, wantErr: "key is required"},
		{name: "empty key", body: `{"ops":[{"op":"get","key":""}]}`, wantIdx: 0, wantErr: "invalid key"},
		{name: "long key", body: `{"ops":[{"op":"get","key":"` + strings.Repeat("k", MaxKeyLen+1) + `"}]}`, wantIdx: 0, wantErr: "invalid key"},
		{name: "invalid utf8 key", body: "{\"ops\":[{\"op\":\"get\",\"key\":\"\xff\"}]}", wantIdx: -1, wantErr: "UTF-8"},
		{name: "set without value", body: `{"ops":[{"op":"set","key":"a"}]}`, wantIdx: 0, wantErr: "needs value"},
		{name: "set with both values", body: `{"ops":[{"op":"set","key":"a","value":"x","value_base64":"eA=="}]}`, wantIdx: 0, wantErr: "not both"},
		{name: "bad base64", body: `{"ops":[{"op":"set","key":"a","value_base64":"***"}]}`, wantIdx: 0, wantErr: "base64"},
		{name: "bad ttl", body: `{"ops":[{"op":"set","key":"a","value":"x","ttl":"0"}]}`, wantIdx: 0, wantErr: "ttl"},
		{name: "ttl overflow", body: `{"ops":[{"op":"set","key":"a","value":"x","ttl":"9223372036854775808ns"}]}`, wantIdx: 0, wantErr: "ttl"},
		{name: "ttl not string", body: `{"ops":[{"op":"set","key":"a","value":"x","ttl":5}]}`, wantIdx: 0, wantErr: "not a valid op"},
		{name: "set with revision", body: `{"ops":[{"op":"set","key":"a","value":"x","revision":1}]}`, wantIdx: 0, wantErr: "no revision"},
		{name: "get with value", body: `{"ops":[{"op":"get","key":"a","value":"x"}]}`, wantIdx: 0, wantErr: "only op and key"},
		{name: "delete with revision", body: `{"ops":[{"op":"delete","key":"a","revision":2}]}`, wantIdx: 0, wantErr: "only op and key"},
		{name: "check without condition", body: `{"ops":[{"op":"check","key":"a"}]}`, wantIdx: 0, wantErr: "needs revision"},
		{name: "check exists true", body: `{"ops":[{"op":"check","key":"a","exists":true}]}`, wantIdx: 0, wantErr: "exists:true"},
		{name: "check both", body: `{"ops":[{"op":"check","key":"a","exists":false,"revision":1}]}`, wantIdx: 0, wantErr: "not both"},
		{name: "check revision zero", body: `{"ops":[{"op":"check","key":"a","revision":0}]}`, wantIdx: 0, wantErr: "at least 1"},
		{name: "check negative revision", body: `{"ops":[{"op":"check","key":"a","revision":-1}]}`, wantIdx: 0, wantErr: "not a valid op"},
		{name: "check with value", body: `{"ops":[{"op":"check","key":"a","revision":1,"value":"x"}]}`, wantIdx: 0, wantErr: "check takes only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := decodeBatch([]byte(tt.body), 10, time.Hour)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if len(ops) != len(tt.wantOps) {
					t.Fatalf("ops %+v, want %+v", ops, tt.wantOps)
				}
				for i := range ops {
					if !opEqual(ops[i], tt.wantOps[i]) {
						t.Errorf("op %d = %+v, want %+v", i, ops[i], tt.wantOps[i])
					}
				}
				return
			}
			var be *batchError
			if !errors.As(err, &be) || be.index != tt.wantIdx || !strings.Contains(be.reason, tt.wantErr) {
				t.Fatalf("error %v, want op %d with %q", err, tt.wantIdx, tt.wantErr)
			}
		})
	}
	body := `{"ops":[` + strings.TrimSuffix(strings.Repeat(`{"op":"get","key":"a"},`, 11), ",") + `]}`
	if _, err := decodeBatch([]byte(body), 10, time.Hour); !errors.Is(err, errTooManyOps) {
		t.Fatalf("11 ops with a limit of 10: %v", err)
	}
}

func opEqual(a, b store.Op) bool {
	return a.Kind == b.Kind && a.Key == b.Key && string(a.Value) == string(b.Value) && (a.Value == nil) == (b.Value == nil) &&
		a.ContentType == b.ContentType && a.TTL == b.TTL && a.IfRevision == b.IfRevision && a.IfAbsent == b.IfAbsent && a.MustExist == b.MustExist
}

// FuzzDecodeBatch checks that decoding never panics and that every batch
// it accepts is one the store may be given.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`{"ops":[{"op":"set","key":"a","value":"x","ttl":"5s"}]}`,
		`{"ops":[{"op":"set","key":"b","value_base64":"AP8="},{"op":"check","key":"b","revision":3}]}`,
		`{"ops":[{"op":"check","key":"c","exists":false},{"op":"delete","key":"a"},{"op":"get","key":"a"}]}`,
		`{"ops":[]}`, `{"ops":null}`, `[]`, `null`, `{"ops":[{}]}`, "{\"ops\":[{\"op\":\"get\",\"key\":\"\xff\"}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := decodeBatch(body, 8, time.Hour)
		if err != nil {
			var be *batchError
			if !errors.As(err, &be) && !errors.Is(err, errTooManyOps) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if len(ops) == 0 || len(ops) > 8 {
			t.Fatalf("accepted %d ops", len(ops))
		}
		for i, op := range ops {
			if validateKey(op.Key) != nil {
				t.Fatalf("op %d: accepted invalid key %q", i, op.Key)
			}
			switch op.Kind {
			case store.OpSet:
				if op.Value == nil || op.ContentType == defaultContentType || op.TTL < 0 || op.TTL > time.Hour || op.IfRevision != 0 || op.IfAbsent {
					t.Fatalf("op %d: bad set %+v", i, op)
				}
			case store.OpCheck:
				if (op.IfRevision != 0) == op.IfAbsent {
					t.Fatalf("op %d: check needs exactly one condition: %+v", i, op)
				}
			case store.OpGet, store.OpDelete:
				if op.Value != nil || op.IfRevision != 0 || op.IfAbsent || op.TTL != 0 {
					t.Fatalf("op %d: bad %s %+v", i, op.Kind, op)
				}
			default:
				t.Fatalf("op %d: kind %q", i, op.Kind)
			}
		}
	})
}
