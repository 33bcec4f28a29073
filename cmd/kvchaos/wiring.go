package main

import (
	"context"
	"errors"
	"io"
)

// The fault and harness/check packages are being written alongside this
// command; until fault.Cleanup and check.Recheck land, these stubs say so.
// Replace them with `cleanups cleanupFunc = fault.Cleanup` and
// `rechecks recheckFunc = check.Recheck`.
var (
	cleanups cleanupFunc = func(context.Context, io.Writer) error {
		return errors.New("not available in this build: fault.Cleanup is not wired in yet")
	}
	rechecks recheckFunc = func(string, io.Writer) error {
		return errors.New("not available in this build: check.Recheck is not wired in yet")
	}
)
