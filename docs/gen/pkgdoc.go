package gen

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// PackageDoc is one Go package of the repository and its doc comment.
type PackageDoc struct {
	// ImportPath is the package's import path.
	ImportPath string
	// Dir is its directory relative to the root, with forward slashes.
	Dir string
	// Name is the package name ("main" for a command).
	Name string
	// Doc is the package's doc comment; Synopsis its first sentence.
	Doc, Synopsis string
	// TestOnly is true for a package of _test.go files only (a suite).
	TestOnly bool
}

// skipDir reports whether a directory is outside the documented code.
func skipDir(name string) bool {
	return name == "testdata" || name == "bin" || name == "vendor" || name == "node_modules" ||
		name == "artifacts" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// PackageDocs reads the doc comment of every package under root (parsing
// only package clauses and comments: no build, no toolchain), sorted by
// directory. In a git checkout only tracked files count, so a scratch dir
// in a working tree does not change the page; elsewhere every .go file does.
func PackageDocs(root string) ([]PackageDoc, error) {
	module, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	files, err := goFiles(root)
	if err != nil {
		return nil, fmt.Errorf("read package docs: %w", err)
	}
	byDir := map[string][]string{}
	for _, f := range files {
		byDir[filepath.Dir(f)] = append(byDir[filepath.Dir(f)], f)
	}
	var out []PackageDoc
	for dir, fs := range byDir {
		pd, ok := packageDoc(root, fs)
		if !ok {
			continue
		}
		pd.Dir = filepath.ToSlash(dir)
		pd.ImportPath = module + "/" + pd.Dir
		if dir == "." {
			pd.ImportPath = module
		}
		out = append(out, pd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, nil
}

// goFiles lists the .go files under root, relative to it, outside the
// directories skipDir names: git's tracked files when root is a git
// checkout, else every file.
func goFiles(root string) ([]string, error) {
	var files []string
	keep := func(rel string) bool {
		for _, part := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
			if part != "." && skipDir(part) {
				return false
			}
		}
		return strings.HasSuffix(rel, ".go")
	}
	cmd := exec.Command("git", "ls-files", "-z", "--", "*.go")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		if _, statErr := os.Stat(filepath.Join(root, ".git")); statErr == nil {
			for _, f := range strings.Split(string(out), "\x00") {
				if f = filepath.FromSlash(f); f != "" && keep(f) {
					files = append(files, f)
				}
			}
			return files, nil
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if keep(rel) {
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

// packageDoc reads the package clause and doc comment of files (relative
// to root, all in one dir); ok is false when none parses.
func packageDoc(root string, files []string) (PackageDoc, bool) {
	sort.Strings(files)
	var pd PackageDoc
	var testDoc string
	found, nonTest := false, false
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(root, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			continue // a half-written file: the build will say so
		}
		isTest := strings.HasSuffix(name, "_test.go")
		pkg := strings.TrimSuffix(f.Name.Name, "_test")
		if !found || (!isTest && !nonTest) {
			pd.Name = pkg
		}
		found = true
		nonTest = nonTest || !isTest
		if f.Doc == nil {
			continue
		}
		if isTest {
			if testDoc == "" {
				testDoc = f.Doc.Text()
			}
		} else if pd.Doc == "" {
			pd.Doc = f.Doc.Text()
		}
	}
	if !found {
		return pd, false
	}
	pd.TestOnly = !nonTest
	if pd.Doc == "" {
		pd.Doc = testDoc
	}
	pd.Synopsis = new(doc.Package).Synopsis(pd.Doc)
	return pd, true
}

// modulePath reads the module path from root/go.mod.
func modulePath(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("go.mod has no module line")
}

// FaultDoc is one fault injector of package fault, read from its source.
type FaultDoc struct {
	// Type is the Go type name, e.g. "PowerLoss"; Name what Name() returns.
	Type, Name string
	// Doc is the type's doc comment.
	Doc string
	// File is the source file, relative to the root.
	File string
	// Heals, Probes, Prepares, Details say which optional interfaces it
	// implements (Healer, Prober, Preparer, Detailer).
	Heals, Probes, Prepares, Details bool
}

var reNameReturns = regexp.MustCompile(`Name returns "([^"]+)"`)

// FaultDocs reads every fault injector (a type with Name and Inject
// methods) in root/fault (its git-tracked files in a checkout).
func FaultDocs(root string) ([]FaultDoc, error) {
	all, err := goFiles(root)
	if err != nil {
		return nil, fmt.Errorf("read fault package: %w", err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, rel := range all {
		if filepath.Dir(rel) != "fault" || strings.HasSuffix(rel, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", rel, err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", filepath.Join(root, "fault"))
	}
	pkg, err := doc.NewFromFiles(fset, files, "github.com/kvchaos/kvchaos/fault", doc.PreserveAST)
	if err != nil {
		return nil, fmt.Errorf("read fault docs: %w", err)
	}
	var out []FaultDoc
	for _, t := range pkg.Types {
		methods := map[string]*doc.Func{}
		for _, m := range t.Methods {
			methods[m.Name] = m
		}
		if methods["Name"] == nil || methods["Inject"] == nil {
			continue
		}
		fd := FaultDoc{Type: t.Name, Name: strings.ToLower(t.Name), Doc: t.Doc,
			Heals: methods["Heal"] != nil, Probes: methods["Probe"] != nil,
			Prepares: methods["Setup"] != nil && methods["Teardown"] != nil, Details: methods["Detail"] != nil}
		if m := reNameReturns.FindStringSubmatch(methods["Name"].Doc); m != nil {
			fd.Name = m[1]
		}
		if t.Decl != nil {
			rel, _ := filepath.Rel(root, fset.Position(t.Decl.Pos()).Filename)
			fd.File = filepath.ToSlash(rel)
		}
		out = append(out, fd)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}
