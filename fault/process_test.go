package fault

import (
	"context"
	"errors"
	"math/rand"
	"syscall"
	"testing"
	"time"
)

func TestSignals(t *testing.T) {
	for _, tc := range []struct {
		name string
		inj  Injector
		sig  syscall.Signal
	}{
		{"kill", Kill{}, syscall.SIGKILL},
		{"terminate", Terminate{}, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := startVictim(t, "", "sleep", "60")
			rec := newClock()
			if _, err := Inject(ctxT(t), rec, tc.inj, v); err != nil {
				t.Fatal(err)
			}
			ws := v.wait(t, 10*time.Second)
			if !ws.Signaled() || ws.Signal() != tc.sig {
				t.Fatalf("victim ended with %v, want signal %v", ws, tc.sig)
			}
			ev := rec.Events()
			if len(ev) != 1 || ev[0].Name != tc.inj.Name() || ev[0].End != ev[0].Start || ev[0].Error != "" {
				t.Fatalf("recorded %+v, want one instant %s event", ev, tc.inj.Name())
			}
		})
	}
}

func TestPauseStopsAndResumes(t *testing.T) {
	v := startVictim(t, "", "sleep", "60")
	rec := newClock()
	p := &Pause{}
	w, err := Inject(ctxT(t), rec, p, v)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := ProcState(v.Pid()); st != "T" {
		t.Fatalf("paused victim in state %q, want T", st)
	}
	if len(rec.Events()) != 0 {
		t.Fatalf("event recorded before heal: %+v", rec.Events())
	}
	if err := w.Heal(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := w.Heal(ctxT(t)); err != nil { // idempotent
		t.Fatal(err)
	}
	if st, _ := ProcState(v.Pid()); st == "T" {
		t.Fatalf("healed victim still stopped")
	}
	if ev := rec.Events(); len(ev) != 1 || ev[0].End < ev[0].Start {
		t.Fatalf("recorded %+v, want one window", ev)
	}
}

// restartable restarts a sleep process on Restart.
type restartable struct {
	t     *testing.T
	v     *victim
	kills int
}

func (r *restartable) Pid() int        { return r.v.Pid() }
func (r *restartable) DataDir() string { return "" }
func (r *restartable) Kill() error {
	r.kills++
	if err := r.v.cmd.Process.Kill(); err != nil {
		return err
	}
	r.v.wait(r.t, 5*time.Second)
	return nil
}
func (r *restartable) Restart(context.Context) error {
	r.v = startVictim(r.t, "", "sleep", "60")
	return nil
}

func TestCrashLoopKillsAndRestarts(t *testing.T) {
	r := &restartable{t: t, v: startVictim(t, "", "sleep", "60")}
	first := r.Pid()
	rec := newClock()
	c := &CrashLoop{N: 3, MinGap: time.Millisecond, MaxGap: 20 * time.Millisecond, Rand: rand.New(rand.NewSource(1)), Recorder: rec}
	if _, err := Inject(ctxT(t), rec, c, r); err != nil {
		t.Fatal(err)
	}
	if r.kills != 3 || len(c.Recoveries) != 3 || r.Pid() == first {
		t.Fatalf("kills=%d recoveries=%d pid %d->%d, want 3 kills and a new process", r.kills, len(c.Recoveries), first, r.Pid())
	}
	var kills int
	for _, e := range rec.Events() {
		if e.Name == "kill" {
			kills++
		}
	}
	if kills != 3 {
		t.Fatalf("recorded %d kill events, want 3: %+v", kills, rec.Events())
	}
	if err := c.Inject(ctxT(t), startVictim(t, "", "sleep", "1")); err == nil {
		t.Fatal("crashloop accepted a target that cannot restart")
	}
}

// fakeFault is an injector with scripted results, for the driver.
type fakeFault struct {
	injectErr, probeErr error
	injected, healed    int
}

func (f *fakeFault) Name() string                         { return "fake" }
func (f *fakeFault) Probe() error                         { return f.probeErr }
func (f *fakeFault) Inject(context.Context, Target) error { f.injected++; return f.injectErr }
func (f *fakeFault) Heal(context.Context) error           { f.healed++; return nil }

func TestDriver(t *testing.T) {
	v := startVictim(t, "", "sleep", "60")
	for _, tc := range []struct {
		name      string
		f         *fakeFault
		wantErr   error
		events    int
		eventErr  bool
		healedNow int
	}{
		{"unsupported records nothing", &fakeFault{probeErr: ErrUnsupported}, ErrUnsupported, 0, false, 0},
		{"failed inject is healed and recorded", &fakeFault{injectErr: errors.New("boom")}, nil, 1, true, 1},
		{"ok waits for heal", &fakeFault{}, nil, 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newClock()
			_, err := Inject(ctxT(t), rec, tc.f, v)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.f.injectErr != nil && err == nil {
				t.Fatal("inject error not returned")
			}
			ev := rec.Events()
			if len(ev) != tc.events || (tc.events > 0 && (ev[0].Error != "") != tc.eventErr) {
				t.Fatalf("events %+v", ev)
			}
			if tc.f.healed != tc.healedNow {
				t.Fatalf("healed %d times, want %d", tc.f.healed, tc.healedNow)
			}
		})
	}
	t.Run("apply holds then heals", func(t *testing.T) {
		rec, f := newClock(), &fakeFault{}
		if err := Apply(ctxT(t), rec, f, v, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		ev := rec.Events()
		if f.healed != 1 || len(ev) != 1 || ev[0].End-ev[0].Start < 0.04 {
			t.Fatalf("healed %d, events %+v; want one window of >= 50ms", f.healed, ev)
		}
	})
}
