package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Output lists the files Render wrote.
type Output struct {
	JUnit, HTML, Summary, Trend string
}

// Render loads the run in dir and writes junit.xml, index.html and
// summary.md next to report.json. With appendTrend it first appends the
// run to history.jsonl in dir (do it once per run: `kvchaos report`
// re-renders without appending). The HTML charts the trend file's last
// runs.
func Render(dir string, appendTrend bool) (*Run, Output, error) {
	run, err := Load(dir)
	if err != nil {
		return nil, Output{}, err
	}
	out := Output{
		JUnit:   filepath.Join(dir, JUnitFile),
		HTML:    filepath.Join(dir, HTMLFile),
		Summary: filepath.Join(dir, SummaryFile),
		Trend:   filepath.Join(dir, TrendFile),
	}
	if appendTrend {
		if err := AppendTrend(out.Trend, Trend(run)); err != nil {
			return run, out, err
		}
	}
	if err := WriteJUnit(run, out.JUnit); err != nil {
		return run, out, err
	}
	trend, err := ReadTrend(out.Trend, trendRuns)
	if err != nil {
		return run, out, err
	}
	var html, md bytes.Buffer
	if err := WriteHTML(run, trend, &html); err != nil {
		return run, out, err
	}
	if err := WriteSummary(run, &md); err != nil {
		return run, out, err
	}
	for path, b := range map[string][]byte{out.HTML: html.Bytes(), out.Summary: md.Bytes()} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return run, out, fmt.Errorf("write report: %w", err)
		}
	}
	return run, out, nil
}
