package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
)

// Output file names in the output directory.
const (
	JSONFile = "bench.json"
	HTMLFile = "bench.html"
)

// WriteFiles writes bench.json and bench.html into dir, creating it.
func WriteFiles(rep *Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write bench report: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("write bench report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write bench report: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, HTMLFile))
	if err != nil {
		return fmt.Errorf("write bench report: %w", err)
	}
	if err := WriteHTML(rep, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadJSON loads a bench.json.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bench report: %w", err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("read bench report %s: %w", path, err)
	}
	return &rep, nil
}

// WriteTable prints the report as aligned tables: every kvserver point
// beside the baseline at the same scenario and concurrency, then group
// commit, recovery, the crash cycle, memory and Redis.
func WriteTable(rep *Report, w io.Writer) error {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d CPUs (%s), %.0f GiB, %s %s, data on %s, %s, load average %.1f at start, %.1f at end\n",
		m.CPUs, m.CPUModel, float64(m.Memory)/(1<<30), m.OS, m.Kernel, m.DataFS, m.GoVersion, m.Load1Start, m.Load1End)
	fmt.Fprintln(w, "each kvserver point is measured right after the baseline at the same scenario and clients; other CPU = cores used by the rest of the machine meanwhile")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsync\tclients\tkvserver ops/s\tp50\tp99\tbaseline ops/s\tratio\tbaseline p99\tserver CPU\ttx/fsync\terrors\tother CPU\t")
	basep99 := map[string]float64{}
	for _, p := range rep.Points {
		if p.Target == "baseline" {
			basep99[fmt.Sprintf("%s/%s/%d", p.Scenario, p.Sync, p.Clients)] = p.Latency.P99
		}
	}
	for _, p := range rep.Points {
		if p.Target != "kvserver" {
			continue
		}
		clients := fmt.Sprint(p.Clients)
		ratio, base, bp99 := "-", "-", "-"
		if p.Mode == "open" {
			clients = fmt.Sprintf("open %.0f/s", p.Rate)
		} else if p.Ratio > 0 {
			ratio = fmt.Sprintf("%.0f%%", p.Ratio*100)
			base = fmt.Sprintf("%.0f", p.BaselineOpsPerSec)
			bp99 = us(basep99[fmt.Sprintf("%s/%s/%d", p.Scenario, p.Sync, p.Clients)])
		}
		tx := "-"
		if p.Server.TxPerFsync > 0 {
			tx = fmt.Sprintf("%.1f", p.Server.TxPerFsync)
		}
		sync := p.Sync
		if p.Eviction != "" {
			sync += " --eviction " + p.Eviction
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%d\t%.2f\t\n", p.Scenario, sync, clients, p.OpsPerSec,
			us(p.Latency.P50), us(p.Latency.P99), base, ratio, bp99, p.Server.CPUCores, tx, p.Errors+p.Missed, p.OtherCores)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if g := rep.GroupCommit; g != nil {
		fmt.Fprintf(w, "\ngroup commit (%s, --sync always, %d clients): %.0f ops/s at %.1f tx/fsync vs %.0f ops/s at %.1f tx/fsync without (%s): %.1fx\n",
			g.Scenario, g.Clients, g.GroupedOpsPerSec, g.GroupedTxPerFsync, g.UngroupedOpsPerSec, g.UngroupedTxPerFsync, g.UngroupedHow, g.Gain)
		if err := writeLatencyGains(w, g); err != nil {
			return err
		}
	}
	if len(rep.Recovery) > 0 {
		fmt.Fprintln(w, "\nrecovery (restart on a data dir, median of 3):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "data\twrites\tdata dir MiB\tlog MiB\tsnapshot MiB\tlistening s\tready s\tserver load s\t")
		for _, r := range rep.Recovery {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%.3f\t\n", r.Name, r.Writes, mib(r.DataDirBytes), mib(r.LogBytes),
				mib(r.SnapshotBytes), r.ListenSeconds, r.ReadySeconds, r.LoadSeconds)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if c := rep.CrashCycle; c != nil {
		fmt.Fprintf(w, "\ncrash cycle (SIGKILL, restart, read back; %d keys, %d cycles): median %.0f ms, p90 %.0f ms, max %.0f ms\n",
			c.Keys, c.Cycles, c.Median*1000, c.P90*1000, c.Max*1000)
	}
	if len(rep.Memory) > 0 {
		fmt.Fprintln(w, "\nmemory:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "data\tkeys\tstored MiB\tRSS growth MiB\tRSS per stored byte\theap growth MiB\taccounted MiB\taccounted vs RSS growth\t")
		for _, m := range rep.Memory {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%+.0f%%\t\n", m.Name, m.Keys, mib(m.StoredBytes), mib(m.RSSGrowth),
				m.RSSPerByte, mib(m.HeapGrowth), mib(m.Accounted), m.AccountingError*100)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Redis) > 0 {
		fmt.Fprintln(w, "\nredis-benchmark (reference):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\ttest\tappendfsync\tclients\tops/s\tp50\t")
		for _, r := range rep.Redis {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t%s\t\n", r.Scenario, r.Test, redisAppendFsync[r.Sync], r.Clients, r.OpsPerSec, us(r.P50))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

// writeLatencyGains prints the group-commit comparison at each added fsync
// latency, after the one at the disk's own.
func writeLatencyGains(w io.Writer, g *GroupCommit) error {
	if g.LatencySkipped != "" {
		fmt.Fprintln(w, "group commit at added fsync latencies: skipped,", g.LatencySkipped)
	}
	if len(g.ByFsyncLatency) == 0 {
		return nil
	}
	fmt.Fprintf(w, "group commit against fsync latency (the server under strace, every fsync made slower; %d clients, medians of %d rounds):\n", g.Clients, g.Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "added per fsync\tgrouped ops/s\ttx/fsync\tfsync ms\tp99\tungrouped ops/s\ttx/fsync\tfsync ms\tp99\tgain\t")
	fmt.Fprintf(tw, "0 (the disk's own)\t%.0f\t%.1f\t-\t-\t%.0f\t%.1f\t-\t-\t%.1fx\t\n", g.GroupedOpsPerSec, g.GroupedTxPerFsync, g.UngroupedOpsPerSec, g.UngroupedTxPerFsync, g.Gain)
	for _, l := range g.ByFsyncLatency {
		fmt.Fprintf(tw, "%s ms\t%.0f\t%.1f\t%.1f\t%s\t%.0f\t%.1f\t%.1f\t%s\t%.1fx\t\n", strconv.FormatFloat(l.AddedMs, 'f', -1, 64),
			l.GroupedOpsPerSec, l.GroupedTxPerFsync, l.GroupedFsyncMs, us(l.GroupedP99), l.UngroupedOpsPerSec, l.UngroupedTxPerFsync, l.UngroupedFsyncMs, us(l.UngroupedP99), l.Gain)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "fsync ms: the mean fsync time the server saw (the added latency is a floor; strace wakes the held thread late on a busy machine)")
	return err
}
