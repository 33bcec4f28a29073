package harness

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

func TestWriteJSONOneElementPerLine(t *testing.T) {
	dir := t.TempDir()
	ops := []artifact.Op{{Client: 1, Kind: "put", Key: "a", Outcome: "ok"}, {Client: 2, Kind: "get", Key: "b", Outcome: "unknown"}}
	for _, tc := range []struct {
		name  string
		v     any
		lines int
	}{{"ops", ops, 4}, {"empty", []artifact.Op{}, 2}} {
		path := filepath.Join(dir, tc.name+".json")
		if err := WriteJSON(path, tc.v); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if n := strings.Count(string(b), "\n"); n != tc.lines {
			t.Fatalf("%s: %d lines, want %d:\n%s", tc.name, n, tc.lines, b)
		}
		var back []artifact.Op
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: not valid JSON: %v\n%s", tc.name, err, b)
		}
	}
	got, err := ReadHistory(filepath.Join(dir, "ops.json"))
	if err != nil || len(got) != 2 || got[1].Outcome != "unknown" {
		t.Fatalf("read back %+v %v", got, err)
	}
}
