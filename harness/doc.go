// Package harness starts a kvserver-compatible binary as a black box, drives
// it over its v1 HTTP API and records what happened.
//
// A Target is one server process (binary, args, env, data dir, logs) with
// verbs for the signals a chaos test sends it. A Client speaks the v1 API and
// records every operation into a History on a run Clock, with Jepsen's
// outcomes: ok, fail (definite) or unknown (the write may or may not have
// happened). A Sampler records the process's resources. Checking the
// histories lives in harness/check, seeded workloads in harness/workload and
// the Ginkgo bootstrap every suite calls in harness/suite.
//
// Nothing here imports the server's packages: the harness reaches the server
// only over HTTP, signals, its process and its data dir.
package harness
