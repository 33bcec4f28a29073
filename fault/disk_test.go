package fault

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDiskFullGivesENOSPC(t *testing.T) {
	d := &DiskFull{Size: 4 << 20}
	skipUnsupported(t, d)
	ctx := ctxT(t)
	dir, err := d.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Teardown(ctx) })
	write := func(name string) error {
		return os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("x"), 64<<10), 0o644)
	}
	if err := write("before"); err != nil {
		t.Fatalf("write before the fault: %v", err)
	}
	v := startVictim(t, dir, "sleep", "60")
	w, err := Inject(ctx, nil, d, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := write("during"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write during the fault: %v, want ENOSPC", err)
	}
	if err := w.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := write("after"); err != nil {
		t.Fatalf("write after heal: %v", err)
	}
	if err := d.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if mps, _ := kvchaosMounts(filepath.Base(filepath.Dir(dir))); len(mps) != 0 {
		t.Fatalf("still mounted after teardown: %v", mps)
	}
}

func TestIOErrorFailsFsync(t *testing.T) {
	e := &IOError{Syscalls: []string{"fsync", "fdatasync"}, Errno: "EIO"}
	skipUnsupported(t, e)
	ctx := ctxT(t)
	file := filepath.Join(t.TempDir(), "f")
	// A shell loop that fsyncs through dd and says whether it worked.
	loop := fmt.Sprintf(`while :; do if dd if=/dev/zero of=%s bs=1 count=1 conv=fsync 2>/dev/null; then echo ok; else echo fail; fi; sleep 0.02; done`, file)
	v := startVictim(t, "", "sh", "-c", loop)
	v.waitLine(t, "ok", 10*time.Second)
	rec := newClock()
	w, err := Inject(ctx, rec, e, v)
	if err != nil {
		t.Fatal(err)
	}
	v.drain()
	v.waitLine(t, "fail", 10*time.Second)
	if err := w.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Injected() == 0 {
		t.Fatal("strace reports no injected errors")
	}
	if st, _ := ProcState(v.Pid()); st == "T" || st == "t" {
		t.Fatalf("victim left in state %s after detach", st)
	}
	v.drain()
	v.waitLine(t, "ok", 10*time.Second)
	if ev := rec.Events(); len(ev) != 1 || !strings.Contains(ev[0].Detail, "EIO") {
		t.Fatalf("events %+v", ev)
	}
}

func TestPowerLossDropsUnsynced(t *testing.T) {
	p := &PowerLoss{}
	skipUnsupported(t, p)
	ctx := ctxT(t)
	dir, err := p.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Teardown(ctx) })

	synced := bytes.Repeat([]byte("durable."), 1000) // 8000 bytes: spans pages
	a, err := os.OpenFile(filepath.Join(dir, "a.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, a, synced)
	if err := a.Sync(); err != nil {
		t.Fatalf("fsync through lazyfs: %v", err)
	}
	mustWrite(t, a, []byte("volatile tail"))
	if err := os.WriteFile(filepath.Join(dir, "b.log"), []byte("never synced"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Before the power loss readers see everything.
	if got, _ := os.ReadFile(filepath.Join(dir, "a.log")); !bytes.Equal(got, append(append([]byte{}, synced...), "volatile tail"...)) {
		t.Fatalf("read before power loss: %d bytes", len(got))
	}
	if p.Unsynced() == 0 {
		t.Fatal("lazyfs holds no unsynced data")
	}
	a.Close()

	v := startVictim(t, dir, "sleep", "60")
	if _, err := Inject(ctx, nil, p, v); err != nil {
		t.Fatal(err)
	}
	if ws := v.wait(t, 10*time.Second); ws.Signal() != syscall.SIGKILL {
		t.Fatalf("victim ended with %v, want SIGKILL", ws)
	}
	if p.Dropped() == 0 {
		t.Fatal("power loss dropped nothing")
	}
	got, err := os.ReadFile(filepath.Join(dir, "a.log"))
	if err != nil || !bytes.Equal(got, synced) {
		t.Fatalf("a.log after power loss: %d bytes (%v), want exactly the %d fsynced bytes", len(got), err, len(synced))
	}
	got, err = os.ReadFile(filepath.Join(dir, "b.log"))
	if err != nil || len(got) != 0 {
		t.Fatalf("b.log after power loss: %q (%v), want an empty file (created, never fsynced)", got, err)
	}
	// The remounted filesystem works for the next run.
	if err := os.WriteFile(filepath.Join(dir, "c"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, f *os.File, b []byte) {
	t.Helper()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// walDir makes a data dir with two segments of known bytes.
func walDir(t *testing.T) (dir string, newest []byte) {
	t.Helper()
	dir = t.TempDir()
	newest = make([]byte, 10000)
	for i := range newest {
		newest[i] = byte(i%251 + 1)
	}
	for name, b := range map[string][]byte{"wal-9.log": []byte("old segment"), "wal-10.log": newest, "LOCK": nil} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, newest
}

type dirTarget string

func (dirTarget) Pid() int          { return 0 }
func (d dirTarget) DataDir() string { return string(d) }

func TestTornWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode TornMode
		tail int64
	}{
		{"cut anywhere", TornCut, 0},
		{"cut in the last 100 bytes", TornCut, 100},
		{"zero tail", TornZero, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := int64(1); seed <= 20; seed++ {
				dir, orig := walDir(t)
				w := &TornWrite{Mode: tc.mode, Tail: tc.tail, Rand: rand.New(rand.NewSource(seed))}
				if err := w.Inject(ctxT(t), dirTarget(dir)); err != nil {
					t.Fatal(err)
				}
				if filepath.Base(w.Path) != "wal-10.log" {
					t.Fatalf("damaged %s, want the newest segment wal-10.log", w.Path)
				}
				if tc.tail > 0 && w.Offset < int64(len(orig))-tc.tail {
					t.Fatalf("offset %d outside the last %d bytes", w.Offset, tc.tail)
				}
				got, _ := os.ReadFile(w.Path)
				want := append([]byte{}, orig[:w.Offset]...)
				if tc.mode == TornZero {
					want = append(want, make([]byte, int64(len(orig))-w.Offset)...)
				}
				if !bytes.Equal(got, want) || bytes.Equal(got, orig) {
					t.Fatalf("seed %d: file is not %s at %d (len %d)", seed, tc.name, w.Offset, len(got))
				}
				if old, _ := os.ReadFile(filepath.Join(dir, "wal-9.log")); string(old) != "old segment" {
					t.Fatal("older segment changed")
				}
			}
		})
	}
}

// TestTornWriteBack checks the exact cut point a sweep uses.
func TestTornWriteBack(t *testing.T) {
	for _, back := range []int64{1, 7, 100} {
		dir, orig := walDir(t)
		w := &TornWrite{Back: back}
		if err := w.Inject(ctxT(t), dirTarget(dir)); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(w.Path)
		if want := orig[:int64(len(orig))-back]; !bytes.Equal(got, want) || w.Offset != int64(len(want)) {
			t.Fatalf("Back %d: %d bytes left (offset %d), want the first %d", back, len(got), w.Offset, len(want))
		}
	}
	dir, orig := walDir(t)
	if err := (&TornWrite{Back: int64(len(orig)) + 1}).Inject(ctxT(t), dirTarget(dir)); err == nil {
		t.Fatal("a cut before the start of the file was accepted")
	}
}

func TestCorruptFlipsExactlyItsBytes(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		dir, orig := walDir(t)
		c := &Corrupt{N: 3, Rand: rand.New(rand.NewSource(seed))}
		if err := c.Inject(ctxT(t), dirTarget(dir)); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(c.Path)
		if len(got) != len(orig) {
			t.Fatalf("size changed: %d -> %d", len(orig), len(got))
		}
		flipped := map[int64]bool{}
		for _, o := range c.Offsets {
			flipped[o] = true
			if o < int64(len(orig))/4 || o >= int64(len(orig))*3/4 {
				t.Fatalf("offset %d not in the middle half", o)
			}
		}
		if len(flipped) != 3 {
			t.Fatalf("offsets %v, want 3 distinct", c.Offsets)
		}
		for i := range orig {
			if (got[i] != orig[i]) != flipped[int64(i)] {
				t.Fatalf("seed %d: byte %d changed=%v, reported=%v", seed, i, got[i] != orig[i], flipped[int64(i)])
			}
		}
	}
}

func TestCrashStatesAtEveryFsync(t *testing.T) {
	c := &CrashStates{Recorder: newClock()}
	skipUnsupported(t, c)
	ctx := ctxT(t)
	dir, err := c.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Teardown(ctx) })
	f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"first.", "second."} {
		mustWrite(t, f, []byte(part))
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, f, []byte("never synced"))
	f.Close()
	v := startVictim(t, dir, "sleep", "60")
	if err := c.Inject(ctx, v); err != nil {
		t.Fatal(err)
	}
	states, err := c.States()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"first.", "first.second."}
	if len(states) != len(want) {
		t.Fatalf("recorded %d states, want %d (one per fsync)", len(states), len(want))
	}
	for i, s := range states {
		got, err := os.ReadFile(filepath.Join(s.Dir, "log"))
		if err != nil || string(got) != want[i] {
			t.Fatalf("state %d holds %q (%v), want %q", i+1, got, err, want[i])
		}
		if i > 0 && s.At < states[i-1].At {
			t.Fatalf("state %d stamped before state %d", i+1, i)
		}
	}
	if mps, _ := kvchaosMounts(filepath.Base(filepath.Dir(dir))); len(mps) != 0 {
		t.Fatalf("still mounted after Inject: %v", mps)
	}
}
