package gen

import (
	"fmt"
	"sort"
	"strings"
)

// faultGuide is the hand-written part of a fault's entry in docs/faults.md:
// its group, what it needs, and what a well-behaved server does under it.
type faultGuide struct {
	Group  string
	Needs  string
	Server string
}

// faultGroups orders the groups of docs/faults.md.
var faultGroups = []string{"Process", "Disk", "Memory and CPU"}

// faultOrder is the order of the faults within their group.
var faultOrder = []string{"Kill", "Terminate", "Pause", "CrashLoop", "DiskFull", "IOError", "SlowSync", "PowerLoss", "CrashStates", "TornWrite", "Corrupt", "MemoryLimit", "CPUStarve"}

// faultGuides is keyed by the fault's Go type. A test fails when a fault in
// fault/ has no guide here, or a guide names a fault that is gone.
var faultGuides = map[string]faultGuide{
	"Kill": {"Process", "nothing but a process the harness started",
		"Start again on the same data dir and lose no acknowledged write under any `--sync` (the kernel's page cache survives a process crash). A torn last log record is cut back to the last whole transaction and logged with the bytes dropped; a half-applied batch is never visible; revisions never go backwards."},
	"Terminate": {"Process", "nothing",
		"Stop accepting, finish in-flight requests within `--shutdown-timeout`, sync and close the store, exit 0. The next start loads without recovery work."},
	"Pause": {"Process", "nothing",
		"Nothing to do while stopped; clients time out and record their writes as `unknown`. After SIGCONT latency returns to normal and nothing acknowledged is lost."},
	"CrashLoop": {"Process", "a target the harness can restart (its Target)",
		"Every restart succeeds and recovers a prefix of the acknowledged history; recovery time stays bounded as the log grows (snapshots and compaction)."},
	"DiskFull": {"Disk", "root (to mount a tmpfs)",
		"Refuse writes with 507 `DISK_FULL` — never a 500, a panic or a hang — and leave no partial record that would break the next start; reads keep working; `/readyz` says degraded; once space is back, writes succeed without a restart."},
	"IOError": {"Disk", "root and the `strace` binary (Debian's strace)",
		"Never acknowledge a write whose write or fsync failed (500 `INTERNAL` for EIO, 507 for ENOSPC/EDQUOT); never let a later fsync make the failed transaction durable behind the client's back; report degraded until a write succeeds."},
	"SlowSync": {"Disk", "the `strace` binary; root to attach to a running server (launching one under strace with `Wrap`, as `kvchaos bench` does, needs no root)",
		"Acknowledge a write under `--sync always` only after the fsync that covers it returned — so no acknowledged write is faster than the delay — and lose none of them across a crash; let concurrent writers share the slow fsync (group commit: transactions per fsync rise with the delay); keep serving reads while a write waits for its fsync."},
	"PowerLoss": {"Disk", "root and /dev/fuse",
		"With `--sync always`, lose nothing acknowledged; with `everysec`, at most about the last second; with `never`, whatever the OS had not flushed. In every case start again and recover a consistent prefix — never a half batch."},
	"CrashStates": {"Disk", "root and /dev/fuse",
		"Start on every recorded state — each is what the disk held right after one of its fsyncs — and serve exactly the transactions acknowledged before that fsync (under `--sync always`), with no half batch and no error that a real power loss at that moment would not excuse."},
	"TornWrite": {"Disk", "a stopped server and its data dir",
		"Start, cut the damaged tail back to the last complete transaction, log what was dropped, and serve a prefix of the acknowledged history. Wherever the cut falls, even inside a batch's record (the suite sweeps every 7th byte of the log's last KiB after bank transfers), a batch is applied whole or not at all."},
	"Corrupt": {"Disk", "a stopped server and its data dir",
		"Refuse to start, naming the file, the offset and the fix (`kvserver check` / `kvserver repair`); never start with silently lost or wrong data. `kvserver repair` keeps a backup and truncates to the last good transaction."},
	"MemoryLimit": {"Memory and CPU", "root and a memory cgroup controller (v1 or v2); the RLIMIT_AS mode needs neither",
		"Keep its own memory under the limit — `--max-memory` below the cgroup limit, evicting (`lru`, `lfu`) or answering 507 `MEMORY_LIMIT` (`noeviction`) — and never be OOM-killed. A misconfigured server (limit above the cgroup's) is OOM-killed, and the harness reports it as such."},
	"CPUStarve": {"Memory and CPU", "root and a cpu cgroup controller for the quota; the SIGSTOP/SIGCONT duty cycle needs nothing",
		"Slow down, but answer every request within the client deadline or fail it cleanly; return to normal latency after the heal; no deadlock (the harness sends SIGQUIT on a stall and keeps the goroutine dump)."},
}

// FaultsPage renders docs/faults.md from fault/'s doc comments and the
// guides above.
func FaultsPage(root string) ([]byte, error) {
	faults, err := FaultDocs(root)
	if err != nil {
		return nil, err
	}
	rank := map[string]int{}
	for i, t := range faultOrder {
		rank[t] = i + 1
	}
	sort.SliceStable(faults, func(i, j int) bool {
		ri, rj := rank[faults[i].Type], rank[faults[j].Type]
		if ri == 0 || rj == 0 {
			return ri != 0 && rj == 0
		}
		return ri < rj
	})
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("<!-- Generated by `kvchaos docs` from the doc comments of fault/ and docs/gen/faults.go; do not edit. -->\n")
	w("# Faults\n\n")
	w("Every fault kvchaos injects is one small type in [`fault/`](../fault), reaching the server only through its\n")
	w("process (pid, signals, cgroups, ptrace) and its data dir — never through its code. The descriptions below are\n")
	w("the types' own doc comments; \"What a server should do\" is what the suites check. The harness starts every\n")
	w("server in its own process group, and the process faults (signals, cgroups, ptrace) act on the whole group, so a\n")
	w("wrapper script that starts the server without `exec` does not shield it from them.\n\n")
	w("## How a fault runs\n\n")
	w("One driver (`fault.Inject` / `fault.Apply`) wraps every injection: **probe** (does this machine support it? if\n")
	w("not, the spec is *skipped with the reason*, never passed), **inject**, record the window on the run's clock\n")
	w("(it is drawn over the latency and resource charts of the HTML report), **heal**. Healing is always deferred\n")
	w("(`DeferCleanup`), so a failing or interrupted spec still leaves the machine clean. Optional abilities are\n")
	w("one-method interfaces: a `Healer` ends a lasting fault, a `Prober` says whether the machine supports it, a\n")
	w("`Preparer` builds the data dir before the server starts (a tmpfs, a FUSE mount), a `Detailer` says what the\n")
	w("last injection did.\n\n")
	w("| Fault | Name | Group | Heals | Probes | Prepares data dir | Needs |\n|---|---|---|---|---|---|---|\n")
	var missing []string
	for _, g := range faultGroups {
		for _, f := range faults {
			if guide, ok := faultGuides[f.Type]; ok && guide.Group == g {
				w("| [`%s`](#%s) | `%s` | %s | %s | %s | %s | %s |\n", f.Type, strings.ToLower(f.Type), f.Name, g,
					yes(f.Heals), yes(f.Probes), yes(f.Prepares), guide.Needs)
			}
		}
	}
	for _, f := range faults {
		if _, ok := faultGuides[f.Type]; !ok {
			missing = append(missing, f.Type)
			w("| `%s` | `%s` | — | %s | %s | %s | **undocumented** |\n", f.Type, f.Name, yes(f.Heals), yes(f.Probes), yes(f.Prepares))
		}
	}
	for _, g := range faultGroups {
		w("\n## %s\n", g)
		for _, f := range faults {
			guide, ok := faultGuides[f.Type]
			if !ok || guide.Group != g {
				continue
			}
			w("\n<a id=\"%s\"></a>\n### %s (`%s`)\n\n", strings.ToLower(f.Type), f.Type, f.Name)
			w("%s\n", strings.TrimSpace(docMarkdown(f.Doc)))
			w("\n- **Needs:** %s.\n", guide.Needs)
			w("- **Cleans up:** %s\n", cleanupText(f))
			w("- **What a server should do:** %s\n", guide.Server)
			w("- **Source:** [`%s`](../%s)\n", f.File, f.File)
		}
	}
	if len(missing) > 0 {
		w("\n## Not yet documented\n\nThese faults have no guide in docs/gen/faults.go: %s.\n", strings.Join(missing, ", "))
	}
	w("\n## Leftovers and `kvchaos cleanup`\n\n")
	w("Everything a fault creates is named so it can be found again: temp dirs and mount points `kvchaos-*`, cgroups\n")
	w("`kvchaos-*`, and every process kvchaos starts (servers, strace tracers, memory hogs) carries `KVCHAOS_OWNER` in\n")
	w("its environment. A run interrupted with Ctrl-C heals in its deferred cleanups; if something still survives (a\n")
	w("`kill -9` of the runner), `kvchaos cleanup` removes it — tracers first, so no server is left stopped; then the\n")
	w("mounts, deepest first; then the cgroups — and prints one line per thing removed. Each suite's `AfterSuite`\n")
	w("fails when anything is left. Do not run `kvchaos cleanup` while another run is going on: it acts on the whole\n")
	w("machine.\n\n")
	w("## Checking a machine\n\n")
	w("The disk, memory and CPU faults need root, and some need more (`strace`, `/dev/fuse`, cgroup controllers).\n")
	w("Without them the specs that use them are **skipped with the reason** in the report, never passed. `make deps`\n")
	w("installs the Debian packages they use when run as root.\n")
	return []byte(b.String()), nil
}

// cleanupText says how a fault is undone, from what it implements.
func cleanupText(f FaultDoc) string {
	var parts []string
	switch {
	case f.Heals:
		parts = append(parts, "`Heal` ends the fault (safe to call twice and after a failed inject); the driver defers it")
	default:
		parts = append(parts, "an instant fault: nothing lasts after `Inject` but its effect on the server")
	}
	if f.Prepares {
		parts = append(parts, "`Teardown` unmounts what `Setup` mounted and removes its `kvchaos-*` dir")
	}
	return strings.Join(parts, "; ") + "."
}

// docMarkdown turns a Go doc comment into Markdown: indented list lines
// stay lists, the rest is paragraphs.
func docMarkdown(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "- ") {
			out = append(out, t)
			continue
		}
		out = append(out, strings.TrimRight(l, " "))
	}
	return strings.Join(out, "\n")
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "—"
}
