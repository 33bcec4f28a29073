#!/usr/bin/env bash
# Regenerates reports/testdata/run: a real `kvchaos run` of the throwaway
# suites in cmd/kvchaos/testdata/suites against a target that fails
# (/bin/false), keeping report.json, run.json and the artifacts only.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=reports/testdata/run
rm -rf "$out"
go build -o /tmp/kvchaos-regen/kvchaos ./cmd/kvchaos
go build -o /tmp/kvchaos-regen/ginkgo github.com/onsi/ginkgo/v2/ginkgo
/tmp/kvchaos-regen/kvchaos run --out "$out" --seed 42 --server-bin /bin/false ./cmd/kvchaos/testdata/suites || true
rm -rf /tmp/kvchaos-regen "$out"/{index.html,junit.xml,summary.md,history.jsonl,ginkgo.log}
# Make the artifact paths look like a report copied from a CI runner, so
# the tests exercise finding artifacts under the report dir.
sed -i "s|$PWD/$out/|/ci-runner/builds/kvchaos/reports/|g" "$out"/report.json "$out"/run.json
