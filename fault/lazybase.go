package fault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kvchaos/kvchaos/fault/lazyfs"
)

// The FUSE-backed faults (PowerLoss, CrashStates) keep everything under one
// kvchaos-<name>-* temp dir: disk/ is the backing directory, data/ the mount
// point the server uses, and any extra subdirectories the fault needs. The
// "kvchaos" in the path is what Cleanup looks for after an interrupted run.

// makeLazyBase creates that temp dir with disk/, data/ and extra inside.
func makeLazyBase(name string, extra ...string) (string, error) {
	base, err := os.MkdirTemp("", "kvchaos-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("%s setup: %w", name, err)
	}
	for _, d := range append([]string{"disk", "data"}, extra...) {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			os.RemoveAll(base)
			return "", fmt.Errorf("%s setup: %w", name, err)
		}
	}
	return base, nil
}

// removeLazyBase unmounts fs (when mounted) and removes base (when set).
func removeLazyBase(name string, fs *lazyfs.FS, base string) error {
	var errs []error
	if fs != nil {
		errs = append(errs, fs.Unmount())
	}
	if base != "" {
		errs = append(errs, os.RemoveAll(base))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s teardown: %w", name, err)
	}
	return nil
}
