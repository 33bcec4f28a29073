package fault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kvchaos/kvchaos/harness/proc"
)

// Cleanup finds and removes what an interrupted kvchaos run left behind, and
// writes one line per thing it removed to w:
//   - processes started by kvchaos (their environment has OwnerEnv: servers
//     started by the harness, strace tracers, memory hogs); tracers go first
//     so no traced process is left stopped;
//   - mounts whose mount point contains "kvchaos" (tmpfs of DiskFull, lazyfs
//     of PowerLoss), with their kvchaos-* temp dirs;
//   - cgroups named kvchaos-* (their processes go back to the parent).
//
// It acts on the whole machine: do not run it while another kvchaos run is
// going on.
func Cleanup(ctx context.Context, w io.Writer) error {
	return cleanup(ctx, w, "")
}

// cleanup removes leftovers whose owner value and paths contain token ("":
// any), so tests can clean only their own.
func cleanup(ctx context.Context, w io.Writer, token string) error {
	var errs []error
	errs = append(errs, cleanProcs(ctx, w, token))
	errs = append(errs, cleanMounts(w, token))
	errs = append(errs, cleanCgroups(w, token))
	return errors.Join(errs...)
}

type ownedProc struct {
	pid   int
	comm  string
	owner string
}

// ownedProcs lists processes whose environment has OwnerEnv containing
// token, tracers first, never ourselves.
func ownedProcs(token string) []ownedProc {
	ents, _ := os.ReadDir("/proc")
	var out []ownedProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || pid == os.Getppid() {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			v, ok := bytes.CutPrefix(kv, []byte(OwnerEnv+"="))
			if ok && strings.Contains(string(v), token) {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				out = append(out, ownedProc{pid: pid, comm: strings.TrimSpace(string(comm)), owner: string(v)})
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].comm == "strace" && out[j].comm != "strace" })
	return out
}

func cleanProcs(ctx context.Context, w io.Writer, token string) error {
	var errs []error
	for _, p := range ownedProcs(token) {
		if p.comm == "strace" {
			// SIGINT makes strace detach cleanly before it exits.
			_ = syscall.Kill(p.pid, syscall.SIGINT)
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := waitDead(wctx, p.pid)
			cancel()
			if err == nil {
				fmt.Fprintf(w, "detached tracer pid %d (%s)\n", p.pid, p.owner)
				continue
			}
		}
		if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", p.pid, err))
			continue
		}
		_ = syscall.Kill(p.pid, syscall.SIGCONT)
		fmt.Fprintf(w, "killed pid %d %s (%s=%s)\n", p.pid, p.comm, OwnerEnv, p.owner)
	}
	return errors.Join(errs...)
}

// kvchaosMounts lists mount points containing "kvchaos" and token, deepest
// first.
func kvchaosMounts(token string) ([]string, error) {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		mp := strings.ReplaceAll(fields[1], `\040`, " ")
		if strings.Contains(mp, "kvchaos") && strings.Contains(mp, token) && !strings.HasPrefix(mp, cgroupRoot) {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

func cleanMounts(w io.Writer, token string) error {
	mps, err := kvchaosMounts(token)
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range mps {
		if err := unmount(mp); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(w, "unmounted %s\n", mp)
		// Remove the kvchaos-* temp dir that held the mount point.
		dir := mp
		for dir != "/" && !strings.HasPrefix(filepath.Base(dir), "kvchaos-") {
			dir = filepath.Dir(dir)
		}
		if dir != "/" && filepath.Dir(dir) == filepath.Clean(os.TempDir()) {
			if err := os.RemoveAll(dir); err == nil {
				fmt.Fprintf(w, "removed %s\n", dir)
			}
		}
	}
	return errors.Join(errs...)
}

// kvchaosCgroups lists kvchaos-* cgroups (containing token) in every
// hierarchy, deepest first.
func kvchaosCgroups(token string) []string {
	var out []string
	roots, _ := os.ReadDir(cgroupRoot)
	for _, r := range roots {
		base := filepath.Join(cgroupRoot, r.Name())
		depth0 := strings.Count(base, "/")
		_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Count(p, "/")-depth0 > 6 {
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), "kvchaos-") && strings.Contains(d.Name(), token) {
				out = append(out, p)
			}
			return nil
		})
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func cleanCgroups(w io.Writer, token string) error {
	var errs []error
	for _, cg := range kvchaosCgroups(token) {
		if err := removeCgroup(cg, filepath.Dir(cg)); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(w, "removed cgroup %s\n", cg)
	}
	return errors.Join(errs...)
}

// Leftovers lists what Cleanup would remove (processes, mounts, cgroups), one
// description each; an empty list means the machine is clean. The
// reliability suite checks it after every spec.
func Leftovers() []string {
	var out []string
	for _, p := range ownedProcs("") {
		if proc.Alive(p.pid) {
			out = append(out, fmt.Sprintf("process %d %s (%s=%s)", p.pid, p.comm, OwnerEnv, p.owner))
		}
	}
	mps, _ := kvchaosMounts("")
	for _, mp := range mps {
		out = append(out, "mount "+mp)
	}
	for _, cg := range kvchaosCgroups("") {
		out = append(out, "cgroup "+cg)
	}
	return out
}
