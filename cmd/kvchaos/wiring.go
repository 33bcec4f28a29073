package main

import (
	"errors"

	"github.com/kvchaos/kvchaos/fault"
	"github.com/kvchaos/kvchaos/harness/check"
)

// The implementations behind `kvchaos cleanup` and `kvchaos recheck`;
// variables so tests can observe the commands without touching the machine.
var (
	cleanups cleanupFunc = fault.Cleanup
	rechecks recheckFunc = check.Recheck
	// recheckFailed tells a failed or inconclusive check (exit 1) from
	// one that could not run (exit 2).
	recheckFailed = func(err error) bool {
		return errors.Is(err, check.ErrViolation) || errors.Is(err, check.ErrInconclusive)
	}
)
