package fault

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// CPUStarve gives the running server only Percent of one core (default 5):
// through a kvchaos-* cpu cgroup with a CFS quota (v1 cpu.cfs_quota_us or v2
// cpu.max) when this machine has one and we are root, else — or when
// DutyCycle is set — by stopping and continuing the process with
// SIGSTOP/SIGCONT in 100 ms periods. Heal restores full speed.
type CPUStarve struct {
	Percent   float64
	DutyCycle bool

	mu   sync.Mutex
	cg   *cgroup
	pid  int
	stop chan struct{}
	done chan struct{}
	how  string
}

var (
	_ Injector = (*CPUStarve)(nil)
	_ Healer   = (*CPUStarve)(nil)
)

const cpuPeriod = 100 * time.Millisecond

// Name returns "cpu-starve".
func (*CPUStarve) Name() string { return "cpu-starve" }

// Detail says how the CPU was limited.
func (c *CPUStarve) Detail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%.1f%% of a core by %s", c.percent(), c.how)
}

func (c *CPUStarve) percent() float64 {
	if c.Percent <= 0 || c.Percent > 100 {
		return 5
	}
	return c.Percent
}

// Inject starts the starvation of t's process.
func (c *CPUStarve) Inject(_ context.Context, t Target) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cg != nil || c.stop != nil {
		return errors.New("cpu-starve: already injected")
	}
	c.pid = t.Pid()
	if !c.DutyCycle && isRoot() {
		if _, _, err := controllerDir("cpu"); err == nil {
			c.how = "cgroup quota"
			return c.injectCgroup()
		}
	}
	c.how = "SIGSTOP/SIGCONT duty cycle"
	if err := signal(c.pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("cpu-starve: %w", err)
	}
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.cycle(c.pid, c.stop, c.done)
	return nil
}

func (c *CPUStarve) injectCgroup() error {
	cg, err := newCgroup("cpu", "cpu", c.pid)
	if err != nil {
		return fmt.Errorf("cpu-starve: %w", err)
	}
	c.cg = cg
	period := cpuPeriod.Microseconds()
	quota := max(int64(float64(period)*c.percent()/100), 1000)
	if cg.v2 {
		err = cg.write("cpu.max", fmt.Sprintf("%d %d", quota, period))
	} else {
		err = errors.Join(cg.write("cpu.cfs_period_us", strconv.FormatInt(period, 10)),
			cg.write("cpu.cfs_quota_us", strconv.FormatInt(quota, 10)))
	}
	if err == nil {
		err = cg.addGroup(c.pid)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("cpu-starve: %w", err), c.heal())
	}
	return nil
}

// cycle runs the process for Percent of each period and stops it for the
// rest, until stop closes; it leaves the process running.
func (c *CPUStarve) cycle(pid int, stop, done chan struct{}) {
	defer close(done)
	on := time.Duration(float64(cpuPeriod) * c.percent() / 100)
	for {
		select {
		case <-stop:
			_ = signal(pid, syscall.SIGCONT)
			return
		case <-time.After(cpuPeriod - on):
		}
		if signal(pid, syscall.SIGCONT) != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(on):
		}
		if signal(pid, syscall.SIGSTOP) != nil {
			return
		}
	}
}

// Throttled returns how many CFS periods the cgroup quota throttled the
// process so far (0 in duty-cycle mode or when not injected).
func (c *CPUStarve) Throttled() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cg == nil {
		return 0, nil
	}
	n, err := c.cg.stat("cpu.stat", "nr_throttled")
	if err != nil {
		return 0, fmt.Errorf("cpu-starve: %w", err)
	}
	return n, nil
}

// Heal restores full CPU.
func (c *CPUStarve) Heal(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heal()
}

func (c *CPUStarve) heal() error {
	if c.stop != nil {
		close(c.stop)
		<-c.done
		c.stop, c.done = nil, nil
	}
	if c.cg != nil {
		err := c.cg.remove()
		c.cg = nil
		if err != nil {
			return fmt.Errorf("cpu-starve: %w", err)
		}
	}
	return nil
}
