package doccheck

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// block is one ```go block of a Markdown page.
type block struct {
	page   string // path relative to the repository root
	line   int    // line of the first code line (1-based)
	code   string
	marker string // the doccheck comment before the fence, without "doccheck:"
}

var markerRE = regexp.MustCompile(`^<!--\s*doccheck:\s*(.*?)\s*-->$`)

// extract returns the ```go blocks of a Markdown page. Parsing is kept
// apart from reading files so that it can be tested on its own.
func extract(page, text string) ([]block, error) {
	var out []block
	var cur *block
	var code []string
	prev := "" // last non-blank line outside a block
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if strings.HasPrefix(trimmed, "```") {
				if trimmed == "```go" {
					cur = &block{page: page, line: n + 1}
					if m := markerRE.FindStringSubmatch(prev); m != nil {
						cur.marker = m[1]
					}
				} else {
					// another language: skip to its closing fence
					cur = &block{line: -1}
				}
				code = code[:0]
				continue
			}
			if trimmed != "" {
				prev = trimmed
			}
			continue
		}
		if trimmed == "```" {
			if cur.line > 0 {
				cur.code = strings.Join(code, "\n") + "\n"
				out = append(out, *cur)
			}
			cur, prev = nil, ""
			continue
		}
		code = append(code, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return out, fmt.Errorf("%s: unterminated code block", page)
	}
	return out, nil
}

// stdImports are the standard library packages a snippet may use without
// importing them.
var stdImports = map[string]string{
	"context": "context", "errors": "errors", "fmt": "fmt", "io": "io", "json": "encoding/json",
	"filepath": "path/filepath", "os": "os", "slog": "log/slog", "strings": "strings", "sync": "sync",
	"testing": "testing", "time": "time", "net": "net", "signal": "os/signal", "syscall": "syscall",
}

// repoPackages maps the package name of every importable (not internal,
// not main, not testdata) package of the repository to its import path.
func repoPackages(root, module string) (map[string]string, error) {
	pkgs := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "internal", "testdata", ".git", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly)
		if err != nil || f.Name.Name == "main" {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		imp := module
		if rel != "." {
			imp += "/" + filepath.ToSlash(rel)
		}
		pkgs[f.Name.Name] = imp
		return nil
	})
	return pkgs, err
}

// declarations turns a marker's "var a T; b U; type V struct{…}" into
// package-level declarations: pieces separated by ";", each starting with
// var, const or type, or continuing the previous one's kind.
func declarations(marker string) (string, error) {
	if marker == "" {
		return "", nil
	}
	var out strings.Builder
	kind := ""
	for _, piece := range strings.Split(marker, ";") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		first, _, _ := strings.Cut(piece, " ")
		switch first {
		case "var", "const", "type":
			kind = first
			out.WriteString(piece + "\n")
		default:
			if kind == "" {
				return "", fmt.Errorf("unknown doccheck comment %q (want \"var NAME TYPE; …\", \"type …\" or \"skip REASON\")", marker)
			}
			out.WriteString(kind + " " + piece + "\n")
		}
	}
	return out.String(), nil
}

// source turns a block into the file compiled for it, in package pkg.
func source(b block, pkg string, known map[string]string) (string, error) {
	lineDirective := fmt.Sprintf("//line %s:%d\n", b.page, b.line)
	if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
		return lineDirective + b.code, nil
	}
	vars, err := declarations(b.marker)
	if err != nil {
		return "", fmt.Errorf("%s:%d: %w", b.page, b.line, err)
	}
	head := "package " + pkg + "\n\n"
	var body string
	if _, err := parser.ParseFile(token.NewFileSet(), "", head+b.code, 0); err == nil {
		body = vars + lineDirective + b.code
	} else {
		fn := "func _() {\n" + lineDirective + b.code + "}\n"
		f, err := parser.ParseFile(token.NewFileSet(), "", head+fn, 0)
		if err != nil {
			return "", fmt.Errorf("%s:%d: neither declarations nor statements: %w", b.page, b.line, err)
		}
		var use []string
		for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
			if a, ok := st.(*ast.AssignStmt); ok && a.Tok == token.DEFINE {
				for _, l := range a.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name != "_" && !slices.Contains(use, id.Name) {
						use = append(use, id.Name)
					}
				}
			}
		}
		tail := ""
		for _, u := range use {
			tail += "_ = " + u + "\n"
		}
		body = vars + "func _() {\n" + lineDirective + b.code + tail + "}\n"
	}
	f, err := parser.ParseFile(token.NewFileSet(), "", head+body, 0)
	if err != nil {
		return "", fmt.Errorf("%s:%d: %w", b.page, b.line, err)
	}
	imports := neededImports(f, known)
	if len(imports) == 0 {
		return head + body, nil
	}
	var ib strings.Builder
	ib.WriteString("import (\n")
	for _, p := range imports {
		fmt.Fprintf(&ib, "\t%q\n", p)
	}
	ib.WriteString(")\n\n")
	return head + ib.String() + body, nil
}

// neededImports returns the import paths of the package names f uses as
// selectors without declaring or importing them itself.
func neededImports(f *ast.File, known map[string]string) []string {
	declared := map[string]bool{}
	for _, im := range f.Imports {
		p := strings.Trim(im.Path.Value, `"`)
		name := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		declared[name] = true
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						declared[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				declared[id.Name] = true
			}
		case *ast.Field:
			for _, id := range n.Names {
				declared[id.Name] = true
			}
		case *ast.TypeSpec:
			declared[n.Name.Name] = true
		case *ast.FuncDecl:
			declared[n.Name.Name] = true
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok && n.Tok == token.DEFINE {
					declared[id.Name] = true
				}
			}
		}
		return true
	})
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok && !declared[id.Name] {
				if p, ok := known[id.Name]; ok && !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

// repoRoot returns the repository root (two levels up) and its module path.
func repoRoot(t *testing.T) (string, string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("repository root: %v", err)
	}
	line, _, _ := strings.Cut(string(mod), "\n")
	return root, strings.TrimSpace(strings.TrimPrefix(line, "module"))
}

// pages returns README.md and every Markdown page under docs/.
func pages(t *testing.T, root string) []string {
	t.Helper()
	out := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// vet writes one package per block into a temporary module joined to the
// repository by a go.work file and runs go vet on it. It returns go vet's
// output and whether it passed.
func vet(t *testing.T, root, module string, blocks []block) (string, bool) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	known, err := repoPackages(root, module)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range stdImports {
		known[k] = v
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goVersion := "1.26"
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		if m := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(b); m != nil {
			goVersion = string(m[1])
		}
	}
	write("go.mod", "module doccheck.example\n\ngo "+goVersion+"\n")
	write("go.work", "go "+goVersion+"\n\nuse (\n\t.\n\t"+root+"\n)\n")
	for i, b := range blocks {
		pkg := fmt.Sprintf("b%d", i)
		src, err := source(b, pkg, known)
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(pkg, "doc.go"), src)
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(dir, "go.work"), "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestDocsCompile compiles and vets every ```go block of README.md and
// docs/**/*.md (see the package documentation for the markers).
func TestDocsCompile(t *testing.T) {
	root, module := repoRoot(t)
	var blocks []block
	skipped := 0
	for _, p := range pages(t, root) {
		text, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		bs, err := extract(p, string(text))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if reason, ok := strings.CutPrefix(b.marker, "skip"); ok {
				if strings.TrimSpace(reason) == "" {
					t.Errorf("%s:%d: doccheck skip without a reason", b.page, b.line)
				}
				skipped++
				continue
			}
			blocks = append(blocks, b)
		}
	}
	if len(blocks) == 0 {
		t.Fatal("no Go code block found in the documentation")
	}
	out, ok := vet(t, root, module, blocks)
	if !ok {
		t.Fatalf("documentation code does not compile or vet:\n%s", out)
	}
	t.Logf("%d blocks compiled and vetted, %d skipped", len(blocks), skipped)
}

// TestDocsCompileFails: a block using an API that does not exist, or
// leaving a variable undeclared, fails the check with the page and line.
func TestDocsCompileFails(t *testing.T) {
	root, module := repoRoot(t)
	page := "docs/broken.md"
	bs, err := extract(page, "# Broken\n\n<!-- doccheck: var ctx context.Context -->\n```go\neng := edgesec.New(edgesec.Options{})\neng.NoSuchMethod(ctx)\n```\n\n```go\nfmt.Println(undeclared)\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	out, ok := vet(t, root, module, bs)
	if ok {
		t.Fatalf("broken blocks passed:\n%s", out)
	}
	for _, want := range []string{page + ":6", "NoSuchMethod", page + ":10", "undeclared"} {
		if !strings.Contains(out, want) {
			t.Errorf("go vet output does not mention %q:\n%s", want, out)
		}
	}
}

func TestExtract(t *testing.T) {
	md := "text\n\n```sh\ngo run .\n```\n<!-- doccheck: skip quotes package collector -->\n\n```go\ntype X int\n```\n\n```go\nx := 1\n```\n```json\n{}\n```\n"
	bs, err := extract("p.md", md)
	if err != nil {
		t.Fatal(err)
	}
	want := []block{
		{page: "p.md", line: 9, code: "type X int\n", marker: "skip quotes package collector"},
		{page: "p.md", line: 13, code: "x := 1\n"},
	}
	if !slices.Equal(bs, want) {
		t.Fatalf("extract = %+v, want %+v", bs, want)
	}
	if _, err := extract("p.md", "```go\nx := 1\n"); err == nil {
		t.Fatal("an unterminated block was accepted")
	}
}

func TestSource(t *testing.T) {
	known := map[string]string{"edgesec": "example.com/edgesec", "context": "context", "slog": "log/slog"}
	src, err := source(block{page: "p.md", line: 3, code: "eng := edgesec.New(edgesec.Options{Logger: logger})\nerr := eng.Run(ctx)\n", marker: "var ctx context.Context; logger *slog.Logger"}, "b0", known)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"context"`, `"example.com/edgesec"`, `"log/slog"`, "//line p.md:3\n", "_ = eng\n_ = err\n", "func _() {"} {
		if !strings.Contains(src, want) {
			t.Errorf("generated source lacks %q:\n%s", want, src)
		}
	}
	if _, err := source(block{page: "p.md", line: 1, code: "x := 1\n", marker: "fragment"}, "b0", known); err == nil {
		t.Error("an unknown marker was accepted")
	}
}
