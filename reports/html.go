package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

//go:embed index.html.tmpl
var indexTemplate string

var page = template.Must(template.New("index").Funcs(template.FuncMap{
	"figure":   formatFigure,
	"duration": formatDuration,
	"seconds":  func(f float64) string { return fmt.Sprintf("%.2f s", f) },
	"bytes":    formatBytes,
	"membytes": func(b uint64) string { return formatBytes(float64(b)) },
	"inc":      func(i int) int { return i + 1 },
	"join":     strings.Join,
}).Parse(indexTemplate))

// view is what the template reads.
type view struct {
	Run       *Run
	Counts    Counts
	Failed    bool
	Generated time.Time
	Version   map[string]any
	Failures  []specView
	// SuiteFailures are suites that failed as a whole with no failed spec
	// to show it (did not compile, timed out, setup failed).
	SuiteFailures []Suite
	Suites        []suiteView
	Trend         template.HTML
	TrendLen      int
	Errors        []string
	// Faults tallies the faults injected over the whole run, by name.
	Faults []faultTally
	// FaultedSpecs and FaultedFailed count the specs that ran under
	// faults, and those of them that failed.
	FaultedSpecs, FaultedFailed int
	// Lost sums the lost_writes figures of failed specs (losses the server
	// did not promise), LostAllowed those of passing specs (losses within
	// what the server promises, e.g. --sync never under power loss);
	// LostKnown says whether any spec reported one.
	Lost, LostAllowed float64
	LostKnown         bool
}

// Survived counts the specs that ran under faults and passed.
func (v view) Survived() int { return v.FaultedSpecs - v.FaultedFailed }

type faultTally struct {
	Name  string
	Count int
}

type suiteView struct {
	Suite
	Specs []specView
}

type specView struct {
	Spec
	Number  int // failure number, 0 when it did not fail
	Anchor  string
	Figures []figureRow
	Faults  []artifact.FaultEvent
	Links   []link
	Charts  []template.HTML
	Ops     int
	// Headline is the few figures shown on the spec's one-line summary.
	Headline []figureRow
	// Open unfolds the spec: failures and specs under faults.
	Open bool
}

// headline lists the figures worth a glance, in order: a label and the
// figure names that can carry it (the first one present wins).
var headline = []struct {
	label string
	names []string
}{
	{"ops/s", []string{"ops_per_sec"}},
	{"p99", []string{"p99_ms"}},
	{"RSS peak", []string{"rss_peak_bytes", "rss_hwm_bytes"}},
	{"recovery", []string{"recovery_ms", "recovery_ms_max"}},
	{"lost writes", []string{"lost_writes"}},
}

// headlineFigures picks a spec's headline figures; a missing one is a row
// with an empty Name.
func headlineFigures(f artifact.Figures) []figureRow {
	var out []figureRow
	for _, h := range headline {
		row := figureRow{Label: h.label}
		for _, n := range h.names {
			if v, ok := f[n]; ok {
				row.Name, row.Value = n, v
				break
			}
		}
		out = append(out, row)
	}
	return out
}

type figureRow struct {
	Name  string
	Value float64
	Label string // for headline figures
}

type link struct{ Text, Href string }

// WriteHTML renders the run as one self-contained HTML file: inline CSS,
// inline SVG charts, no scripts and no external references, so it opens
// from disk and from a CI artifact store alike. trend is the run history
// to chart (oldest first; nil for none).
func WriteHTML(run *Run, trend []TrendPoint, w io.Writer) error {
	v := view{Run: run, Counts: run.Counts(), Failed: run.Failed(), Generated: time.Now().UTC(),
		Version: run.Meta.Target.Version, TrendLen: len(trend)}
	n := 0
	for _, s := range run.Suites {
		sv := suiteView{Suite: s}
		for i, sp := range s.Specs {
			spv := specView{Spec: sp, Anchor: fmt.Sprintf("s%d-%d", len(v.Suites), i)}
			if sp.Failed {
				n++
				spv.Number = n
			}
			if err := fill(run.Dir, &spv); err != nil {
				v.Errors = append(v.Errors, fmt.Sprintf("%s: %v", sp.Text, err))
			}
			if v.Version == nil && sp.Evidence != nil {
				v.Version = sp.Evidence.Spec.ServerVersion
			}
			v.tally(sp)
			if sp.Failed {
				v.Failures = append(v.Failures, spv)
			}
			sv.Specs = append(sv.Specs, spv)
		}
		v.Suites = append(v.Suites, sv)
		if s.Failure != "" && s.Counts.Failed == 0 {
			v.SuiteFailures = append(v.SuiteFailures, s)
		}
	}
	var err error
	if v.Trend, err = trendChart(trend); err != nil {
		v.Errors = append(v.Errors, err.Error())
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	return nil
}

// tally adds a spec's faults and losses to the run's totals.
func (v *view) tally(sp Spec) {
	if n, ok := sp.Figures["lost_writes"]; ok {
		if sp.Failed {
			v.Lost += n
		} else {
			v.LostAllowed += n
		}
		v.LostKnown = true
	}
	if sp.Evidence == nil || len(sp.Evidence.Faults) == 0 {
		return
	}
	v.FaultedSpecs++
	if sp.Failed {
		v.FaultedFailed++
	}
	for _, f := range sp.Evidence.Faults {
		i := slices.IndexFunc(v.Faults, func(t faultTally) bool { return t.Name == f.Name })
		if i < 0 {
			v.Faults = append(v.Faults, faultTally{Name: f.Name})
			i = len(v.Faults) - 1
		}
		v.Faults[i].Count++
	}
}

// fill derives a spec's tables, links and charts from its evidence.
func fill(dir string, sv *specView) error {
	for k, val := range sv.Spec.Figures {
		sv.Figures = append(sv.Figures, figureRow{Name: k, Value: val})
	}
	sort.Slice(sv.Figures, func(i, j int) bool { return sv.Figures[i].Name < sv.Figures[j].Name })
	for _, h := range headlineFigures(sv.Spec.Figures) {
		if h.Name != "" {
			sv.Headline = append(sv.Headline, h)
		}
	}
	sv.Open = sv.Failed || (sv.Evidence != nil && len(sv.Evidence.Faults) > 0)
	ev := sv.Evidence
	if ev == nil {
		return nil
	}
	sv.Faults = ev.Faults
	sv.Ops = len(ev.History)
	rel := func(name string) string {
		p := filepath.Join(ev.Dir, name)
		ad, err1 := filepath.Abs(dir)
		ap, err2 := filepath.Abs(p)
		if err1 == nil && err2 == nil {
			if r, err := filepath.Rel(ad, ap); err == nil {
				p = r
			}
		}
		return filepath.ToSlash(p)
	}
	sv.Links = append(sv.Links, link{"artifact folder", rel("") + "/"})
	for _, f := range []string{artifact.ServerLogFile, artifact.HistoryFile, artifact.FaultsFile, artifact.ResourcesFile, artifact.SpecFile} {
		if _, err := os.Stat(filepath.Join(ev.Dir, f)); err == nil {
			sv.Links = append(sv.Links, link{f, rel(f)})
		}
	}
	if ev.Porcupine {
		sv.Links = append(sv.Links, link{"porcupine visualisation", rel(artifact.PorcupineFile)})
	}
	if ev.Data {
		sv.Links = append(sv.Links, link{"data dir", rel(artifact.DataDir) + "/"})
	}
	tput, lat, err := opCharts(ev)
	if err != nil {
		return err
	}
	rss, cpu, err := resourceCharts(ev)
	if err != nil {
		return err
	}
	for _, c := range []template.HTML{tput, lat, rss, cpu} {
		if c != "" {
			sv.Charts = append(sv.Charts, c)
		}
	}
	return nil
}

// formatFigure prints a figure with the unit its name carries, as a word
// of the name: "p99_ms", "recovery_ms_max", "rss_peak_bytes",
// "ops_per_sec", "cpu_p50_percent", "loss_window_s".
func formatFigure(name string, v float64) string {
	words := map[string]bool{}
	for _, w := range strings.Split(name, "_") {
		words[w] = true
	}
	switch {
	case words["bytes"]:
		return formatBytes(v)
	case words["ms"]:
		return fmt.Sprintf("%.3g ms", v)
	case strings.HasSuffix(name, "_per_sec"):
		return fmt.Sprintf("%.0f %s/s", v, strings.TrimSuffix(name, "_per_sec"))
	case words["percent"]:
		return fmt.Sprintf("%.3g %%", v)
	case strings.HasSuffix(name, "_s"):
		return fmt.Sprintf("%.3g s", v)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

func formatBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
