package suite

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2"
)

// Fail is the suites' gomega fail handler (RegisterFailHandler(suite.Fail)):
// it fails the spec with the message followed by the command that re-runs
// just this spec.
func Fail(message string, callerSkip ...int) {
	skip := 1
	if len(callerSkip) > 0 {
		skip += callerSkip[0]
	}
	if spec := ginkgo.CurrentSpecReport(); spec.LeafNodeText != "" {
		message = strings.TrimRight(message, "\n") + "\n\nre-run just this spec:\n  " + Repro()
	}
	ginkgo.Fail(message, skip)
}

// Repro is the shell command that re-runs the current spec with the same
// seed (and the same binary, args and race mode when they were chosen).
func Repro() string {
	spec := ginkgo.CurrentSpecReport()
	var env []string
	if bins.Custom {
		env = append(env, EnvServerBin+"="+shellQuote(bins.Server))
	}
	if bins.Race {
		env = append(env, EnvRace+"=1")
	}
	for _, k := range []string{EnvServerArgs, EnvServerEnv, EnvMutantBin} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+shellQuote(v))
		}
	}
	cmd := fmt.Sprintf("ginkgo --seed %d --focus %s ./suites/%s",
		ginkgo.GinkgoRandomSeed(), shellQuote(regexp.QuoteMeta(spec.FullText())), suiteName)
	return strings.TrimSpace(strings.Join(env, " ") + " " + cmd)
}

// shellQuote double-quotes s for a POSIX shell.
func shellQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}

// SpecID is a filesystem-safe slug of the spec's full text plus a short
// hash, stable across runs.
func SpecID(fullText string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(fullText) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 80 {
			break
		}
	}
	sum := sha256.Sum256([]byte(fullText))
	return strings.Trim(b.String(), "-") + "-" + hex.EncodeToString(sum[:4])
}

// ArtifactRoot is KVCHAOS_ARTIFACTS_DIR, else <module root>/reports/artifacts,
// else a temp dir.
func ArtifactRoot() string {
	if d := os.Getenv(EnvArtifactsDir); d != "" {
		return d
	}
	if root := ModuleRoot(); root != "" {
		return filepath.Join(root, "reports", "artifacts")
	}
	return filepath.Join(os.TempDir(), "kvchaos-artifacts")
}

// ModuleRoot walks up from the working directory to the folder holding
// go.mod ("" when there is none).
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
