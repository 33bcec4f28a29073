package fault

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCleanupRemovesLeftovers(t *testing.T) {
	if !isRoot() {
		t.Skip(errNotRoot)
	}
	token := fmt.Sprintf("cleanuptest%d", os.Getpid())
	ctx := ctxT(t)

	// A process a crashed run left behind.
	cmd := exec.Command("sleep", "60")
	cmd.Env = append(os.Environ(), OwnerEnv+"="+token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// A mount.
	mnt, err := os.MkdirTemp("", "kvchaos-"+token+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmount(mnt); _ = os.RemoveAll(mnt) })

	// A cgroup, with a process in it.
	base, _, err := controllerDir("memory")
	if err != nil {
		t.Skip(err)
	}
	rel, _ := procCgroup(os.Getpid(), "memory", false)
	cg := filepath.Join(base, rel, "kvchaos-"+token)
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeCgroup(cg, filepath.Dir(cg)) })

	if n := len(ownedProcs(token)); n != 1 {
		t.Fatalf("found %d owned processes before cleanup, want 1", n)
	}
	var out bytes.Buffer
	if err := cleanup(ctx, &out, token); err != nil {
		t.Fatalf("cleanup: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	if err := <-waited; err == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("leftover process not killed: %v", err)
	}
	if mps, _ := kvchaosMounts(token); len(mps) != 0 {
		t.Fatalf("mounts left: %v", mps)
	}
	if _, err := os.Stat(mnt); !os.IsNotExist(err) {
		t.Fatalf("mount point dir %s left", mnt)
	}
	if _, err := os.Stat(cg); !os.IsNotExist(err) {
		t.Fatalf("cgroup %s left", cg)
	}
	for _, want := range []string{"killed pid", "unmounted", "removed cgroup"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}
