// Package proctest starts the process shape that tests of group-wide process
// handling need: a shell wrapper, leading its own process group, that starts
// a child without exec and waits for it, as a user's wrapper script around a
// server would.
package proctest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Wrapper is a running wrapper and its child.
type Wrapper struct {
	Cmd   *exec.Cmd
	Child int           // the wrapped process's pid
	Done  chan struct{} // closed once the wrapper is reaped
}

// Pid is the wrapper's pid, which is also its process group's id.
func (w *Wrapper) Pid() int { return w.Cmd.Process.Pid }

// StartWrapper starts `sh -c "sleep 600 & echo $!; wait"` in its own process
// group, with env added to the environment, and kills the whole group when
// the test ends.
func StartWrapper(t testing.TB, env ...string) *Wrapper {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 600 & echo $!; wait")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &Wrapper{Cmd: cmd, Done: make(chan struct{})}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-w.Done
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() { _ = cmd.Wait(); close(w.Done) }()
	if err != nil {
		t.Fatalf("read the child's pid: %v", err)
	}
	if _, err := fmt.Sscan(line, &w.Child); err != nil {
		t.Fatalf("parse the child's pid %q: %v", line, err)
	}
	return w
}
