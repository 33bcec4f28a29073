package reports

import (
	"fmt"
	"io"
	"strings"
)

// WriteSummary writes a short Markdown summary of the run, fit for a CI job
// summary ($GITHUB_STEP_SUMMARY, a GitLab MR note): the verdict, a table of
// suites, and each failure with its first message line and repro command.
func WriteSummary(run *Run, w io.Writer) error {
	c := run.Counts()
	var b strings.Builder
	verdict := "✅ passed"
	if run.Failed() {
		verdict = "❌ FAILED"
	}
	fmt.Fprintf(&b, "## kvchaos: %s\n\n", verdict)
	fmt.Fprintf(&b, "%d specs: %d passed, %d failed, %d skipped", c.Total(), c.Passed, c.Failed, c.Skipped)
	if run.Meta.Seed != 0 {
		fmt.Fprintf(&b, " · seed `%d`", run.Meta.Seed)
	}
	if run.Meta.Target.Binary != "" {
		fmt.Fprintf(&b, " · target `%s`", run.Meta.Target.Binary)
	}
	if run.Meta.Duration > 0 {
		fmt.Fprintf(&b, " · %s", formatDuration(run.Meta.Duration))
	}
	b.WriteString("\n\n| suite | passed | failed | skipped | time |\n|---|--:|--:|--:|--:|\n")
	for _, s := range run.Suites {
		name := s.Name
		if s.Failure != "" {
			name += " ⚠ " + firstLine(s.Failure)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", mdCell(name), s.Counts.Passed, s.Counts.Failed, s.Counts.Skipped, formatDuration(s.Duration))
	}
	if fs := run.Failures(); len(fs) > 0 {
		b.WriteString("\n### Failures\n\n")
		for i, f := range fs {
			fmt.Fprintf(&b, "%d. **%s** (%s) — %s  \n   `%s`", i+1, mdCell(f.Text), f.Suite, mdCell(firstLine(f.Message)), f.Location)
			fmt.Fprintf(&b, "  \n   re-run: `kvchaos repro %d`", i+1)
			if f.Repro != "" {
				fmt.Fprintf(&b, " or `%s`", f.Repro)
			}
			b.WriteString("\n")
		}
	}
	writeFigures(&b, run)
	b.WriteString("\nFull report: `" + HTMLFile + "` (with charts, fault timelines and server logs), JUnit: `" + JUnitFile + "`.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// mdCell keeps text from breaking a Markdown table row.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// summaryFigureRows bounds the figures table of the summary.
const summaryFigureRows = 25

// writeFigures adds a table of the headline figures of the specs that have
// any: what the server did under each workload and fault.
func writeFigures(b *strings.Builder, run *Run) {
	var rows []string
	for _, s := range run.Suites {
		for _, sp := range s.Specs {
			if len(sp.Figures) == 0 {
				continue
			}
			cells := []string{mdCell(sp.Text)}
			found := false
			for _, h := range headlineFigures(sp.Figures) {
				cell := ""
				if h.Name != "" {
					cell, found = formatFigure(h.Name, h.Value), true
				}
				cells = append(cells, cell)
			}
			faults := ""
			if sp.Evidence != nil && len(sp.Evidence.Faults) > 0 {
				faults = fmt.Sprint(len(sp.Evidence.Faults))
			}
			if found {
				rows = append(rows, "| "+strings.Join(append(cells, faults), " | ")+" |")
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n### Figures\n\n| spec | ops/s | p99 | RSS peak | recovery | lost writes | faults |\n|---|--:|--:|--:|--:|--:|--:|\n")
	if len(rows) > summaryFigureRows {
		rows = append(rows[:summaryFigureRows], fmt.Sprintf("| … %d more in index.html | | | | | | |", len(rows)-summaryFigureRows))
	}
	b.WriteString(strings.Join(rows, "\n") + "\n")
}
