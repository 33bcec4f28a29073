package harness

import (
	"bufio"
	"io"
	"strings"
	"sync"
)

// raceMarker is what the Go race detector prints on stderr for each race.
const raceMarker = "WARNING: DATA RACE"

// logBuffer keeps the last lines of a server's stdout and stderr, copies
// every line to an optional sink (a per-spec log file, GinkgoWriter) and
// remembers whether the race detector spoke.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
	max   int
	next  int
	full  bool
	sinks []io.Writer
	races int
}

func newLogBuffer(max int, sinks ...io.Writer) *logBuffer {
	var ws []io.Writer
	for _, s := range sinks {
		if s != nil {
			ws = append(ws, s)
		}
	}
	return &logBuffer{lines: make([]string, max), max: max, sinks: ws}
}

// add records one line (without its newline).
func (b *logBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines[b.next] = line
	b.next = (b.next + 1) % b.max
	if b.next == 0 {
		b.full = true
	}
	if strings.Contains(line, raceMarker) {
		b.races++
	}
	for _, w := range b.sinks {
		_, _ = io.WriteString(w, line+"\n")
	}
}

// tail returns the last n lines joined by newlines (all kept lines if n <= 0).
func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var all []string
	if b.full {
		all = append(all, b.lines[b.next:]...)
	}
	all = append(all, b.lines[:b.next]...)
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n")
}

func (b *logBuffer) raceCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.races
}

// scan feeds every line of r to the buffer and to onLine (which may be nil)
// until r ends. Very long lines are split rather than dropped.
func (b *logBuffer) scan(r io.Reader, prefix string, onLine func(string)) {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			b.add(prefix + line)
			if onLine != nil {
				onLine(line)
			}
		}
		if err != nil {
			return
		}
	}
}
