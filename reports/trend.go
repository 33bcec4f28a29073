package reports

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// trendRuns is how many past runs index.html charts.
const trendRuns = 30

// TrendPoint is one run's line in history.jsonl.
type TrendPoint struct {
	Date        time.Time `json:"date"`
	Commit      string    `json:"commit,omitempty"`
	Seed        int64     `json:"seed"`
	Passed      int       `json:"passed"`
	Failed      int       `json:"failed"`
	Skipped     int       `json:"skipped"`
	DurationSec float64   `json:"duration_sec"`
	// Suites maps each suite to its run time in seconds.
	Suites map[string]float64 `json:"suites,omitempty"`
	// Figures maps each spec's full text to its key figures.
	Figures map[string]artifact.Figures `json:"figures,omitempty"`
}

// Trend summarises a run as one TrendPoint.
func Trend(run *Run) TrendPoint {
	c := run.Counts()
	tp := TrendPoint{Date: run.Meta.Started, Commit: run.Meta.Commit, Seed: run.Meta.Seed,
		Passed: c.Passed, Failed: c.Failed, Skipped: c.Skipped,
		Suites: map[string]float64{}, Figures: map[string]artifact.Figures{}}
	var d time.Duration
	for _, s := range run.Suites {
		tp.Suites[s.Name] = s.Duration.Seconds()
		d += s.Duration
		if tp.Date.IsZero() || (!s.Report.StartTime.IsZero() && s.Report.StartTime.Before(tp.Date)) {
			tp.Date = s.Report.StartTime
		}
		if tp.Seed == 0 {
			tp.Seed = s.Report.SuiteConfig.RandomSeed
		}
		for _, sp := range s.Specs {
			if len(sp.Figures) > 0 {
				tp.Figures[sp.Text] = sp.Figures
			}
		}
	}
	tp.DurationSec = d.Seconds()
	if run.Meta.Duration > 0 {
		tp.DurationSec = run.Meta.Duration.Seconds()
	}
	return tp
}

// AppendTrend appends tp as one line to the trend file at path.
func AppendTrend(path string, tp TrendPoint) error {
	b, err := json.Marshal(tp)
	if err != nil {
		return fmt.Errorf("trend: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("trend: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("trend: %w", err)
	}
	return f.Close()
}

// ReadTrend reads the last n points of the trend file at path; a missing
// file is no history, and lines that do not decode are skipped.
func ReadTrend(path string, n int) ([]TrendPoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	defer f.Close()
	var out []TrendPoint
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var tp TrendPoint
		if json.Unmarshal(sc.Bytes(), &tp) == nil {
			out = append(out, tp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trend: %w", err)
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}
