package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/kvchaos/kvchaos/harness/proc"
)

// MemoryLimit puts a hard memory limit on the running server: by default it
// moves the process into a new kvchaos-* memory cgroup (v1
// memory.limit_in_bytes with swap capped too, or v2 memory.max) whose OOM
// killer SIGKILLs it past Limit, and counts those kills (OOMKills). With
// Rlimit it instead lowers the process's soft RLIMIT_AS, so allocations past
// Limit fail (Go processes then die with "out of memory" rather than signal
// 9). Hog, when set, starts a process in the same cgroup that holds that many
// bytes for the window, leaving the server less room. Heal moves the process
// back, stops the hog and removes the cgroup (or restores the old rlimit).
type MemoryLimit struct {
	Limit  int64
	Rlimit bool
	Hog    int64

	mu      sync.Mutex
	cg      *cgroup
	pid     int
	old     map[int]unix.Rlimit // by pid, in Rlimit mode
	hog     *exec.Cmd
	hogDone chan struct{}
	ooms    int64
}

var (
	_ Injector = (*MemoryLimit)(nil)
	_ Healer   = (*MemoryLimit)(nil)
	_ Prober   = (*MemoryLimit)(nil)
)

// Name returns "memory-limit".
func (*MemoryLimit) Name() string { return "memory-limit" }

// Probe needs root and a memory controller (or only root-less prlimit rights
// on our own processes with Rlimit).
func (m *MemoryLimit) Probe() error {
	if m.Rlimit {
		return nil
	}
	if !isRoot() {
		return fmt.Errorf("create a memory cgroup: %w", errNotRoot)
	}
	_, _, err := controllerDir("memory")
	return err
}

// Detail says what limit was set and how it ended.
func (m *MemoryLimit) Detail() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	how := "cgroup"
	if m.Rlimit {
		how = "RLIMIT_AS"
	}
	return fmt.Sprintf("%s limit %d bytes, hog %d bytes, %d OOM kills", how, m.Limit, m.Hog, m.ooms)
}

// Cgroup returns the cgroup's directory while injected ("" otherwise).
func (m *MemoryLimit) Cgroup() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cg == nil {
		return ""
	}
	return m.cg.dir
}

// OOMKills returns how many processes the cgroup's OOM killer has killed in
// this window so far (the count is kept after Heal).
func (m *MemoryLimit) OOMKills() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.readOOM(); err != nil {
		return 0, err
	}
	return int(m.ooms), nil
}

func (m *MemoryLimit) readOOM() error {
	if m.cg == nil {
		return nil
	}
	file := "memory.oom_control"
	if m.cg.v2 {
		file = "memory.events"
	}
	n, err := m.cg.stat(file, "oom_kill")
	if err != nil {
		return fmt.Errorf("memory-limit: %w", err)
	}
	m.ooms = n
	return nil
}

// Inject limits t's process.
func (m *MemoryLimit) Inject(_ context.Context, t Target) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Limit <= 0 {
		return errors.New("memory-limit: Limit must be > 0")
	}
	if m.cg != nil || m.old != nil {
		return errors.New("memory-limit: already injected")
	}
	pid := t.Pid()
	m.pid, m.ooms = pid, 0
	if m.Rlimit {
		// Every process of the group: a wrapper's server too.
		ms := proc.Members(pid)
		if len(ms) == 0 {
			return fmt.Errorf("memory-limit: process %d is not running", pid)
		}
		m.old = map[int]unix.Rlimit{}
		for _, p := range ms {
			var old unix.Rlimit
			if err := unix.Prlimit(p, unix.RLIMIT_AS, nil, &old); err != nil {
				return errors.Join(fmt.Errorf("memory-limit: prlimit %d: %w", p, err), m.heal())
			}
			lim := unix.Rlimit{Cur: uint64(m.Limit), Max: old.Max}
			if lim.Cur > lim.Max {
				lim.Cur = lim.Max
			}
			if err := unix.Prlimit(p, unix.RLIMIT_AS, &lim, nil); err != nil {
				return errors.Join(fmt.Errorf("memory-limit: prlimit %d: %w", p, err), m.heal())
			}
			m.old[p] = old
		}
		return nil
	}
	cg, err := newCgroup("memory", "mem", pid)
	if err != nil {
		return fmt.Errorf("memory-limit: %w", err)
	}
	m.cg = cg
	lim := strconv.FormatInt(m.Limit, 10)
	if cg.v2 {
		err = errors.Join(cg.write("memory.max", lim), cg.write("memory.swap.max", "0"))
	} else {
		// Charge the memory the process already holds to the new group.
		_ = cg.write("memory.move_charge_at_immigrate", "3")
		err = cg.write("memory.limit_in_bytes", lim)
		if err == nil {
			if _, serr := os.Stat(cg.dir + "/memory.memsw.limit_in_bytes"); serr == nil {
				err = cg.write("memory.memsw.limit_in_bytes", lim)
			}
		}
	}
	if err == nil {
		err = cg.addGroup(pid)
	}
	if err == nil && m.Hog > 0 {
		err = m.startHog()
	}
	if err != nil {
		return errors.Join(fmt.Errorf("memory-limit: %w", err), m.heal())
	}
	return nil
}

// startHog runs dd with a Hog-byte buffer inside the cgroup: dd fills its
// buffer from /dev/zero over and over, so the pages stay resident.
func (m *MemoryLimit) startHog() error {
	script := fmt.Sprintf("echo $$ > %s/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=%d count=1000000000 2>/dev/null", m.cg.dir, m.Hog)
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), OwnerEnv+"=memory-hog")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start memory hog: %w", err)
	}
	m.hog, m.hogDone = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(m.hogDone)
	return nil
}

// Heal lifts the limit.
func (m *MemoryLimit) Heal(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heal()
}

func (m *MemoryLimit) heal() error {
	var errs []error
	if m.hog != nil {
		_ = m.hog.Process.Signal(syscall.SIGKILL)
		<-m.hogDone
		m.hog = nil
	}
	for p, old := range m.old {
		if err := unix.Prlimit(p, unix.RLIMIT_AS, &old, nil); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("memory-limit: restore rlimit of %d: %w", p, err))
		}
	}
	m.old = nil
	if m.cg != nil {
		if err := m.readOOM(); err != nil {
			errs = append(errs, err)
		}
		if err := m.cg.remove(); err != nil {
			errs = append(errs, fmt.Errorf("memory-limit: %w", err))
		}
		m.cg = nil
	}
	return errors.Join(errs...)
}
