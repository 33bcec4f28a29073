package suite

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func TestSpecID(t *testing.T) {
	tests := []struct {
		name, text string
	}{
		{"plain", "the version endpoint reports every field"},
		{"symbols", `eviction keeps --max-memory 16MiB with "lru" (3× the limit) / $HOME`},
		{"long", strings.Repeat("very long spec text ", 20)},
	}
	safe := regexp.MustCompile(`^[a-z0-9-]+$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := SpecID(tt.text)
			if !safe.MatchString(id) {
				t.Fatalf("id %q is not filesystem-safe", id)
			}
			if len(id) > 80+9 {
				t.Fatalf("id %q is too long", id)
			}
			if SpecID(tt.text) != id {
				t.Fatal("id is not stable")
			}
			if SpecID(tt.text+"x") == id {
				t.Fatal("different texts share an id")
			}
		})
	}
}

// TestShellQuote passes quoted strings through /bin/sh and back: the
// re-run command must reach ginkgo exactly as written.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{
		"plain text",
		regexp.QuoteMeta(`batches (atomic) cost $5 at 1.5× "rate" \ back` + "`tick`"),
		`{"KVSERVER_MUTANT":"stale-read"}`,
	} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Fatalf("through the shell %q became %q", s, out)
		}
	}
}
