// Package synth writes synthetic spec evidence in the harness's artifact
// layout, so the kvchaos CLI and the reports package can be tested end to
// end without a real server: the throwaway suites beside it call Record from
// their specs, exactly where the real harness would.
package synth

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// Evidence is what a synthetic spec records; the zero value records an
// empty history and no faults.
type Evidence struct {
	Seconds   float64               // length of the synthetic workload
	Faults    []artifact.FaultEvent // fault windows
	ServerLog string
	Failed    bool
}

// Record writes the spec's artifact folder and adds the kvchaos report
// entries (figures, artifacts, repro) to the running spec.
func Record(ev Evidence) {
	rep := CurrentSpecReport()
	text := rep.FullText()
	sum := sha256.Sum256([]byte(text))
	id := fmt.Sprintf("%s-%x", unsafe.ReplaceAllString(text, "-"), sum[:3])
	root := os.Getenv("KVCHAOS_ARTIFACTS_DIR")
	if root == "" {
		root = "reports/artifacts"
	}
	dir := filepath.Join(root, id)
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	if ev.Failed {
		Expect(os.MkdirAll(filepath.Join(dir, artifact.DataDir), 0o755)).To(Succeed())
	}

	seed := GinkgoRandomSeed()
	rng := rand.New(rand.NewSource(seed + int64(sum[0])))
	var ops []artifact.Op
	var lat []float64
	for t := 0.0; t < ev.Seconds; t += 0.01 {
		d := 0.001 + rng.Float64()*0.002
		outcome := artifact.OutcomeOK
		for _, f := range ev.Faults {
			if t >= f.Start && t <= math.Max(f.End, f.Start+0.3) {
				d += 0.05 + rng.Float64()*0.1
				if rng.Intn(4) == 0 {
					outcome = artifact.OutcomeUnknown
				}
			}
		}
		ops = append(ops, artifact.Op{Client: rng.Intn(4), Kind: "put", Key: "k" + strconv.Itoa(rng.Intn(50)),
			Call: t, Return: t + d, Outcome: outcome, Status: 200})
		lat = append(lat, d*1000)
	}
	var samples []artifact.Sample
	for t := 0.0; t < ev.Seconds; t += 0.1 {
		samples = append(samples, artifact.Sample{T: t, RSS: uint64(20e6 + 30e6*t/ev.Seconds + rng.Float64()*2e6),
			CPUPercent: 40 + rng.Float64()*30, Threads: 9, FDs: 12})
	}
	repro := fmt.Sprintf("ginkgo --seed %d --focus %q %s", seed, regexp.QuoteMeta(text), rep.LeafNodeLocation.FileName)
	spec := artifact.Spec{ID: id, Text: text, Location: rep.LeafNodeLocation.String(), Labels: rep.Labels(),
		Seed: seed, Repro: repro, ServerBin: os.Getenv("KVCHAOS_SERVER_BIN"),
		ServerVersion: map[string]any{"version": "synthetic", "commit": "0000000"},
		FaultSchedule: ev.Faults, Failed: ev.Failed}
	write(filepath.Join(dir, artifact.SpecFile), spec)
	write(filepath.Join(dir, artifact.HistoryFile), ops)
	write(filepath.Join(dir, artifact.ResourcesFile), samples)
	write(filepath.Join(dir, artifact.FaultsFile), ev.Faults)
	Expect(os.WriteFile(filepath.Join(dir, artifact.ServerLogFile), []byte(ev.ServerLog), 0o644)).To(Succeed())
	if ev.Failed {
		Expect(os.WriteFile(filepath.Join(dir, artifact.PorcupineFile), []byte("<html><body>synthetic</body></html>"), 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, artifact.DataDir, "kv.db"), []byte("*3\r\n$3\r\nset\r\n"), 0o644)).To(Succeed())
	}

	figures := artifact.Figures{}
	if len(ops) > 0 {
		figures["ops_per_sec"] = float64(len(ops)) / ev.Seconds
		figures["p99_ms"] = percentile(lat, 0.99)
		figures["rss_peak_bytes"] = float64(samples[len(samples)-1].RSS)
	}
	if len(ev.Faults) > 0 {
		figures["recovery_ms"] = 120 + float64(rng.Intn(50))
	}
	AddReportEntry(artifact.EntryFigures, figures)
	AddReportEntry(artifact.EntryArtifacts, dir)
	AddReportEntry(artifact.EntryRepro, repro)
	// A bulky entry, as a real harness might add: it must stay out of JUnit.
	AddReportEntry("kvchaos.latency_series", lat, ReportEntryVisibilityNever)
}

func percentile(v []float64, q float64) float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return c[int(q*float64(len(c)-1))]
}

func write(path string, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(path, b, 0o644)).To(Succeed())
}
