package gen

import (
	"fmt"
	"regexp"
	"strings"
)

// ShellBlock is one ```sh block of a Markdown page and the doctest
// directive in the HTML comment on the line before it, if any.
type ShellBlock struct {
	// Line is the 1-based line of the opening fence.
	Line int
	// Code is the block's content.
	Code string
	// Skip is true for "doctest: skip"; Instead is the command of
	// "doctest: instead: CMD"; Reason says why, for either.
	Skip    bool
	Instead string
	Reason  string
}

// Run is what a test executes for the block ("" when skipped).
func (b ShellBlock) Run() string {
	switch {
	case b.Skip:
		return ""
	case b.Instead != "":
		return b.Instead
	}
	return b.Code
}

var reDirective = regexp.MustCompile(`^<!-- doctest: (skip|instead: (.+?)) — (.+?) -->$`)

// ShellBlocks extracts the ```sh blocks of a Markdown page with their
// directives. A comment that starts with "<!-- doctest:" but does not parse,
// or is not followed by a ```sh block, is an error, so a typo cannot turn
// a skip into a silent run or the other way round.
func ShellBlocks(md string) ([]ShellBlock, error) {
	lines := strings.Split(md, "\n")
	var out []ShellBlock
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "<!-- doctest:") {
			m := reDirective.FindStringSubmatch(l)
			if m == nil {
				return nil, fmt.Errorf("line %d: bad doctest directive %q (want `<!-- doctest: skip — REASON -->` or `<!-- doctest: instead: CMD — REASON -->`)", i+1, l)
			}
			if i+1 >= len(lines) || lines[i+1] != "```sh" {
				return nil, fmt.Errorf("line %d: doctest directive not followed by a ```sh block", i+1)
			}
			continue
		}
		if l != "```sh" {
			continue
		}
		b := ShellBlock{Line: i + 1}
		if i > 0 {
			if m := reDirective.FindStringSubmatch(lines[i-1]); m != nil {
				b.Skip = m[1] == "skip"
				b.Instead = m[2]
				b.Reason = m[3]
			}
		}
		var code []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			code = append(code, lines[i])
		}
		if i >= len(lines) {
			return nil, fmt.Errorf("line %d: unclosed ```sh block", b.Line)
		}
		b.Code = strings.Join(code, "\n")
		out = append(out, b)
	}
	return out, nil
}
