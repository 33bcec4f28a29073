package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // "" for none
	}{
		{"valid", "target:\n  binary: /bin/kv\nfaults:\n  crashes: 3\n", ""},
		{"unknown top-level key", "targte:\n  binary: x\n", `"targte"`},
		{"unknown nested key", "faults:\n  crashs: 3\n", `"crashs"`},
		{"wrong type", "faults:\n  crashes: many\n", "crashes"},
		{"bad timeout", "timeout: soon\n", "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeFile(t, "kvchaos.yaml", tc.yaml), true)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "kvchaos.yaml")
	if c, err := loadConfig(missing, false); err != nil || c.Out != "" {
		t.Errorf("missing default file: %+v, %v", c, err)
	}
	if _, err := loadConfig(missing, true); err == nil {
		t.Error("a missing file the user named is not an error")
	}
}

func TestExampleConfigParses(t *testing.T) {
	c, err := loadConfig("../../kvchaos.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Out != "reports" || len(c.Suites) == 0 || c.Faults.Crashes == 0 {
		t.Errorf("example config = %+v", c)
	}
}

func TestSuiteEnv(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want map[string]string
	}{
		{"zero config sets nothing", Config{}, map[string]string{}},
		{"target", Config{Target: TargetConfig{Binary: "/bin/kv", Args: []string{"--sync", "always"}, Env: map[string]string{"GOGC": "50"}}},
			map[string]string{"KVCHAOS_SERVER_BIN": "/bin/kv", "KVCHAOS_SERVER_ARGS": `["--sync","always"]`, "KVCHAOS_SERVER_ENV": `{"GOGC":"50"}`}},
		{"faults", Config{Faults: FaultConfig{Crashes: 5, FillLevels: []string{"0", "4KiB"}, MemoryLimits: []string{"128MiB"}, CPUQuota: "5%", Duration: "10s", Clients: 8}},
			map[string]string{"KVCHAOS_CRASHES": "5", "KVCHAOS_FILL_LEVELS": "0,4KiB", "KVCHAOS_MEMORY_LIMITS": "128MiB",
				"KVCHAOS_CPU_QUOTA": "5%", "KVCHAOS_DURATION": "10s", "KVCHAOS_CLIENTS": "8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.suiteEnv()
			if strings.Join(envList(got), " ") != strings.Join(envList(tc.want), " ") {
				t.Errorf("env = %v, want %v", envList(got), envList(tc.want))
			}
		})
	}
}

func TestFlagsOverrideConfig(t *testing.T) {
	cfgFile := writeFile(t, "c.yaml", "labels: edge\nseed: 7\nout: fromfile\ntarget:\n  binary: /from/file\nsuites: [./a]\n")
	tests := []struct {
		name  string
		args  []string
		check func(Config) bool
	}{
		{"file values stand", nil, func(c Config) bool {
			return c.Labels == "edge" && c.Seed == 7 && c.Out == "fromfile" && c.Target.Binary == "/from/file"
		}},
		{"label filter", []string{"--label-filter", "crash"}, func(c Config) bool { return c.Labels == "crash" && c.Seed == 7 }},
		{"empty label filter still overrides", []string{"--label-filter="}, func(c Config) bool { return c.Labels == "" }},
		{"seed and out", []string{"--seed", "9", "--out", "x"}, func(c Config) bool { return c.Seed == 9 && c.Out == "x" }},
		{"server bin", []string{"--server-bin", "/flag"}, func(c Config) bool { return c.Target.Binary == "/flag" }},
		{"parallel", []string{"-p"}, func(c Config) bool { return c.Parallel }},
		{"race", []string{"--race"}, func(c Config) bool { return c.Target.Race && c.suiteEnv()["KVCHAOS_RACE"] == "1" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := &cobra.Command{}
			var f runFlags
			bindRunFlags(cmd.Flags(), &f)
			if err := cmd.ParseFlags(append([]string{"--config", cfgFile}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			c, err := f.merge(cmd, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

func TestGinkgoArgs(t *testing.T) {
	g := ginkgoRun{OutDir: "/r", Seed: 3, LabelFilter: "edge", Focus: "x", Parallel: true,
		Repeat: 2, Timeout: "5m", Suites: []string{"./suites"}, Recursive: true}
	got := strings.Join(g.args(), " ")
	want := "-r --keep-going --no-color --output-dir=/r --json-report=report.json --seed=3 --label-filter=edge --focus=x -p --repeat=2 --timeout=5m ./suites"
	if got != want {
		t.Errorf("args = %s\nwant   %s", got, want)
	}
	if strings.Contains(got, "flake") {
		t.Error("flake attempts would turn chaos failures into passes")
	}
}

func TestLocalSuitePath(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"exists as recorded", filepath.Join(wd, "testdata/suites/alpha"), filepath.Join(wd, "testdata/suites/alpha")},
		{"copied from a CI checkout", "/builds/group/kvchaos/cmd/kvchaos/testdata/suites/beta", "./testdata/suites/beta"},
		{"nowhere", "/builds/group/elsewhere/nothing-here", ""},
		{"unknown", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := localSuitePath(tc.in)
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Errorf("localSuitePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestGinkgoArgsWithoutSeedLetsGinkgoPick(t *testing.T) {
	got := strings.Join(ginkgoRun{OutDir: "/r", UntilFails: true, Suites: []string{"s"}}.args(), " ")
	if strings.Contains(got, "--seed") || !strings.Contains(got, "--until-it-fails") {
		t.Errorf("args = %s", got)
	}
}

func TestGinkgoCommand(t *testing.T) {
	t.Run("env override", func(t *testing.T) {
		t.Setenv(ginkgoEnv, "/opt/ginkgo")
		got, err := ginkgoCommand()
		if err != nil || strings.Join(got, " ") != "/opt/ginkgo" {
			t.Errorf("got %v, %v", got, err)
		}
	})
	t.Run("go tool fallback", func(t *testing.T) {
		t.Setenv(ginkgoEnv, "")
		got, err := ginkgoCommand()
		if err != nil || len(got) != 3 || got[1] != "tool" || got[2] != "ginkgo" {
			t.Errorf("got %v, %v (the test binary has no ginkgo beside it)", got, err)
		}
	})
}
