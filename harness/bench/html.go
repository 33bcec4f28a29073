package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"regexp"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The reports package's chart helpers are unexported and draw time series
// with fault bands; bench charts figures against concurrency and data size,
// so it draws its own with the same gonum/plot → inline SVG approach.

var (
	palette   = []color.Color{color.Gray{Y: 0x60}, color.RGBA{R: 0xc8, G: 0x2a, B: 0x2a, A: 0xff}, color.RGBA{R: 0xe0, G: 0x8a, B: 0x10, A: 0xff}, color.RGBA{R: 0x1f, G: 0x6f, B: 0xb5, A: 0xff}, color.RGBA{R: 0x2a, G: 0x8a, B: 0x3a, A: 0xff}}
	svgHeader = regexp.MustCompile(`(?s)^.*?<svg width="[^"]*" height="[^"]*"`)
)

type line struct {
	name string
	xys  plotter.XYs
}

// lineChart draws lines with points as an inline SVG element; logX puts x
// on a log scale (concurrency, data size).
func lineChart(title, xlabel, ylabel string, lines []line, logX bool) (template.HTML, error) {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	drawn := false
	for i, l := range lines {
		if len(l.xys) == 0 {
			continue
		}
		ln, pts, err := plotter.NewLinePoints(l.xys)
		if err != nil {
			return "", fmt.Errorf("chart %s: %w", title, err)
		}
		c := palette[i%len(palette)]
		ln.Color, pts.Color = c, c
		ln.Width = vg.Points(1.4)
		p.Add(ln, pts)
		p.Legend.Add(l.name, ln, pts)
		drawn = true
	}
	if !drawn {
		return "", nil
	}
	p.Y.Min = 0
	c := vgsvg.New(4.6*vg.Inch, 2.8*vg.Inch)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("chart %s: %w", title, err)
	}
	out := svgHeader.ReplaceAll(buf.Bytes(), []byte(`<svg class="chart" role="img"`))
	return template.HTML(out), nil //nolint:gosec // our own plot, no user input
}

// scenarioCharts draws throughput and p99 against clients for one scenario:
// the baseline and kvserver under each sync policy.
func scenarioCharts(rep *Report, scenario string) (tput, p99 template.HTML, err error) {
	var tl, ll []line
	add := func(name string, match func(Point) bool) {
		var t, l plotter.XYs
		for _, p := range rep.Points {
			if p.Scenario == scenario && p.Mode == "closed" && p.Eviction == "" && match(p) && p.Clients > 0 {
				t = append(t, plotter.XY{X: float64(p.Clients), Y: p.OpsPerSec})
				l = append(l, plotter.XY{X: float64(p.Clients), Y: p.Latency.P99 / 1000})
			}
		}
		tl, ll = append(tl, line{name, t}), append(ll, line{name, l})
	}
	// The baseline is measured beside every sweep; chart the first one's.
	first := ""
	if len(rep.Settings.Sync) > 0 {
		first = rep.Settings.Sync[0]
	}
	add("baseline (net/http)", func(p Point) bool { return p.Target == "baseline" && (first == "" || p.Sync == first) })
	for _, s := range rep.Settings.Sync {
		add("kvserver --sync "+s, func(p Point) bool { return p.Target == "kvserver" && p.Sync == s })
	}
	if tput, err = lineChart(scenario+": throughput", "clients", "ops/s", tl, true); err != nil {
		return "", "", err
	}
	p99, err = lineChart(scenario+": p99 latency", "clients", "ms", ll, true)
	return tput, p99, err
}

// recoveryChart draws restart time against keys stored once.
func recoveryChart(rep *Report) (template.HTML, error) {
	var listen, ready plotter.XYs
	for _, r := range rep.Recovery {
		if r.Writes == int64(r.Keys) {
			listen = append(listen, plotter.XY{X: float64(r.Keys), Y: r.ListenSeconds})
			ready = append(ready, plotter.XY{X: float64(r.Keys), Y: r.ReadySeconds})
		}
	}
	if len(ready) < 2 {
		return "", nil
	}
	return lineChart("Restart time vs data size", "keys (100 B values)", "seconds",
		[]line{{"listening line", listen}, {"/readyz 200", ready}}, true)
}

type scenarioView struct {
	ScenarioInfo
	Points      []Point
	Tput, Lat   template.HTML
	BaselineP99 map[int]float64
}

var htmlPage = template.Must(template.New("bench").Funcs(template.FuncMap{
	"us":  us,
	"mib": mib,
	"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"f0":  func(f float64) string { return fmt.Sprintf("%.0f", f) },
	"f1":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f2":  func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"ms":  func(s float64) string { return fmt.Sprintf("%.0f ms", s*1000) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kvchaos bench</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.6em 0 1.4em}th,td{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{width:520px;height:auto}
.note{color:#a33}code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>kvchaos bench</h1>
<p>{{.Rep.Started.Format "2006-01-02 15:04 UTC"}} · {{.Rep.Machine.CPUs}} CPUs ({{.Rep.Machine.CPUModel}}), {{mib (.Mem)}} MiB,
{{.Rep.Machine.OS}} {{.Rep.Machine.Kernel}}, data dirs on {{.Rep.Machine.DataFS}}, {{.Rep.Machine.GoVersion}},
load average {{f1 .Rep.Machine.Load1Start}} at start and {{f1 .Rep.Machine.Load1End}} at end ·
{{f1 .Rep.Settings.Duration}} s per point{{if .Rep.Command}} · <code>{{.Rep.Command}}</code>{{end}}</p>
<p>Every kvserver figure is shown beside the baseline: a minimal net/http handler answering the same requests on the same machine in
the same run, measured by the same load generator right before it at the same concurrency. "Other CPU" is what the rest of the
machine used meanwhile: where it is high, the point is noisy. Closed loop unless marked open (a fixed arrival rate, latency from the intended send time).</p>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Scenarios}}
<h2>{{.Name}}</h2><p>{{.Doc}}</p>
<div class="charts">{{.Tput}}{{.Lat}}</div>
<table><tr><th>target</th><th>sync</th><th>clients</th><th>ops/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>vs baseline</th><th>server CPU</th><th>generator CPU</th><th>other CPU</th><th>tx/fsync</th><th>errors</th></tr>
{{range .Points}}<tr><td>{{.Target}}</td><td>{{.Sync}}{{if .Eviction}} --eviction {{.Eviction}}{{end}}</td><td>{{if eq .Mode "open"}}open {{f0 .Rate}}/s{{else}}{{.Clients}}{{end}}</td><td>{{f0 .OpsPerSec}}</td>
<td>{{us .Latency.P50}}</td><td>{{us .Latency.P99}}</td><td>{{us .Latency.P999}}</td><td>{{if .Ratio}}{{pct .Ratio}}{{end}}</td>
<td>{{f2 .Server.CPUCores}}</td><td>{{f2 .GeneratorCores}}</td><td>{{f2 .OtherCores}}</td><td>{{if .Server.TxPerFsync}}{{f1 .Server.TxPerFsync}}{{end}}</td><td>{{.Errors}}</td></tr>
{{end}}</table>
{{end}}
{{with .Rep.GroupCommit}}<h2>Group commit</h2>
<p>{{.Scenario}} with <code>--sync always</code> at {{.Clients}} clients: <b>{{f0 .GroupedOpsPerSec}} ops/s</b> ({{f1 .GroupedTxPerFsync}} transactions per fsync)
against {{f0 .UngroupedOpsPerSec}} ops/s ({{f1 .UngroupedTxPerFsync}} per fsync) with one fsync per request ({{.UngroupedHow}}): <b>{{f1 .Gain}}×</b>.</p>
{{if .ByFsyncLatency}}<p>The same comparison with a latency added to every fsync (the server launched under strace, which holds each fsync that long: a slower disk):</p>
<table><tr><th>added per fsync</th><th>grouped ops/s</th><th>tx/fsync</th><th>fsync ms</th><th>p99</th><th>ungrouped ops/s</th><th>tx/fsync</th><th>fsync ms</th><th>p99</th><th>gain</th></tr>
<tr><td>0 (the disk's own)</td><td>{{f0 .GroupedOpsPerSec}}</td><td>{{f1 .GroupedTxPerFsync}}</td><td></td><td></td><td>{{f0 .UngroupedOpsPerSec}}</td><td>{{f1 .UngroupedTxPerFsync}}</td><td></td><td></td><td>{{f1 .Gain}}×</td></tr>
{{range .ByFsyncLatency}}<tr><td>{{.AddedMs}} ms</td><td>{{f0 .GroupedOpsPerSec}}</td><td>{{f1 .GroupedTxPerFsync}}</td><td>{{f1 .GroupedFsyncMs}}</td><td>{{us .GroupedP99}}</td><td>{{f0 .UngroupedOpsPerSec}}</td><td>{{f1 .UngroupedTxPerFsync}}</td><td>{{f1 .UngroupedFsyncMs}}</td><td>{{us .UngroupedP99}}</td><td><b>{{f1 .Gain}}×</b></td></tr>
{{end}}</table><p>"fsync ms" is the mean fsync time each server saw: the added latency is a floor, and on a busy machine strace wakes the held thread late.</p>{{end}}{{if .LatencySkipped}}<p class="note">Group commit at added fsync latencies: skipped, {{.LatencySkipped}}.</p>{{end}}{{end}}
{{if .Rep.Recovery}}<h2>Recovery</h2>{{.Recovery}}
<table><tr><th>data</th><th>writes</th><th>data dir MiB</th><th>log MiB</th><th>snapshot MiB</th><th>listening</th><th>ready</th><th>server load</th></tr>
{{range .Rep.Recovery}}<tr><td>{{.Name}}</td><td>{{.Writes}}</td><td>{{f1 (mib .DataDirBytes)}}</td><td>{{f1 (mib .LogBytes)}}</td><td>{{f1 (mib .SnapshotBytes)}}</td>
<td>{{ms .ListenSeconds}}</td><td>{{ms .ReadySeconds}}</td><td>{{ms .LoadSeconds}}</td></tr>{{end}}</table>{{end}}
{{with .Rep.CrashCycle}}<h2>Crash cycle</h2><p>SIGKILL, restart, read back 10 keys ({{.Keys}} stored), {{.Cycles}} cycles: median {{ms .Median}}, p90 {{ms .P90}}, max {{ms .Max}}.</p>{{end}}
{{if .Rep.Memory}}<h2>Memory</h2>
<table><tr><th>data</th><th>keys</th><th>stored MiB</th><th>RSS growth MiB</th><th>RSS per stored byte</th><th>heap growth MiB</th><th>accounted MiB</th><th>accounted vs RSS growth</th></tr>
{{range .Rep.Memory}}<tr><td>{{.Name}}</td><td>{{.Keys}}</td><td>{{f1 (mib .StoredBytes)}}</td><td>{{f1 (mib .RSSGrowth)}}</td><td>{{f2 .RSSPerByte}}</td>
<td>{{f1 (mib .HeapGrowth)}}</td><td>{{f1 (mib .Accounted)}}</td><td>{{pct .AccountingError}}</td></tr>{{end}}</table>{{end}}
{{if .Rep.Redis}}<h2>redis-benchmark (reference)</h2>
<table><tr><th>scenario</th><th>test</th><th>sync</th><th>clients</th><th>ops/s</th><th>p50</th></tr>
{{range .Rep.Redis}}<tr><td>{{.Scenario}}</td><td>{{.Test}}</td><td>{{.Sync}}</td><td>{{.Clients}}</td><td>{{f0 .OpsPerSec}}</td><td>{{us .P50}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))

// WriteHTML renders the report as one self-contained page: tables and
// inline SVG charts, no scripts, no external references.
func WriteHTML(rep *Report, w io.Writer) error {
	v := struct {
		Rep       *Report
		Mem       int64
		Notes     []string
		Scenarios []scenarioView
		Recovery  template.HTML
	}{Rep: rep, Mem: int64(rep.Machine.Memory), Notes: rep.Notes}
	for _, s := range rep.Scenarios {
		sv := scenarioView{ScenarioInfo: s}
		for _, p := range rep.Points {
			if p.Scenario == s.Name {
				sv.Points = append(sv.Points, p)
			}
		}
		if len(sv.Points) == 0 {
			continue
		}
		var err error
		if sv.Tput, sv.Lat, err = scenarioCharts(rep, s.Name); err != nil {
			return err
		}
		v.Scenarios = append(v.Scenarios, sv)
	}
	var err error
	if v.Recovery, err = recoveryChart(rep); err != nil {
		return err
	}
	if err := htmlPage.Execute(w, v); err != nil {
		return fmt.Errorf("bench html: %w", err)
	}
	return nil
}
