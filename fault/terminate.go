package fault

import (
	"context"
	"syscall"
)

// Terminate sends SIGTERM, asking for a graceful shutdown; whether and how
// fast the server exits is for the spec to check. The zero value is ready to
// use.
type Terminate struct{}

var _ Injector = Terminate{}

// Name returns "terminate".
func (Terminate) Name() string { return "terminate" }

// Inject sends SIGTERM to t's process.
func (Terminate) Inject(_ context.Context, t Target) error {
	return signal(t.Pid(), syscall.SIGTERM)
}
