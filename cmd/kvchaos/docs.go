package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kvchaos/kvchaos/docs/gen"
)

// docsFlags are docs' flags.
type docsFlags struct {
	root      string
	serverBin string
	check     bool
	noCapture bool
}

func newDocsCmd() *cobra.Command {
	var f docsFlags
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Generate docs/ from the code, a live kvserver and bench.json",
		Long: `docs writes the generated documentation under docs/: openapi.yaml and api.md
(from kvserver's route table and error codes, with examples captured from a live
kvserver), architecture.md (with the packages' doc comments), faults.md (from
fault/'s doc comments), performance-tuning.md (from docs/data/bench.json) and
getting-started.md.

The API examples are captured by starting --server-bin (default bin/kvserver)
on temporary data dirs; they and the bench figures are stored in docs/data/*.json,
the only files that change from one machine or day to the next.

--check renders every page from the committed data into memory and fails when
any file in docs/ differs or the spec and the server's routes disagree. It runs
no server and no benchmark; CI runs it.`,
		Example: `  make build && bin/kvchaos docs    # capture examples, write docs/
  bin/kvchaos docs --no-capture       # re-render from docs/data only
  bin/kvchaos docs --check            # CI: fail when docs/ is stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := gen.FindRoot(f.root)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := checkRoutes(); err != nil {
				return err
			}
			if f.check {
				if err := gen.Check(root); err != nil {
					return err
				}
				fmt.Fprintln(out, "docs/ is up to date")
				return nil
			}
			opts := gen.Options{Root: root, Log: out}
			if !f.noCapture {
				bin := f.serverBin
				if bin == "" {
					bin = filepath.Join(root, "bin", "kvserver")
				}
				if _, err := os.Stat(bin); err != nil {
					return fmt.Errorf("server binary %s: %w (run `make build`, pass --server-bin, or --no-capture)", bin, err)
				}
				opts.ServerBin = bin
			}
			changed, err := gen.Generate(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if len(changed) == 0 {
				fmt.Fprintln(out, "docs/ was already up to date")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.root, "root", ".", "the kvchaos checkout (any directory inside it)")
	fl.StringVar(&f.serverBin, "server-bin", "", "kvserver binary to capture the API examples from (default bin/kvserver)")
	fl.BoolVar(&f.check, "check", false, "only check that docs/ matches what would be generated")
	fl.BoolVar(&f.noCapture, "no-capture", false, "keep the committed API examples instead of capturing new ones")
	return cmd
}

// checkRoutes fails when docs/openapi.yaml as generated and the server's
// route table disagree.
func checkRoutes() error {
	spec, err := gen.OpenAPI()
	if err != nil {
		return err
	}
	doc, err := gen.LoadSpec(spec)
	if err != nil {
		return err
	}
	return gen.CheckRoutes(gen.ServerRoutes(), gen.SpecRoutes(doc))
}
