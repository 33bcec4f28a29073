package gen

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	reLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	reHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	reAnchor  = regexp.MustCompile(`<a id="([^"]+)"></a>`)
)

// TestPageLinksResolve checks every relative link of the generated pages:
// the file or directory exists, and an #anchor names a heading or an
// <a id> of the target page.
func TestPageLinksResolve(t *testing.T) {
	files, err := Render(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	anchorsOf := func(page string) map[string]bool {
		b, ok := files[page]
		if !ok {
			b, _ = os.ReadFile(filepath.Join(repoRoot, page))
		}
		return anchors(string(b))
	}
	checked := 0
	for _, p := range sortedKeys(files) {
		if !strings.HasSuffix(p, ".md") {
			continue
		}
		for _, m := range reLink.FindAllStringSubmatch(string(files[p]), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			checked++
			target, anchor, _ := strings.Cut(link, "#")
			page := p
			if target != "" {
				page = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(p), target)))
				if _, err := os.Stat(filepath.Join(repoRoot, page)); err != nil {
					if _, generated := files[page]; !generated {
						t.Errorf("%s links to %s, which does not exist", p, link)
						continue
					}
				}
			}
			if anchor != "" && strings.HasSuffix(page, ".md") && !anchorsOf(page)[anchor] {
				t.Errorf("%s links to %s, but %s has no anchor %q", p, link, page, anchor)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d links checked; is the link pattern still right?", checked)
	}
}

// TestAnchors pins the heading slugs GitHub makes.
func TestAnchors(t *testing.T) {
	a := anchors("# Memory limit and eviction\n## `--sync` policy: why?\n<a id=\"ex-get\"></a>\n")
	for _, want := range []string{"memory-limit-and-eviction", "--sync-policy-why", "ex-get"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
}

// anchors returns the anchors of a Markdown page: GitHub's heading slugs
// (lower case, punctuation dropped, spaces to hyphens) and <a id>s.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range reHeading.FindAllStringSubmatch(md, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	for _, m := range reAnchor.FindAllStringSubmatch(md, -1) {
		out[m[1]] = true
	}
	return out
}
