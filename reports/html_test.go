package reports

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// externalRefs lists everything in an HTML document that would make a
// browser reach beyond the file: URLs with a scheme or a host in src/href
// and similar attributes, CSS @import and url() of anything but data:
// and fragments.
func externalRefs(doc string) ([]string, error) {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return nil, err
	}
	remote := regexp.MustCompile(`^\s*(?i:[a-z][a-z0-9+.-]*:|//)`)
	cssURL := regexp.MustCompile(`(?i)url\(\s*['"]?([^'")]*)`)
	var out []string
	checkCSS := func(css string) {
		if strings.Contains(strings.ToLower(css), "@import") {
			out = append(out, "@import")
		}
		for _, m := range cssURL.FindAllStringSubmatch(css, -1) {
			if u := m[1]; !strings.HasPrefix(u, "#") && !strings.HasPrefix(strings.ToLower(u), "data:") {
				out = append(out, "url("+u+")")
			}
		}
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch a.Key {
				case "src", "href", "xlink:href", "action", "srcset", "poster", "data":
					if remote.MatchString(a.Val) && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "data:") {
						out = append(out, fmt.Sprintf("<%s %s=%q>", n.Data, a.Key, a.Val))
					}
				case "style":
					checkCSS(a.Val)
				}
			}
			if n.Data == "link" || (n.Data == "script" && attr(n, "src") != "") {
				out = append(out, "<"+n.Data+"> element")
			}
		}
		if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data == "style" {
			checkCSS(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestExternalRefsFindsPlantedReferences is the checker's self-test.
func TestExternalRefsFindsPlantedReferences(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		bad  bool
	}{
		{"clean", `<p><a href="artifacts/x/server.log">log</a><a href="#f1">f</a></p><svg xmlns="http://www.w3.org/2000/svg"></svg>`, false},
		{"cdn script", `<script src="https://cdn.example.com/chart.js"></script>`, true},
		{"protocol-relative image", `<img src="//example.com/a.png">`, true},
		{"stylesheet link", `<link rel="stylesheet" href="style.css">`, true},
		{"css import", `<style>@import "x.css";</style>`, true},
		{"css url", `<style>body{background:url(http://example.com/a.png)}</style>`, true},
		{"inline style url", `<div style="background:url('https://x/y')"></div>`, true},
		{"data url is fine", `<img src="data:image/png;base64,AAAA">`, false},
		{"svg xlink", `<svg><image xlink:href="http://example.com/a.png"/></svg>`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refs, err := externalRefs(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if (len(refs) > 0) != tc.bad {
				t.Errorf("refs = %q, want bad=%v", refs, tc.bad)
			}
		})
	}
}

func TestHTMLIsSelfContainedAndFailuresComeFirst(t *testing.T) {
	_, out := render(t, fixture(t))
	b, err := os.ReadFile(out.HTML)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	refs, err := externalRefs(doc)
	if err != nil {
		t.Fatalf("index.html does not parse: %v", err)
	}
	if len(refs) > 0 {
		t.Errorf("index.html references outside itself: %q", refs)
	}
	if n := strings.Count(doc, "<svg "); n < 8 {
		t.Errorf("%d charts, want 8 (throughput, latency, RSS, CPU for two specs)", n)
	}
	fail := strings.Index(doc, `id="failure-1"`)
	firstSpec := strings.Index(doc, `class="spec"`)
	if fail < 0 || firstSpec < 0 || fail > firstSpec {
		t.Errorf("failure at %d, first spec section at %d: failures must come first", fail, firstSpec)
	}
	for _, want := range []string{
		"lost 3 acknowledged writes", "alpha_suite_test.go", "kvchaos repro 1", "--seed 42",
		"listening on 127.0.0.1:40001", // server log tail
		`href="artifacts/store-keeps-acknowledged-writes-b774ad/porcupine.html"`,
		`href="artifacts/store-keeps-acknowledged-writes-b774ad/data/"`,
		"no /dev/fuse on this machine", // skip reason
		"power-loss", "SIGSTOP 1.2s",   // fault tables
		"/bin/false", "synthetic", // target and its version
		"<b>2×</b> kill", "<b>1×</b> power-loss", "2 specs ran under faults", "1 survived", // the tally
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	for _, l := range regexp.MustCompile(`href="(artifacts/[^"#]+)"`).FindAllStringSubmatch(doc, -1) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(out.HTML), l[1])); err != nil {
			t.Errorf("broken link %s", l[1])
		}
	}
}

// chromiumConsole renders a file in headless Chromium, saves a screenshot
// and returns the console messages Chromium logged.
func chromiumConsole(t *testing.T, page, shot string) []string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (make deps installs it): ", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--window-size=1280,2400", "--screenshot="+shot, "file://"+page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	var console []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") || strings.Contains(l, "Failed to load resource") {
			console = append(console, l)
		}
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	return console
}

func TestChromiumDetectsConsoleErrors(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "bad.html")
	bad := `<!DOCTYPE html><html><body><script>console.error("planted"); undefinedFn();</script><img src="missing.png"></body></html>`
	if err := os.WriteFile(page, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if msgs := chromiumConsole(t, page, filepath.Join(dir, "bad.png")); len(msgs) == 0 {
		t.Fatal("a page with planted console errors rendered clean: the check cannot fail")
	}
}

func TestChromiumRendersReportWithoutConsoleErrors(t *testing.T) {
	_, out := render(t, fixture(t))
	abs, err := filepath.Abs(out.HTML)
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "index.png")
	if msgs := chromiumConsole(t, abs, shot); len(msgs) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(msgs, "\n"))
	}
	t.Logf("screenshot: %s", shot)
}

func TestFormatFigure(t *testing.T) {
	tests := []struct {
		name string
		v    float64
		want string
	}{
		{"ops_per_sec", 396.4, "396 ops/s"},
		{"p99_ms", 1.4937, "1.49 ms"},
		{"rss_peak_bytes", 12268339, "11.7 MiB"},
		{"disk_write_bytes", 512, "512 B"},
		{"lost_writes", 3, "3"},
		{"recovery_ms_max", 106, "106 ms"},
		{"cpu_p50_percent", 24.76, "24.8 %"},
		{"loss_window_s", 1.04, "1.04 s"},
		{"rss_hwm_per_stored_byte", 1.5, "1.5"},
		{"ratio", 0.12345, "0.1235"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatFigure(tc.name, tc.v); got != tc.want {
				t.Errorf("formatFigure(%s, %v) = %q, want %q", tc.name, tc.v, got, tc.want)
			}
		})
	}
}

func TestChartsOnlyForRealWorkloads(t *testing.T) {
	ops := func(n int, span float64) []OpTiming {
		var out []OpTiming
		for i := range n {
			at := span * float64(i) / float64(n)
			out = append(out, OpTiming{Kind: "put", Call: at, Return: at + 0.001, Outcome: artifact.OutcomeOK})
		}
		return out
	}
	tests := []struct {
		name string
		ev   Evidence
		want bool
	}{
		{"two requests", Evidence{History: ops(2, 0.05)}, false},
		{"many ops in a blink", Evidence{History: ops(100, 0.1)}, false},
		{"a workload", Evidence{History: ops(200, 5)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tput, lat, err := opCharts(&tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if (tput != "" && lat != "") != tc.want {
				t.Errorf("charts drawn = %v, want %v", tput != "", tc.want)
			}
		})
	}
}
