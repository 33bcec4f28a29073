package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"regexp"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Chart size in points; the page scales the SVG to its column width.
const (
	chartW = 7 * vg.Inch
	chartH = 2.4 * vg.Inch
)

var (
	blue   = color.RGBA{R: 0x1f, G: 0x6f, B: 0xb5, A: 0xff}
	red    = color.RGBA{R: 0xc8, G: 0x2a, B: 0x2a, A: 0xff}
	orange = color.RGBA{R: 0xe0, G: 0x8a, B: 0x10, A: 0xff}
	green  = color.RGBA{R: 0x2a, G: 0x8a, B: 0x3a, A: 0xff}
	// faultColors shade fault windows, one colour a fault name
	// (non-premultiplied: the alpha makes the band translucent).
	faultColors = []color.NRGBA{
		{R: 0xff, G: 0x9f, B: 0x40, A: 0x55}, {R: 0x9b, G: 0x59, B: 0xb6, A: 0x45},
		{R: 0xe7, G: 0x4c, B: 0x3c, A: 0x45}, {R: 0x1a, G: 0xbc, B: 0x9c, A: 0x45},
	}
	svgHeader = regexp.MustCompile(`(?s)^.*?<svg width="[^"]*" height="[^"]*"`)
)

// series is one named line of a chart.
type series struct {
	name string
	xys  plotter.XYs
	col  color.Color
}

// chart renders lines over a time axis with the fault windows shaded, as an
// inline SVG element (no XML prolog, sized by the page's CSS).
func chart(title, xlabel, ylabel string, lines []series, faults []artifact.FaultEvent) (template.HTML, error) {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())
	ymax, xmin, xmax := 0.0, 0.0, 0.0
	if xlabel == trendXLabel {
		xmin = 1 // runs count from 1, in whole numbers
		p.X.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
			step := math.Max(1, math.Ceil((hi-lo)/10))
			var ts []plot.Tick
			for v := math.Ceil(lo); v <= hi; v += step {
				ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f", v)})
			}
			return ts
		})
	}
	for _, l := range lines {
		for _, xy := range l.xys {
			ymax = math.Max(ymax, xy.Y)
			xmax = math.Max(xmax, xy.X)
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	ymax *= 1.15
	if err := shadeFaults(p, faults, xmax, ymax); err != nil {
		return "", err
	}
	for _, l := range lines {
		if len(l.xys) == 0 {
			continue
		}
		ln, err := plotter.NewLine(l.xys)
		if err != nil {
			return "", fmt.Errorf("chart %s: %w", title, err)
		}
		ln.Color = l.col
		ln.Width = vg.Points(1.2)
		p.Add(ln)
		p.Legend.Add(l.name, ln)
	}
	p.Y.Min, p.Y.Max = 0, ymax
	p.X.Min = xmin
	if xmax > xmin {
		p.X.Max = xmax
	}
	return svg(p)
}

// shadeFaults draws each fault window as a translucent band (an instant
// fault as a thin band), labelled with its name at the top.
func shadeFaults(p *plot.Plot, faults []artifact.FaultEvent, xmax, ymax float64) error {
	if len(faults) == 0 {
		return nil
	}
	colours := map[string]color.NRGBA{}
	var names []string
	for _, f := range faults {
		if _, ok := colours[f.Name]; !ok {
			colours[f.Name] = faultColors[len(colours)%len(faultColors)]
			names = append(names, f.Name)
		}
	}
	labels := plotter.XYLabels{}
	for _, f := range faults {
		end := f.End
		if end <= f.Start {
			end = f.Start + math.Max(xmax/400, 0.005) // instant fault (SIGKILL) or never healed
		}
		band, err := plotter.NewPolygon(plotter.XYs{{X: f.Start, Y: 0}, {X: end, Y: 0}, {X: end, Y: ymax}, {X: f.Start, Y: ymax}})
		if err != nil {
			return fmt.Errorf("fault band: %w", err)
		}
		c := colours[f.Name]
		band.Color = c
		band.LineStyle.Width = 0
		if f.End <= f.Start {
			c.A = 0xd0
			band.Color = c
		}
		p.Add(band)
		labels.XYs = append(labels.XYs, plotter.XY{X: f.Start, Y: ymax * 0.97})
		labels.Labels = append(labels.Labels, f.Name)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return fmt.Errorf("fault labels: %w", err)
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Size = vg.Points(8)
		l.TextStyle[i].Color = color.Gray{Y: 0x40}
	}
	p.Add(l)
	return nil
}

func svg(p *plot.Plot) (template.HTML, error) {
	c := vgsvg.New(chartW, chartH)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("svg: %w", err)
	}
	out := svgHeader.ReplaceAll(buf.Bytes(), []byte(`<svg class="chart" role="img"`))
	// The SVG comes from our own plot, never from user input.
	return template.HTML(out), nil //nolint:gosec
}

// Below these a timeline says nothing (an API spec's handful of requests):
// no chart is drawn.
const (
	minChartOps     = 20
	minChartSamples = 5
	minChartSpan    = 0.5 // seconds
)

// opCharts derives throughput and latency over time from a history.
func opCharts(ev *Evidence) (tput, lat template.HTML, err error) {
	if len(ev.History) < minChartOps {
		return "", "", nil
	}
	end := 0.0
	for _, op := range ev.History {
		end = math.Max(end, op.Return)
	}
	if end < minChartSpan {
		return "", "", nil
	}
	w := math.Max(0.1, end/120)
	n := int(end/w) + 1
	ok := make([]float64, n)
	bad := make([]float64, n)
	lats := make([][]float64, n)
	for _, op := range ev.History {
		b := int(op.Return / w)
		if b < 0 || b >= n {
			continue
		}
		if op.Outcome == artifact.OutcomeOK {
			ok[b]++
			lats[b] = append(lats[b], (op.Return-op.Call)*1000)
		} else {
			bad[b]++
		}
	}
	var okXY, badXY, p50, p99 plotter.XYs
	anyBad := false
	for i := range n {
		x := (float64(i) + 0.5) * w
		okXY = append(okXY, plotter.XY{X: x, Y: ok[i] / w})
		badXY = append(badXY, plotter.XY{X: x, Y: bad[i] / w})
		anyBad = anyBad || bad[i] > 0
		if len(lats[i]) > 0 {
			sort.Float64s(lats[i])
			p50 = append(p50, plotter.XY{X: x, Y: quantile(lats[i], 0.5)})
			p99 = append(p99, plotter.XY{X: x, Y: quantile(lats[i], 0.99)})
		}
	}
	lines := []series{{"ok", okXY, blue}}
	if anyBad {
		lines = append(lines, series{"fail/unknown", badXY, red})
	}
	if tput, err = chart("Throughput", "time (s)", "ops/s", lines, ev.Faults); err != nil {
		return "", "", err
	}
	lat, err = chart("Latency of ok ops", "time (s)", "ms", []series{{"p50", p50, green}, {"p99", p99, orange}}, ev.Faults)
	return tput, lat, err
}

// resourceCharts draws RSS and CPU from the resource samples.
func resourceCharts(ev *Evidence) (rss, cpu template.HTML, err error) {
	if len(ev.Resources) < minChartSamples {
		return "", "", nil
	}
	var r, c plotter.XYs
	for _, s := range ev.Resources {
		r = append(r, plotter.XY{X: s.T, Y: float64(s.RSS) / (1 << 20)})
		c = append(c, plotter.XY{X: s.T, Y: s.CPUPercent})
	}
	if rss, err = chart("Server RSS", "time (s)", "MiB", []series{{"RSS", r, blue}}, ev.Faults); err != nil {
		return "", "", err
	}
	cpu, err = chart("Server CPU", "time (s)", "% of a core", []series{{"CPU", c, orange}}, ev.Faults)
	return rss, cpu, err
}

// trendXLabel is the trend chart's x axis, which starts at run 1.
const trendXLabel = "run"

// trendChart draws spec counts and run time over the last runs.
func trendChart(points []TrendPoint) (template.HTML, error) {
	if len(points) < 2 {
		return "", nil
	}
	var passed, failed plotter.XYs
	for i, tp := range points {
		passed = append(passed, plotter.XY{X: float64(i + 1), Y: float64(tp.Passed)})
		failed = append(failed, plotter.XY{X: float64(i + 1), Y: float64(tp.Failed)})
	}
	h, err := chart(fmt.Sprintf("Last %d runs", len(points)), trendXLabel, "specs",
		[]series{{"passed", passed, green}, {"failed", failed, red}}, nil)
	if err != nil {
		return "", err
	}
	return h, nil
}

func quantile(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}
