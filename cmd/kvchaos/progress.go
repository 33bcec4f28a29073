package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// Ginkgo's streaming output, as `--no-color` prints it. Progress is read
// from it on a best-effort basis: the authoritative counts come from
// report.json afterwards.
var (
	suiteStartRE = regexp.MustCompile(`^\[\d+\] (.+) - (\d+)/\d+ specs`)
	runningRE    = regexp.MustCompile(`^Running Suite: (.+) - `)
	willRunRE    = regexp.MustCompile(`^Will run (\d+) of \d+ specs`)
	suiteEndRE   = regexp.MustCompile(`(SUCCESS!|FAIL!)|^Ran \d+ of \d+ Specs`)
	failedRE     = regexp.MustCompile(`^• \[(FAILED|PANICKED|TIMEDOUT|INTERRUPTED|ABORTED)\]`)
	// ginkgo prints a suite's own duration at its end; without -v the whole
	// suite's output arrives at once, so the clock here would say 0s.
	tookRE = regexp.MustCompile(`(?:SUCCESS!|FAIL!)\s+(\d[0-9.a-zµ]*s)\b|^Ran \d+ of \d+ Specs in ([0-9.]+) seconds`)
)

// progress reads ginkgo's output, keeps it in a log, and shows one line per
// suite: redrawn live on a terminal, or plain start/end lines (and each
// failure) in CI. The zero value is not usable; see newProgress.
type progress struct {
	mu        sync.Mutex
	out       io.Writer // where progress goes (stdout)
	log       io.Writer // the full ginkgo output
	live      bool
	artifacts string // artifact root, watched for the current fault
	partial   []byte
	nextFail  bool // the next line names a failed spec

	suite               string
	total, done, failed int
	began               time.Time
	took                time.Duration // the suite's duration as ginkgo reported it
	fault               string
	started             time.Time // of the whole run
	last                string    // the live line as last drawn
	stop                chan struct{}
	stopped             chan struct{}
}

func newProgress(out, log io.Writer, live bool, artifacts string) *progress {
	p := &progress{out: out, log: log, live: live, artifacts: artifacts, started: time.Now(),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go p.tick()
	return p
}

// Write implements io.Writer for ginkgo's stdout and stderr.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.log.Write(b); err != nil {
		return 0, err
	}
	p.partial = append(p.partial, b...)
	for {
		i := strings.IndexByte(string(p.partial), '\n')
		if i < 0 {
			break
		}
		p.line(string(p.partial[:i]))
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}

// Close ends the live line and stops the ticker.
func (p *progress) Close() {
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		p.line(string(p.partial))
		p.partial = nil
	}
	if p.suite != "" {
		p.end()
	}
	if p.live && p.last != "" {
		p.clear()
	}
}

func (p *progress) line(l string) {
	if p.nextFail {
		p.nextFail = false
		if !p.live {
			fmt.Fprintf(p.out, "  FAILED: %s\n", strings.TrimSpace(l))
		} else {
			p.clear()
			fmt.Fprintf(p.out, "  ✗ %s\n", strings.TrimSpace(l))
		}
	}
	if m := suiteStartRE.FindStringSubmatch(l); m != nil {
		n, _ := strconv.Atoi(m[2])
		p.begin(m[1], n)
	} else if m := runningRE.FindStringSubmatch(l); m != nil {
		p.begin(m[1], -1) // the count follows on the "Will run" line
	} else if m := willRunRE.FindStringSubmatch(l); m != nil && p.suite != "" {
		p.total, _ = strconv.Atoi(m[1])
		p.announce()
	}
	if len(l) > 0 && l[0] != ' ' {
		p.done += strings.Count(l, "•")
	}
	if failedRE.MatchString(l) {
		p.failed++
		p.nextFail = true
	}
	if m := tookRE.FindStringSubmatch(l); m != nil {
		if d, err := time.ParseDuration(m[1]); err == nil {
			p.took = d
		} else if sec, err := strconv.ParseFloat(m[2], 64); err == nil {
			p.took = time.Duration(sec * float64(time.Second))
		}
	}
	if p.suite != "" && suiteEndRE.MatchString(l) {
		p.end()
		return
	}
	p.draw()
}

func (p *progress) begin(name string, total int) {
	if p.suite != "" {
		p.end()
	}
	p.suite, p.total, p.done, p.failed, p.fault, p.began, p.took = name, total, 0, 0, "", time.Now(), 0
	if total >= 0 {
		p.announce()
	}
}

func (p *progress) announce() {
	if !p.live {
		fmt.Fprintf(p.out, "suite %s: running %d specs\n", p.suite, p.total)
	}
	p.draw()
}

func (p *progress) end() {
	verdict := "ok"
	if p.failed > 0 {
		verdict = fmt.Sprintf("%d FAILED", p.failed)
	}
	// Skipped specs print no "•": a finished suite has done all its specs.
	took := time.Since(p.began)
	if p.took > 0 {
		took = p.took
	}
	unit := time.Millisecond
	if took < unit {
		unit = time.Microsecond
	}
	msg := fmt.Sprintf("suite %s: done, %d specs, %s, %s", p.suite, max(p.total, 0), verdict, took.Round(unit))
	if p.live {
		p.clear()
	}
	fmt.Fprintln(p.out, msg)
	p.suite = ""
}

func (p *progress) clear() {
	fmt.Fprint(p.out, "\r\033[K")
	p.last = ""
}

func (p *progress) draw() {
	if !p.live {
		return
	}
	var s string
	if p.suite == "" {
		// ginkgo compiles the suites before it runs each one.
		s = "⋯ building and starting suites  " + time.Since(p.started).Round(time.Second).String()
		p.redraw(s)
		return
	}
	s = fmt.Sprintf("▶ %s  %d/%d specs", p.suite, min(p.done, max(p.total, 0)), max(p.total, 0))
	if p.failed > 0 {
		s += fmt.Sprintf("  %d failed", p.failed)
	}
	if p.fault != "" {
		s += "  fault: " + p.fault
	}
	s += "  " + time.Since(p.began).Round(time.Second).String()
	p.redraw(s)
}

// redraw replaces the live line, when it changed.
func (p *progress) redraw(s string) {
	if s == p.last {
		return
	}
	fmt.Fprint(p.out, "\r\033[K"+s)
	p.last = s
}

func (p *progress) tick() {
	defer close(p.stopped)
	if !p.live {
		return
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			f := latestFault(p.artifacts)
			p.mu.Lock()
			p.fault = f
			p.draw()
			p.mu.Unlock()
		}
	}
}

// latestFault names the last fault in the most recently written faults.json
// under the artifact root ("" when none).
func latestFault(root string) string {
	matches, _ := filepath.Glob(filepath.Join(root, "*", artifact.FaultsFile))
	var newest string
	var at time.Time
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.ModTime().After(at) {
			newest, at = m, fi.ModTime()
		}
	}
	if newest == "" || time.Since(at) > 10*time.Second {
		return ""
	}
	b, err := os.ReadFile(newest)
	if err != nil {
		return ""
	}
	var evs []artifact.FaultEvent
	if json.Unmarshal(b, &evs) != nil || len(evs) == 0 {
		return ""
	}
	return evs[len(evs)-1].Name
}
