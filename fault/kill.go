package fault

import (
	"context"
	"syscall"
)

// Kill sends SIGKILL: the process dies at once without flushing anything it
// holds in user space (the kernel's page cache survives; see PowerLoss for a
// fault that loses it too). Reaping the process is the owner's job. The zero
// value is ready to use.
type Kill struct{}

var _ Injector = Kill{}

// Name returns "kill".
func (Kill) Name() string { return "kill" }

// Inject sends SIGKILL to t's process.
func (Kill) Inject(_ context.Context, t Target) error {
	return signal(t.Pid(), syscall.SIGKILL)
}
