package reliability

import (
	"os"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
)

// Fault intensity: `kvchaos run` passes kvchaos.yaml's faults: section as
// KVCHAOS_* variables; an unset or empty one keeps the spec's own default.
// Spec names stay the same either way, so CI history lines up.

// intensityInt reads a whole number (KVCHAOS_CRASHES, KVCHAOS_CLIENTS).
func intensityInt(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		Fail(name + "=" + v + ": want a positive whole number")
	}
	return n
}

// intensityDuration reads a Go duration (KVCHAOS_DURATION).
func intensityDuration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		Fail(name + "=" + v + ": want a positive duration like 30s")
	}
	return d
}

// intensityPercent reads a share of one core, "5%" or "5" (KVCHAOS_CPU_QUOTA).
func intensityPercent(name string, def int) int {
	v := strings.TrimSuffix(strings.TrimSpace(os.Getenv(name)), "%")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 100 {
		Fail(name + "=" + os.Getenv(name) + ": want a percentage from 1 to 100")
	}
	return n
}

// intensityBytes reads the first size of a comma-separated list of byte
// sizes with optional units, "0,64KiB" (KVCHAOS_FILL_LEVELS,
// KVCHAOS_MEMORY_LIMITS).
func intensityBytes(name string, def int64) int64 {
	v := strings.TrimSpace(strings.SplitN(os.Getenv(name), ",", 2)[0])
	if v == "" {
		return def
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		Fail(name + "=" + os.Getenv(name) + ": want byte sizes like 0,64KiB,1MiB")
	}
	return n * mult
}
