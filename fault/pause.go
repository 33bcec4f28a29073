package fault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// Pause freezes the process with SIGSTOP until Heal sends SIGCONT: clients see
// a server that accepts connections (the kernel still completes handshakes)
// but answers nothing. The zero value is ready to use; use one Pause per
// window.
type Pause struct {
	mu  sync.Mutex
	pid int
}

var (
	_ Injector = (*Pause)(nil)
	_ Healer   = (*Pause)(nil)
)

// Name returns "pause".
func (*Pause) Name() string { return "pause" }

// Inject sends SIGSTOP to t's process and returns once it is stopped.
func (p *Pause) Inject(ctx context.Context, t Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := signal(t.Pid(), syscall.SIGSTOP); err != nil {
		return err
	}
	p.pid = t.Pid()
	// Signals are delivered asynchronously: return once it is stopped.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return waitState(ctx, p.pid, "T")
}

// Heal sends SIGCONT to the paused process. A process that died meanwhile is
// not an error.
func (p *Pause) Heal(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid == 0 {
		return nil
	}
	pid := p.pid
	p.pid = 0
	if err := signal(pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("resume %d: %w", pid, err)
	}
	return nil
}
