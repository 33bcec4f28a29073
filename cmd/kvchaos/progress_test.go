package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The inputs are ginkgo outputs recorded from the throwaway suites.
func TestProgressPlainLines(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"serial.txt", []string{
			"suite Alpha Suite: running 3 specs",
			"  FAILED: store [It] keeps acknowledged writes [fault, durability]",
			"suite Alpha Suite: done, 3 specs, 1 FAILED, D",
			"suite Beta Suite: running 1 specs",
			"suite Beta Suite: done, 1 specs, ok, D",
		}},
		{"parallel.txt", []string{
			"suite Alpha Suite: running 3 specs",
			"  FAILED: store [It] keeps acknowledged writes [fault, durability]",
			"suite Alpha Suite: done, 3 specs, 1 FAILED, D",
			"suite Beta Suite: running 1 specs",
			"suite Beta Suite: done, 1 specs, ok, D",
		}},
		{"single.txt", []string{
			"suite Alpha Suite: running 1 specs",
			"  FAILED: store [It] keeps acknowledged writes [fault, durability]",
			"suite Alpha Suite: done, 1 specs, 1 FAILED, D",
		}},
	}
	dur := regexp.MustCompile(`, [0-9.]+[µmn]?s$`)
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile("testdata/ginkgo/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var out, log bytes.Buffer
			p := newProgress(&out, &log, false, t.TempDir())
			// Ginkgo's output arrives in arbitrary chunks.
			for len(in) > 0 {
				n := min(7, len(in))
				if _, err := p.Write(in[:n]); err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			}
			p.Close()
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				got = append(got, dur.ReplaceAllString(l, ", D"))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if log.Len() == 0 {
				t.Error("ginkgo output not logged")
			}
		})
	}
}

// TestProgressTakesGinkgosDuration: without -v a suite's output arrives all
// at once when it ends, so the duration shown must be the one ginkgo printed.
func TestProgressTakesGinkgosDuration(t *testing.T) {
	in, err := os.ReadFile("testdata/ginkgo/serial.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	p := newProgress(&out, &log, false, t.TempDir())
	p.Write(in)
	p.Close()
	for _, want := range []string{"suite Alpha Suite: done, 3 specs, 1 FAILED, 29ms", "suite Beta Suite: done, 1 specs, ok, 208µs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
}

func TestProgressLiveLineRedraws(t *testing.T) {
	in, err := os.ReadFile("testdata/ginkgo/single.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	p := newProgress(&out, &log, true, t.TempDir())
	if _, err := p.Write(in); err != nil {
		t.Fatal(err)
	}
	p.Close()
	s := out.String()
	for _, want := range []string{"\r\033[K▶ Alpha Suite  0/1 specs", "1 failed", "  ✗ store [It] keeps acknowledged writes", "suite Alpha Suite: done, 1 specs, 1 FAILED"} {
		if !strings.Contains(s, want) {
			t.Errorf("live output lacks %q:\n%q", want, s)
		}
	}
}
