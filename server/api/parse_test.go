package api

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestKeyFromPath(t *testing.T) {
	tests := []struct {
		name, path, want string
		wantErr          bool
	}{
		{name: "plain", path: "/api/v1/kv/a", want: "a"},
		{name: "slashes", path: "/api/v1/kv/a/b/c", want: "a/b/c"},
		{name: "escaped slash", path: "/api/v1/kv/a%2Fb", want: "a/b"},
		{name: "escaped percent", path: "/api/v1/kv/100%25", want: "100%"},
		{name: "unicode", path: "/api/v1/kv/%E2%9C%93", want: "✓"},
		{name: "space and plus", path: "/api/v1/kv/a%20b+c", want: "a b+c"},
		{name: "max length", path: "/api/v1/kv/" + strings.Repeat("k", MaxKeyLen), want: strings.Repeat("k", MaxKeyLen)},
		{name: "max length escaped", path: "/api/v1/kv/" + strings.Repeat("%2F", MaxKeyLen), want: strings.Repeat("/", MaxKeyLen)},
		{name: "empty", path: "/api/v1/kv/", wantErr: true},
		{name: "too long", path: "/api/v1/kv/" + strings.Repeat("k", MaxKeyLen+1), wantErr: true},
		{name: "bad escape", path: "/api/v1/kv/%zz", wantErr: true},
		{name: "cut escape", path: "/api/v1/kv/a%2", wantErr: true},
		{name: "invalid utf8", path: "/api/v1/kv/%FF", wantErr: true},
		{name: "other prefix", path: "/api/v1/kvx", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keyFromPath(tt.path)
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
				t.Fatalf("keyFromPath(%q) = %q, %v; want %q, error %v", tt.path, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzKeyFromPath checks that an accepted key is valid and that escaping
// any valid key and parsing it back gives the same key.
func FuzzKeyFromPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "a%2Fb", "%FF", "%", "%e2%9c%93", "", strings.Repeat("%41", 1025)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		key, err := keyFromPath(kvPrefix + raw)
		if err == nil && (key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key)) {
			t.Fatalf("accepted invalid key %q from %q", key, raw)
		}
		if validateKey(raw) != nil {
			return
		}
		back, err := keyFromPath(kvPrefix + url.PathEscape(raw))
		if err != nil || back != raw {
			t.Fatalf("round trip of %q: %q, %v", raw, back, err)
		}
	})
}

func TestParseTTL(t *testing.T) {
	max := DefaultMaxTTL
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "90s", want: 90 * time.Second},
		{in: "36h", want: 36 * time.Hour},
		{in: "1500ms", want: 1500 * time.Millisecond},
		{in: "1ns", want: 1},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "90", want: 90 * time.Second},
		{in: "3155760000", want: max}, // 100 years in seconds
		{in: "3155760001", wantErr: true},
		{in: "876600h", want: max},
		{in: "876601h", wantErr: true},
		{in: "0", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "-5s", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "+5", wantErr: true},
		{in: "9223372036854775807ns", wantErr: true}, // fits, but over max
		{in: "9223372036854775808ns", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
		{in: "1e30", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "", wantErr: true},
		{in: "soon", wantErr: true},
		{in: " 5s", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTTL(tt.in, max)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseTTL(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzParseTTL checks that an accepted TTL is in (0, max] and agrees with
// time.ParseDuration or whole seconds.
func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"90s", "90", "0", "-1s", "9223372036854775808ns", "1e30", "1h30m", "18446744073709551616", ".5s"} {
		f.Add(s)
	}
	const max = time.Hour
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseTTL(s, max)
		if err != nil {
			return
		}
		if d <= 0 || d > max {
			t.Fatalf("parseTTL(%q) = %v, outside (0, %v]", s, d, max)
		}
		if want, perr := time.ParseDuration(s); perr == nil && want != d {
			t.Fatalf("parseTTL(%q) = %v, ParseDuration says %v", s, d, want)
		}
	})
}

func TestParseIfMatch(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{in: `"1"`, want: 1},
		{in: ` "42" `, want: 42},
		{in: `"18446744073709551615"`, want: 1<<64 - 1},
		{in: `"18446744073709551616"`, wantErr: true},
		{in: `"0"`, wantErr: true},
		{in: `1`, wantErr: true},
		{in: `W/"1"`, wantErr: true},
		{in: `"1", "2"`, wantErr: true},
		{in: `"-1"`, wantErr: true},
		{in: `""`, wantErr: true},
		{in: `"`, wantErr: true},
		{in: `*`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseIfMatch(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseIfMatch(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNoneMatch(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{`"3"`, true}, {`W/"3"`, true}, {`"1", "3"`, true}, {`*`, true},
		{`"4"`, false}, {`3`, false}, {`"33"`, false}, {``, false},
	}
	for _, tt := range tests {
		if got := noneMatch(tt.header, `"3"`); got != tt.want {
			t.Errorf("noneMatch(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}
