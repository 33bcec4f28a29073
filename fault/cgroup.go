package fault

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kvchaos/kvchaos/harness/proc"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroup is one kvchaos-* cgroup of one controller (v1) or of the unified
// hierarchy (v2), created as a child of the cgroup the target process is in
// (so limits of the enclosing sandbox still apply). The containerd cgroups
// module would do this too; four file writes do not need it.
type cgroup struct {
	dir    string // the cgroup's directory
	parent string // where the moved processes go back to
	v2     bool
}

// controllerDir returns the mount point of a v1 controller, or of the v2
// unified hierarchy where that controller is enabled for children, and
// whether it is v2.
func controllerDir(controller string) (string, bool, error) {
	v1 := filepath.Join(cgroupRoot, controller)
	if _, err := os.Stat(filepath.Join(v1, "cgroup.procs")); err == nil {
		return v1, false, nil
	}
	for _, d := range []string{cgroupRoot, filepath.Join(cgroupRoot, "unified")} {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.subtree_control"))
		if err == nil && strings.Contains(" "+string(b)+" ", " "+controller+" ") {
			return d, true, nil
		}
	}
	return "", false, fmt.Errorf("no %s cgroup controller (v1 or delegated v2): %w", controller, ErrUnsupported)
}

// procCgroup returns pid's cgroup path within the given hierarchy.
func procCgroup(pid int, controller string, v2 bool) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("cgroup of %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		for _, c := range strings.Split(parts[1], ",") {
			if !v2 && c == controller {
				return parts[2], nil
			}
		}
	}
	return "/", nil
}

// newCgroup creates kvchaos-<kind>-<random> next to the cgroup pid is in.
func newCgroup(controller, kind string, pid int) (*cgroup, error) {
	base, v2, err := controllerDir(controller)
	if err != nil {
		return nil, err
	}
	rel, err := procCgroup(pid, controller, v2)
	if err != nil {
		return nil, err
	}
	parent := filepath.Join(base, rel)
	// A v2 process may only live in a leaf: nest beside it, under its parent.
	if v2 {
		parent = filepath.Dir(parent)
	}
	dir := filepath.Join(parent, fmt.Sprintf("kvchaos-%s-%d-%d", kind, pid, rand.Int63()%1e9))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return &cgroup{dir: dir, parent: filepath.Join(base, rel), v2: v2}, nil
}

func (c *cgroup) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("cgroup write %s=%s: %w", file, value, err)
	}
	return nil
}

func (c *cgroup) add(pid int) error { return c.write("cgroup.procs", strconv.Itoa(pid)) }

// addGroup moves pid and the rest of its process group (see proc.Members) in.
func (c *cgroup) addGroup(pid int) error {
	ms := proc.Members(pid)
	if len(ms) == 0 {
		return fmt.Errorf("cgroup add: process %d is not running", pid)
	}
	for _, p := range ms {
		if err := c.add(p); err != nil {
			return err
		}
	}
	return nil
}

// stat reads "name value" from a flat keyed file (memory.oom_control,
// memory.events, cpu.stat).
func (c *cgroup) stat(file, name string) (int64, error) {
	return keyedValue(filepath.Join(c.dir, file), name)
}

func keyedValue(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s", name, path)
}

// remove moves every process left in the cgroup back to its parent and
// removes the cgroup, retrying while exiting processes still hold it.
func (c *cgroup) remove() error {
	return removeCgroup(c.dir, c.parent)
}

func removeCgroup(dir, parent string) error {
	var err error
	for range 50 {
		if b, rerr := os.ReadFile(filepath.Join(dir, "cgroup.procs")); rerr == nil {
			for _, p := range strings.Fields(string(b)) {
				_ = os.WriteFile(filepath.Join(parent, "cgroup.procs"), []byte(p), 0o644)
			}
		}
		err = os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // a killed task takes a moment to leave
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}
