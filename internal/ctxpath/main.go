// Command ctxpath follows one request's *gin.Context through the
// ginsecure package, call by call, and says which files a reader passes
// through on the way.
//
//	go run ./internal/ctxpath                       # Login and the per-request path
//	go run ./internal/ctxpath -fn Login -v          # one path, every call listed
//	go run ./internal/ctxpath -fn Guard.Middleware
//	go run ./internal/ctxpath -skip Guard.deviceEndpoint  # an ordinary request
//
// The walk starts at a function of the package (-fn: a function name, or
// Type.Method). Where that function returns a function literal (as
// Guard.Middleware returns the handler that runs per request), the walk
// starts at the literal instead. It reads the body in the order the code
// is written in (a call before the calls in its arguments), and follows
// every call that passes the context:
//
//   - a call passes the context when its receiver or one of its arguments
//     has a type that carries it: *gin.Context itself, or a struct type of
//     the package (or a pointer to one) with a field of such a type, so
//     that the context reaches the callee inside it (request holds c, and
//     guardSession and guardWriter hold their request).
//     This is a matter of the types the tool sees, not of values: every
//     such value on these paths is built from the one request's context.
//   - only static calls to functions and methods declared in the package
//     are followed: other packages, calls through interfaces and calls of
//     function values (a field holding a func) are not.
//   - function literals inside a walked body are not entered (they run
//     later, as an undo step, or inside another package, as a store's
//     update function), except one called where it is written.
//   - with -narrow, only *gin.Context itself counts: a call passes the
//     context when an argument is a *gin.Context (c, rq.c, s.rq.c), and a
//     carrier passed along (st, l, a method of st) is not followed.
//   - a function named in -skip (a comma-separated list) is recorded where
//     it is called but not entered: Guard.deviceEndpoint, say, which an
//     ordinary request leaves at once (it is not a device endpoint's).
//   - each function is walked once per run (one visited set for the whole
//     path): a later call of a function already followed adds nothing, as
//     a reader who has read it does not read it again.
//
// Every followed call enters the file of its callee. The output is the
// sequence of stays (consecutive calls in one file make one stay), the
// number of distinct files and the number of returns: stays that enter a
// file the path had already left.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// call is one followed call: the callee and the file it is declared in.
type call struct {
	depth  int
	caller string
	callee string
	file   string
}

// stay is a run of consecutive calls in one file.
type stay struct {
	file  string
	funcs []string
}

// path is the result of one walk.
type path struct {
	entry   string
	calls   []call
	stays   []stay
	files   int
	returns int
}

// pkg is the parsed and type-checked package.
type pkg struct {
	fset     *token.FileSet
	info     *types.Info
	tpkg     *types.Package
	decls    map[*types.Func]*ast.FuncDecl
	carriers map[*types.Named]bool
	narrow   bool // only *gin.Context counts, not the carriers
}

func main() {
	dir := flag.String("dir", ".", "the package's directory")
	fn := flag.String("fn", "", "the entry: Name or Type.Method (default: Login and Guard.Middleware)")
	verbose := flag.Bool("v", false, "list every followed call")
	narrow := flag.Bool("narrow", false, "follow only calls with a *gin.Context argument, not carriers")
	skip := flag.String("skip", "", "functions recorded where called but not entered (comma-separated, Name or Type.Method)")
	flag.Parse()
	p, err := load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctxpath:", err)
		os.Exit(1)
	}
	entries := []string{"Login", "Guard.Middleware"}
	if *fn != "" {
		entries = []string{*fn}
	}
	for _, e := range entries {
		p.narrow = *narrow
		r, err := p.walk(e, strings.Split(*skip, ","))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ctxpath:", err)
			os.Exit(1)
		}
		r.print(os.Stdout, *verbose)
	}
}

// load parses the package's non-test files in dir and type-checks them.
func load(dir string) (*pkg, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Uses:       map[*ast.Ident]types.Object{},
		Defs:       map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
	}
	lookup, err := exportData(dir)
	if err != nil {
		return nil, err
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", lookup)}
	tpkg, err := conf.Check(files[0].Name.Name, fset, files, info)
	if err != nil {
		return nil, err
	}
	p := &pkg{fset: fset, info: info, tpkg: tpkg, decls: map[*types.Func]*ast.FuncDecl{}}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if obj, ok := info.Defs[fd.Name].(*types.Func); ok {
					p.decls[obj] = fd
				}
			}
		}
	}
	p.carriers = carriers(tpkg)
	return p, nil
}

// exportData returns a lookup of the compiled export data of the
// package's imports, as the go command reports it (go list -export).
func exportData(dir string) (importer.Lookup, error) {
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", ".")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	paths := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if path, file, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok && file != "" {
			paths[path] = file
		}
	}
	return func(path string) (io.ReadCloser, error) {
		file, ok := paths[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	}, nil
}

// isGinContext reports whether t is *gin.Context.
func isGinContext(t types.Type) bool {
	ptr, ok := t.(*types.Pointer)
	if !ok {
		return false
	}
	n, ok := ptr.Elem().(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "github.com/gin-gonic/gin" && n.Obj().Name() == "Context"
}

// carriers finds the struct types of tp that hold a *gin.Context in a
// field, directly or through a field of another such type.
func carriers(tp *types.Package) map[*types.Named]bool {
	var structs []*types.Named
	for _, name := range tp.Scope().Names() {
		tn, ok := tp.Scope().Lookup(name).(*types.TypeName)
		if !ok {
			continue
		}
		if n, ok := tn.Type().(*types.Named); ok {
			if _, ok := n.Underlying().(*types.Struct); ok {
				structs = append(structs, n)
			}
		}
	}
	found := map[*types.Named]bool{}
	for changed := true; changed; {
		changed = false
		for _, n := range structs {
			if found[n] {
				continue
			}
			s := n.Underlying().(*types.Struct)
			for i := range s.NumFields() {
				if carries(found, s.Field(i).Type()) {
					found[n], changed = true, true
					break
				}
			}
		}
	}
	return found
}

// carries reports whether a value of type t carries the context.
func carries(found map[*types.Named]bool, t types.Type) bool {
	if t == nil {
		return false
	}
	if isGinContext(t) {
		return true
	}
	if ptr, ok := t.(*types.Pointer); ok {
		t = ptr.Elem()
	}
	n, ok := t.(*types.Named)
	return ok && found[n.Origin()]
}

// passes reports whether a receiver or argument of type t passes the
// context on.
func (p *pkg) passes(t types.Type) bool {
	if p.narrow {
		return isGinContext(t)
	}
	return carries(p.carriers, t)
}

// entry finds the declaration named by name (Name or Type.Method).
func (p *pkg) entry(name string) (*types.Func, *ast.FuncDecl, error) {
	recv, fn, isMethod := strings.Cut(name, ".")
	for obj, fd := range p.decls {
		sig := obj.Type().(*types.Signature)
		if !isMethod {
			if sig.Recv() == nil && obj.Name() == name {
				return obj, fd, nil
			}
			continue
		}
		if sig.Recv() == nil || obj.Name() != fn {
			continue
		}
		t := sig.Recv().Type()
		if ptr, ok := t.(*types.Pointer); ok {
			t = ptr.Elem()
		}
		if n, ok := t.(*types.Named); ok && n.Obj().Name() == recv {
			return obj, fd, nil
		}
	}
	return nil, nil, fmt.Errorf("no function %s in package %s", name, p.tpkg.Name())
}

// walk follows the context from the entry named name.
// Functions named in skip are recorded where called, not entered.
func (p *pkg) walk(name string, skip []string) (*path, error) {
	obj, fd, err := p.entry(name)
	if err != nil {
		return nil, err
	}
	r := &path{entry: name}
	w := &walker{p: p, seen: map[*types.Func]bool{obj: true}, skip: map[string]bool{}, r: r}
	for _, s := range skip {
		if s = strings.TrimSpace(s); s != "" {
			w.skip[s] = true
		}
	}
	file := p.file(fd)
	body := fd.Body
	if lit := returnedLit(fd); lit != nil {
		body = lit.Body
		name += " (the returned handler)"
	}
	r.calls = append(r.calls, call{depth: 0, callee: name, file: file})
	w.body(body, name, 1)
	r.summarize()
	return r, nil
}

// returnedLit is the function literal fd returns, if its body is one
// return of a literal (after any statements before it).
func returnedLit(fd *ast.FuncDecl) *ast.FuncLit {
	if fd.Body == nil || len(fd.Body.List) == 0 {
		return nil
	}
	ret, ok := fd.Body.List[len(fd.Body.List)-1].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return nil
	}
	lit, _ := ret.Results[0].(*ast.FuncLit)
	return lit
}

func (p *pkg) file(n ast.Node) string {
	return filepath.Base(p.fset.Position(n.Pos()).Filename)
}

// walker walks bodies, in source order, with one visited set.
type walker struct {
	p    *pkg
	seen map[*types.Func]bool
	skip map[string]bool // by funcName
	r    *path
}

// body follows the calls in body that pass the context.
func (w *walker) body(body ast.Node, caller string, depth int) {
	if body == nil {
		return
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // not run here
		case *ast.CallExpr:
			if lit, ok := ast.Unparen(n.Fun).(*ast.FuncLit); ok {
				// Called where it is written: its calls are the caller's.
				for _, a := range n.Args {
					w.body(a, caller, depth)
				}
				w.body(lit.Body, caller, depth)
				return false
			}
			w.call(n, caller, depth)
		}
		return true
	})
}

// call follows c if it is a static call of a function of the package that
// passes the context.
func (w *walker) call(c *ast.CallExpr, caller string, depth int) {
	obj, recv := w.callee(c)
	if obj == nil {
		return
	}
	fd := w.p.decls[obj]
	if fd == nil {
		return
	}
	passes := recv != nil && w.p.passes(w.p.info.Types[recv].Type)
	for _, a := range c.Args {
		if w.p.passes(w.p.info.Types[a].Type) {
			passes = true
		}
	}
	if !passes || w.seen[obj] {
		return
	}
	w.seen[obj] = true
	name := funcName(obj)
	w.r.calls = append(w.r.calls, call{depth: depth, caller: caller, callee: name, file: w.p.file(fd)})
	if !w.skip[name] {
		w.body(fd.Body, name, depth+1)
	}
}

// callee resolves the function c calls, and the receiver expression of a
// method call (nil for a plain function).
func (w *walker) callee(c *ast.CallExpr) (*types.Func, ast.Expr) {
	switch fun := ast.Unparen(c.Fun).(type) {
	case *ast.Ident:
		f, _ := w.p.info.Uses[fun].(*types.Func)
		return origin(f), nil
	case *ast.SelectorExpr:
		if sel := w.p.info.Selections[fun]; sel != nil {
			if sel.Kind() != types.MethodVal {
				return nil, nil // a func-typed field, or a method expression
			}
			f, _ := sel.Obj().(*types.Func)
			return origin(f), fun.X
		}
		f, _ := w.p.info.Uses[fun.Sel].(*types.Func) // a qualified identifier
		return origin(f), nil
	case *ast.IndexExpr: // an explicitly instantiated generic function
		if id, ok := fun.X.(*ast.Ident); ok {
			f, _ := w.p.info.Uses[id].(*types.Func)
			return origin(f), nil
		}
	}
	return nil, nil
}

func origin(f *types.Func) *types.Func {
	if f == nil {
		return nil
	}
	return f.Origin()
}

// funcName is Name or Type.Method.
func funcName(f *types.Func) string {
	sig := f.Type().(*types.Signature)
	if sig.Recv() == nil {
		return f.Name()
	}
	t := sig.Recv().Type()
	if ptr, ok := t.(*types.Pointer); ok {
		t = ptr.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name() + "." + f.Name()
	}
	return f.Name()
}

// summarize groups the calls into stays and counts files and returns.
func (r *path) summarize() {
	left := map[string]bool{}
	files := map[string]bool{}
	for _, c := range r.calls {
		if n := len(r.stays); n > 0 && r.stays[n-1].file == c.file {
			r.stays[n-1].funcs = append(r.stays[n-1].funcs, c.callee)
			continue
		}
		if n := len(r.stays); n > 0 {
			left[r.stays[n-1].file] = true
		}
		if left[c.file] {
			r.returns++
		}
		files[c.file] = true
		r.stays = append(r.stays, stay{file: c.file, funcs: []string{c.callee}})
	}
	r.files = len(files)
}

// fileSequence is the files of the stays, in order.
func (r *path) fileSequence() []string {
	s := make([]string, len(r.stays))
	for i, st := range r.stays {
		s[i] = st.file
	}
	return s
}

func (r *path) print(out *os.File, verbose bool) {
	fmt.Fprintf(out, "%s: %d calls, %d stays in %d files, %d returns to a file already left\n",
		r.entry, len(r.calls), len(r.stays), r.files, r.returns)
	fmt.Fprintf(out, "  %s\n", strings.Join(r.fileSequence(), " → "))
	if !verbose {
		return
	}
	for _, c := range r.calls {
		fmt.Fprintf(out, "  %s%s  %s\n", strings.Repeat("  ", c.depth), c.callee, c.file)
	}
}
