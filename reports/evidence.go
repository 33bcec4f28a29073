package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// logTailLines is how much of a server log the reports show.
const logTailLines = 40

// Evidence is the content of one spec's artifact folder. Missing files
// leave their fields empty; files that exist but do not decode are named
// in Errors, so a half-written folder still renders.
type Evidence struct {
	Dir       string
	Spec      artifact.Spec
	History   []OpTiming
	Resources []artifact.Sample
	Faults    []artifact.FaultEvent
	LogTail   string // the last lines of server.log
	Porcupine bool   // porcupine.html was kept
	Data      bool   // the data dir was kept
	Errors    []string
}

func loadEvidence(dir string) *Evidence {
	ev := &Evidence{Dir: dir}
	files := []struct {
		name string
		v    any
	}{
		{artifact.SpecFile, &ev.Spec},
		{artifact.HistoryFile, &ev.History},
		{artifact.ResourcesFile, &ev.Resources},
		{artifact.FaultsFile, &ev.Faults},
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			err = json.Unmarshal(b, f.v)
		}
		if err != nil {
			ev.Errors = append(ev.Errors, fmt.Sprintf("%s: %v", f.name, err))
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, artifact.ServerLogFile)); err == nil {
		ev.LogTail = tail(string(b), logTailLines)
	}
	if _, err := os.Stat(filepath.Join(dir, artifact.PorcupineFile)); err == nil {
		ev.Porcupine = true
	}
	if fi, err := os.Stat(filepath.Join(dir, artifact.DataDir)); err == nil && fi.IsDir() {
		ev.Data = true
	}
	return ev
}

// OpTiming is the part of a recorded operation the reports chart: a
// history read back for the charts skips the ops' arguments and results,
// which are most of its size.
type OpTiming struct {
	Kind    string  `json:"kind"`
	Call    float64 `json:"call"`
	Return  float64 `json:"return"`
	Outcome string  `json:"outcome"`
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
