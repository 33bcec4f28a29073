package fault

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fsyncLoop is a shell loop that times one `dd conv=fsync` after another and
// prints each one's milliseconds.
func fsyncLoop(file string) string {
	return fmt.Sprintf(`while :; do s=$(date +%%s%%N); dd if=/dev/zero of=%s bs=1 count=1 conv=fsync 2>/dev/null; e=$(date +%%s%%N); echo $(( (e-s)/1000000 )); sleep 0.02; done`, file)
}

// waitMillis waits for a line of the victim's that is a number of
// milliseconds for which ok holds, and returns it.
func (v *victim) waitMillis(t *testing.T, what string, ok func(ms int) bool, d time.Duration) int {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-v.lines:
			if ms, err := strconv.Atoi(l); err == nil && ok(ms) {
				return ms
			}
		case <-deadline:
			t.Fatalf("victim printed no fsync time %s within %s", what, d)
			return 0
		}
	}
}

func TestSlowSyncDelaysFsync(t *testing.T) {
	const delay = 200 * time.Millisecond
	s := &SlowSync{Delay: delay}
	skipUnsupported(t, s)
	ctx := ctxT(t)
	v := startVictim(t, "", "sh", "-c", fsyncLoop(filepath.Join(t.TempDir(), "f")))
	fast := func(ms int) bool { return ms < int(delay.Milliseconds()) }
	v.waitMillis(t, "below the delay before the fault", fast, 10*time.Second)

	rec := newClock()
	before := time.Now()
	w, err := Inject(ctx, rec, s, v)
	if err != nil {
		t.Fatal(err)
	}
	v.drain()
	got := v.waitMillis(t, "of at least the delay under the fault", func(ms int) bool { return ms >= int(delay.Milliseconds()) }, 20*time.Second)
	if err := w.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("one dd conv=fsync took %d ms under a %s fsync delay", got, delay)
	if s.Delayed() == 0 {
		t.Fatal("strace reports no delayed call")
	}
	stalls := s.Stalls()
	if len(stalls) == 0 || stalls[0].Syscall != "fsync" || stalls[0].Start.Before(before.Add(-time.Second)) || stalls[0].Start.After(time.Now()) {
		t.Fatalf("stalls %+v: want fsyncs that started during the window", stalls)
	}
	if st, _ := ProcState(v.Pid()); st == "T" || st == "t" {
		t.Fatalf("victim left in state %s after detach", st)
	}
	v.drain()
	v.waitMillis(t, "below the delay after the heal", fast, 10*time.Second)
	if ev := rec.Events(); len(ev) != 1 || ev[0].Name != "slow-sync" || !strings.Contains(ev[0].Detail, "calls delayed") {
		t.Fatalf("events %+v", ev)
	}
}

func TestSlowSyncWrapDelaysALaunchedProcess(t *testing.T) {
	const delay = 100 * time.Millisecond
	s := &SlowSync{Delay: delay}
	if err := haveStrace(); err != nil {
		t.Skip(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	dd := fmt.Sprintf("dd if=/dev/zero of=%s bs=1 count=1 conv=fsync 2>/dev/null", file)
	three := strings.Join([]string{dd, dd, dd}, "; ")
	run := func(argv ...string) (time.Duration, error) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), OwnerEnv+"=faulttest")
		began := time.Now()
		err := cmd.Run()
		return time.Since(began), err
	}
	plain, err := run("sh", "-c", three)
	if err != nil {
		t.Fatal(err)
	}
	argv, err := s.Wrap("sh", "-c", three)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := run(argv...)
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	t.Logf("three dd conv=fsync: %s plain, %s under a %s fsync delay", plain, slow, delay)
	if slow < 3*delay {
		t.Fatalf("three fsyncs under the fault took %s, want at least 3 × %s", slow, delay)
	}
	// strace exits with the wrapped command's status.
	argv, _ = s.Wrap("sh", "-c", "exit 3")
	_, err = run(argv...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("wrapped exit 3 ended with %v", err)
	}
}

func TestParseStalls(t *testing.T) {
	at := func(us int64) time.Time { return time.Unix(1795847936, us*1000) }
	tests := []struct {
		name    string
		trace   string
		want    []Stall
		delayed int
	}{
		{"one whole line", "32524  1795847936.634697 fsync(3)        = 0 (DELAYED)\n",
			[]Stall{{32524, "fsync", at(634697)}}, 1},
		{"calls split by another thread", "32525 1795847936.637728 fsync(4 <unfinished ...>\n" +
			"32526 1795847936.637932 fdatasync(5 <unfinished ...>\n" +
			"32525 1795847936.638113 <... fsync resumed>) = 0 (DELAYED)\n" +
			"32526 1795847936.638162 <... fdatasync resumed>) = 0 (DELAYED)\n",
			[]Stall{{32525, "fsync", at(637728)}, {32526, "fdatasync", at(637932)}}, 2},
		{"a call strace did not delay", "7 1795847936.000001 fsync(3) = -1 EBADF (Bad file descriptor)\n", nil, 0},
		{"strace's own messages", "strace: Process 7 attached\n7 1795847936.000010 +++ exited with 0 +++\n", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.CreateTemp(t.TempDir(), "trace")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString(tt.trace); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			got, delayed := parseStalls(f)
			if delayed != tt.delayed || len(got) != len(tt.want) {
				t.Fatalf("got %+v (%d delayed), want %+v (%d)", got, delayed, tt.want, tt.delayed)
			}
			for i := range got {
				if got[i].Thread != tt.want[i].Thread || got[i].Syscall != tt.want[i].Syscall || !got[i].Start.Equal(tt.want[i].Start) {
					t.Errorf("stall %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
