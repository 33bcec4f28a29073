// Package fault injects real faults into a running key-value server treated as
// a black box: signals to its process (Kill, Terminate, Pause, CrashLoop),
// faults of its disk (DiskFull, IOError, SlowSync, PowerLoss, TornWrite,
// Corrupt, and CrashStates, which records every state a power loss could
// leave at an fsync boundary) and of its resources (MemoryLimit, CPUStarve). Cleanup removes
// what an interrupted run left behind.
//
// Every fault is one small type implementing Injector. Optional abilities are
// separate one-method interfaces found by type assertion: a Healer undoes the
// fault, a Prober says whether this machine supports it, a Preparer builds a
// data dir the fault needs before the server starts. The driver (Inject and
// Apply) wraps every injection: probe, inject, record the window on the run's
// clock, heal.
//
// The package reaches the server only through its pid and its data dir; it
// never imports the server. When the pid leads a process group, as every
// server a harness.Target starts does, the process faults (signals, cgroups,
// strace) act on the whole group, so a wrapper script that starts the server
// without exec does not shield it.
package fault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kvchaos/kvchaos/harness/artifact"
)

// ErrUnsupported says this machine cannot inject a fault (no root, no cgroup
// controller, no strace...). Probe errors wrap it; a spec that gets it skips
// with the message, it never passes.
var ErrUnsupported = errors.New("fault unsupported here")

// OwnerEnv is the environment variable that marks processes started by
// kvchaos (servers, tracers, memory hogs), so Cleanup can find leftovers of an
// interrupted run. Its value is free-form (a run or spec id).
const OwnerEnv = "KVCHAOS_OWNER"

// Target is the process a fault acts on: its pid and its data dir. A pid
// that leads a process group stands for every live process of the group.
type Target interface {
	Pid() int
	DataDir() string
}

// Injector is one fault. Inject starts it; for an instant fault (a signal) it
// is also complete.
type Injector interface {
	Name() string
	Inject(ctx context.Context, t Target) error
}

// Healer is an Injector whose fault lasts until Heal ends it. Heal must be
// safe to call more than once and after a failed Inject.
type Healer interface {
	Heal(ctx context.Context) error
}

// Prober says whether this machine supports a fault: nil means yes, else an
// error wrapping ErrUnsupported that says why.
type Prober interface {
	Probe() error
}

// Preparer is a fault that must exist before the server starts (a tmpfs or a
// FUSE mount under the data dir). Setup returns the directory to use as the
// server's data dir; Teardown undoes Setup and must always run.
type Preparer interface {
	Setup(ctx context.Context) (dataDir string, err error)
	Teardown(ctx context.Context) error
}

// Detailer is an Injector that describes what its last injection did
// ("cut wal-1.log from 4096 to 1234 bytes"); the driver records it.
type Detailer interface {
	Detail() string
}

// Recorder receives fault windows on the run's clock (seconds since the
// spec's start); the harness's run clock implements it.
type Recorder interface {
	Now() float64
	RecordFault(artifact.FaultEvent)
}

// Probe returns nil when inj is supported here (or has no Prober).
func Probe(inj Injector) error {
	if p, ok := inj.(Prober); ok {
		if err := p.Probe(); err != nil {
			return fmt.Errorf("%s: %w", inj.Name(), err)
		}
	}
	return nil
}

// Window is one injected fault. Heal ends it and records the event once;
// it is safe to call more than once (DeferCleanup and an explicit call).
type Window struct {
	rec   Recorder
	inj   Injector
	start float64

	once sync.Once
	err  error
}

// Inject probes inj, injects it into t and returns its open window. An
// instant fault (one that is not a Healer) is recorded at once with End equal
// to Start. A failed injection is recorded with its error and returned, with
// the fault already healed. A probe failure wraps ErrUnsupported and records
// nothing. rec may be nil.
func Inject(ctx context.Context, rec Recorder, inj Injector, t Target) (*Window, error) {
	if err := Probe(inj); err != nil {
		return nil, err
	}
	w := &Window{rec: rec, inj: inj, start: now(rec)}
	err := inj.Inject(ctx, t)
	if err != nil {
		err = fmt.Errorf("inject %s: %w", inj.Name(), err)
	}
	if _, ok := inj.(Healer); !ok || err != nil {
		herr := w.finish(ctx, err)
		if err == nil {
			err = herr
		}
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Heal ends the window: it heals the fault (if it heals) and records the
// event. Later calls return the first call's result.
func (w *Window) Heal(ctx context.Context) error {
	if w == nil {
		return nil
	}
	return w.finish(ctx, nil)
}

func (w *Window) finish(ctx context.Context, injErr error) error {
	w.once.Do(func() {
		var herr error
		if h, ok := w.inj.(Healer); ok {
			if herr = h.Heal(ctx); herr != nil {
				herr = fmt.Errorf("heal %s: %w", w.inj.Name(), herr)
			}
		}
		ev := artifact.FaultEvent{Name: w.inj.Name(), Start: w.start, End: now(w.rec)}
		if _, ok := w.inj.(Healer); !ok {
			ev.End = w.start
		}
		if d, ok := w.inj.(Detailer); ok {
			ev.Detail = d.Detail()
		}
		if err := errors.Join(injErr, herr); err != nil {
			ev.Error = err.Error()
		}
		if w.rec != nil {
			w.rec.RecordFault(ev)
		}
		w.err = herr
	})
	return w.err
}

// Apply injects inj into t, holds the fault for d (or until ctx ends), then
// heals it: one whole fault window. A cancelled ctx still heals, with a fresh
// short deadline.
func Apply(ctx context.Context, rec Recorder, inj Injector, t Target, d time.Duration) error {
	w, err := Inject(ctx, rec, inj, t)
	if err != nil {
		return err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return w.Heal(hctx)
}

func now(rec Recorder) float64 {
	if rec == nil {
		return 0
	}
	return rec.Now()
}
