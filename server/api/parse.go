package api

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes after URL-unescaping.
const MaxKeyLen = 1024

// kvPrefix is the escaped path prefix of the single-key routes.
const kvPrefix = "/api/v1/kv/"

// keyFromPath returns the key named by an escaped request path such as
// /api/v1/kv/a%2Fb. The key is taken from the escaped form, so %2F and a
// literal / both give a slash, and every escape is decoded exactly once.
func keyFromPath(escapedPath string) (string, error) {
	raw, ok := strings.CutPrefix(escapedPath, kvPrefix)
	if !ok {
		return "", fmt.Errorf("path %q is not under %s", escapedPath, kvPrefix)
	}
	key, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("bad escape in key: %w", err)
	}
	return key, validateKey(key)
}

// validateKey checks that key is 1..MaxKeyLen bytes of valid UTF-8.
func validateKey(key string) error {
	switch {
	case key == "":
		return errors.New("key must not be empty")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("key is %d bytes, longer than %d", len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return errors.New("key is not valid UTF-8")
	}
	return nil
}

// parseTTL parses a TTL given as a Go duration ("90s", "1500ms") or as whole
// seconds ("90"). It must be > 0 and <= max. Overflowing values
// ("9223372036854775808ns", "1e30", 20-digit seconds) are errors, never
// wrapped-around durations.
func parseTTL(s string, max time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("ttl is empty")
	}
	var d time.Duration
	if isDigits(s) {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs > int64(max/time.Second) {
			return 0, fmt.Errorf("ttl %q is longer than the maximum %s", s, max)
		}
		d = time.Duration(secs) * time.Second
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("ttl %q is neither a Go duration (90s, 36h) nor whole seconds", s)
		}
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("ttl %q must be positive", s)
	case d > max:
		return 0, fmt.Errorf("ttl %q is longer than the maximum %s", s, max)
	}
	return d, nil
}

// isDigits reports whether s is non-empty and all ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// etag formats a revision as an entity tag.
func etag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// parseIfMatch parses an If-Match header holding one revision entity tag,
// "<revision>". Lists, weak tags and * are refused: a conditional write
// names exactly the revision it expects.
func parseIfMatch(h string) (uint64, error) {
	h = strings.TrimSpace(h)
	if h == "*" {
		return 0, errors.New(`If-Match: * is not supported; send the revision as "<revision>"`)
	}
	inner, ok := strings.CutPrefix(h, `"`)
	if ok {
		inner, ok = strings.CutSuffix(inner, `"`)
	}
	if !ok || !isDigits(inner) {
		return 0, fmt.Errorf(`If-Match %q is not a revision entity tag "<revision>"`, h)
	}
	rev, err := strconv.ParseUint(inner, 10, 64)
	if err != nil || rev == 0 {
		return 0, fmt.Errorf("If-Match %q is not a valid revision", h)
	}
	return rev, nil
}

// noneMatch reports whether an If-None-Match header on a read matches the
// current entity tag: * matches any existing key, otherwise one of the
// comma-separated tags must equal it (weak comparison, W/ ignored).
func noneMatch(h, current string) bool {
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == current {
			return true
		}
	}
	return false
}

// timeFormat is RFC 3339 with nanoseconds always shown, in UTC.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime formats an expiry; the zero time (no expiry) gives nil, which
// encodes as JSON null.
func formatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(timeFormat)
	return &s
}
