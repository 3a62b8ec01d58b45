package ginsecure_test

// README's Go code must compile as pasted: every block that is a whole
// program (the Quick start) is built and vetted in a temporary module that
// uses this repository as the library; every other block (a fragment) must
// appear line for line in a file that the tests compile (example_test.go,
// example/*.go), so it cannot drift from code that builds.

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

var goBlock = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

func readmeGoBlocks(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range goBlock.FindAllSubmatch(readme, -1) {
		blocks = append(blocks, string(m[1]))
	}
	if len(blocks) == 0 {
		t.Fatal("README.md has no Go code blocks")
	}
	return blocks
}

func isProgram(block string) bool { return strings.HasPrefix(block, "package ") }

// TestReadmeProgramsBuild builds README's whole programs against this
// repository, offline: the temporary module requires what the library's
// go.mod requires, and GOPROXY=off keeps the go command to the local
// module cache (the one the library's own build filled).
func TestReadmeProgramsBuild(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: cannot build README's programs")
	}
	if testing.Short() {
		t.Skip("builds README's programs with the go tool")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	// The library's requirements, so that no package needs a lookup.
	i := bytes.Index(gomod, []byte("\nrequire"))
	if i < 0 {
		t.Fatal("go.mod has no require block")
	}
	dir := t.TempDir()
	goLine := regexp.MustCompile(`(?m)^go [0-9.]+$`).Find(gomod) // the Go version README's Install names
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	mod := "module readmecheck\n\n" + string(goLine) + "\n\nrequire github.com/ginsecure/ginsecure v0.0.0\n" + string(gomod[i:]) +
		"\nreplace github.com/ginsecure/ginsecure => " + root + "\n"
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", mod)
	write("go.sum", string(gosum))
	programs := 0
	for n, block := range readmeGoBlocks(t) {
		if !isProgram(block) {
			continue
		}
		programs++
		write(filepath.Join("prog"+string(rune('a'+n)), "main.go"), block)
	}
	if programs == 0 {
		t.Fatal("README.md has no whole program (the Quick start should be one)")
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
	bin := t.TempDir() + string(filepath.Separator)
	for _, args := range [][]string{{"build", "-o", bin, "./..."}, {"vet", "./..."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s of README's programs: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Logf("built and vetted %d README program(s) against %s", programs, root)
}

// TestReadmeFragmentsMirrorCompiledCode: a Go block that is not a whole
// program appears, line for line (indentation and blank lines aside), in a
// file that the tests compile.
func TestReadmeFragmentsMirrorCompiledCode(t *testing.T) {
	files, _ := filepath.Glob("example/*.go")
	files = append(files, "example_test.go")
	var sources [][]string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, codeLines(string(b)))
	}
	for _, block := range readmeGoBlocks(t) {
		if isProgram(block) {
			continue
		}
		want := codeLines(block)
		found := false
		for _, src := range sources {
			if containsRun(src, want) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("README's Go fragment starting %q appears in none of %v: copy it from code that compiles", want[0], files)
		}
	}
}

// codeLines is s's non-blank lines without their indentation.
func codeLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsRun(haystack, needle []string) bool {
	for i := 0; i+len(needle) <= len(haystack); i++ {
		match := true
		for j := range needle {
			if haystack[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return len(needle) == 0
}

// TestReadmeErrorTableComplete: every code ErrorCode can return is a row of
// README's error table, with the status ErrorStatus gives and the sentinel
// that carries it. The sentinels are found in the package's source (every
// variable built with refusal, ending, endingAs or misconfiguration, and
// every secError literal), so that a new one cannot be left out of the
// table by leaving it out of this test.
func TestReadmeErrorTableComplete(t *testing.T) {
	rows := readmeErrorRows(t)
	declared, literalCodes := declaredSentinels(t)
	sentinels := map[string]error{
		"ErrNoSession": ginsecure.ErrNoSession, "ErrTokenMismatch": ginsecure.ErrTokenMismatch,
		"ErrReplay": ginsecure.ErrReplay, "ErrIPMismatch": ginsecure.ErrIPMismatch,
		"ErrIdentityMismatch": ginsecure.ErrIdentityMismatch, "ErrIdleTimeout": ginsecure.ErrIdleTimeout,
		"ErrExpired": ginsecure.ErrExpired, "ErrReauthRequired": ginsecure.ErrReauthRequired,
		"ErrTooManySessions": ginsecure.ErrTooManySessions, "ErrStoreUnavailable": ginsecure.ErrStoreUnavailable,
		"ErrTLSRequired": ginsecure.ErrTLSRequired, "ErrStaleCredentials": ginsecure.ErrStaleCredentials,
		"ErrForeignSession": ginsecure.ErrForeignSession, "ErrSessionTooLarge": ginsecure.ErrSessionTooLarge,
		"ErrSessionNotPersisted": ginsecure.ErrSessionNotPersisted, "ErrEvicted": ginsecure.ErrEvicted,
		"ErrRevoked": ginsecure.ErrRevoked, "ErrMisconfigured": ginsecure.ErrMisconfigured,
		"ErrNoMiddleware": ginsecure.ErrNoMiddleware, "ErrNoSessionsMiddleware": ginsecure.ErrNoSessionsMiddleware,
		"ErrSessionsMany": ginsecure.ErrSessionsMany, "ErrInvalidUserID": ginsecure.ErrInvalidUserID,
		"ErrInvalidRevokeReason": ginsecure.ErrInvalidRevokeReason, "ErrDeviceBindingRequired": ginsecure.ErrDeviceBindingRequired,
	}
	if len(literalCodes) == 0 {
		t.Fatal("found no secError literal in the source")
	}
	if len(declared) < len(sentinels) {
		t.Fatalf("found %d sentinels in the source, want at least %d: %v", len(declared), len(sentinels), declared)
	}
	for _, name := range declared {
		if !ast.IsExported(name) {
			continue
		}
		err, ok := sentinels[name]
		if !ok {
			t.Errorf("%s is a sentinel this test does not know: add it here and to README's error table", name)
			continue
		}
		code, status := ginsecure.ErrorCode(err), ginsecure.ErrorStatus(err)
		row, ok := rows[code]
		switch {
		case !ok:
			t.Errorf("README's error table has no row for %s's code %q", name, code)
		case row.status != strconv.Itoa(status):
			t.Errorf("README's error table says %q is %s, ErrorStatus says %d", code, row.status, status)
		case !strings.Contains(row.errors, "`"+name+"`"):
			t.Errorf("README's error table row %q does not name %s", code, name)
		}
	}
	for _, code := range literalCodes {
		if _, ok := rows[code]; !ok {
			t.Errorf("README's error table has no row for the code %q", code)
		}
	}
	other := errors.New("not ginsecure's")
	if row, ok := rows[ginsecure.ErrorCode(other)]; !ok || row.status != strconv.Itoa(ginsecure.ErrorStatus(other)) {
		t.Errorf("README's error table has no row for %q %d (an error that is not ginsecure's)", ginsecure.ErrorCode(other), ginsecure.ErrorStatus(other))
	}
}

type errorRow struct{ status, errors string }

var errorRowRE = regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9]{3}) \\| ([^|\\n]*) \\|")

// readmeErrorRows reads the table under README's "## Errors", by code.
func readmeErrorRows(t *testing.T) map[string]errorRow {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Errors\n")
	if !ok {
		t.Fatal(`README.md has no "## Errors" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	rows := map[string]errorRow{}
	for _, m := range errorRowRE.FindAllStringSubmatch(section, -1) {
		rows[m[1]] = errorRow{status: m[2], errors: m[3]}
	}
	return rows
}

// declaredSentinels parses the package's source: the variables built with
// the sentinel constructors, and the code of every secError literal.
func declaredSentinels(t *testing.T) (names, codes []string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				names = append(names, sentinelVars(n)...)
			case *ast.CompositeLit:
				if code, ok := secErrorCode(n); ok {
					codes = append(codes, code)
				}
			}
			return true
		})
	}
	return names, codes
}

// sentinelConstructors build the package's sentinel errors (errors.go).
var sentinelConstructors = map[string]bool{"refusal": true, "ending": true, "endingAs": true, "misconfiguration": true}

// sentinelVars names the variables of spec built with a sentinel
// constructor.
func sentinelVars(spec *ast.ValueSpec) []string {
	var names []string
	for i, v := range spec.Values {
		call, ok := v.(*ast.CallExpr)
		if !ok || i >= len(spec.Names) {
			continue
		}
		if fn, ok := call.Fun.(*ast.Ident); ok && sentinelConstructors[fn.Name] {
			names = append(names, spec.Names[i].Name)
		}
	}
	return names
}

// secErrorCode is the code of a secError literal.
func secErrorCode(lit *ast.CompositeLit) (string, bool) {
	if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "secError" {
		return "", false
	}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		k, ok := kv.Key.(*ast.Ident)
		v, isLit := kv.Value.(*ast.BasicLit)
		if ok && isLit && k.Name == "code" {
			code, err := strconv.Unquote(v.Value)
			return code, err == nil
		}
	}
	return "", false
}

// TestReadmeGoVersion: the Go version README's Install section names is
// the one go.mod says.
func TestReadmeGoVersion(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "It needs Go " + string(m[1]) + " or later"; !bytes.Contains(readme, []byte(want)) {
		t.Fatalf("README.md does not say %q (go.mod: go %s)", want, m[1])
	}
}

// readmeSection is the text of README's section headed "## "+title, up to
// the next section of that level.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", "## "+title)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	return section
}

var shBlock = regexp.MustCompile("(?ms)^```sh\n(.*?)^```")

// TestReadmeFreshModule follows README as a new user would, in a new
// module: go mod init; the replace README's Install names for a checkout
// (this repository: the module is on no proxy here); the Install
// section's go get line as written; the Quick start's program copied from
// README; go build; then the program runs and answers a sign-in and a
// request. Offline: GOPROXY=off keeps the go command to the module cache,
// and this repository's go.sum, copied in, vouches for every module the
// library needs, so nothing is looked up in the checksum database.
func TestReadmeFreshModule(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	if testing.Short() {
		t.Skip("builds and runs README's Quick start with the go tool")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	install := shBlock.FindStringSubmatch(readmeSection(t, "Install"))
	if install == nil || !strings.HasPrefix(strings.TrimSpace(install[1]), "go get ") {
		t.Fatal(`README's Install section has no "go get" command`)
	}
	program := goBlock.FindStringSubmatch(readmeSection(t, "Quick start"))
	if program == nil || !isProgram(program[1]) {
		t.Fatal("README's Quick start has no whole program")
	}
	gosum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(goTool, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("mod", "init", "example.com/fresh")
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644); err != nil {
		t.Fatal(err)
	}
	run("mod", "edit", "-replace", "github.com/ginsecure/ginsecure="+root)
	run(strings.Fields(strings.TrimPrefix(strings.TrimSpace(install[1]), "go "))...)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(program[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "quickstart")
	run("build", "-o", bin, ".")

	base := startQuickStart(t, bin)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"username": {"alice"}, "password": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 2 {
		t.Fatalf("Quick start sign-in: %d with %d cookies, want 303 and the session and token cookies", resp.StatusCode, len(resp.Cookies()))
	}
	me := func(cookies []*http.Cookie) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/me", nil)
		for _, c := range cookies { // Go's jar keeps Secure cookies off http://, as browsers do not on localhost
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, strings.TrimSpace(string(b))
	}
	if st, body := me(resp.Cookies()); st != http.StatusOK || body != `{"user":"alice"}` {
		t.Fatalf("Quick start /me signed in: %d %s", st, body)
	}
	if st, body := me(nil); st != http.StatusUnauthorized || body != `{"error":"no_session"}` {
		t.Fatalf("Quick start /me anonymous: %d %s", st, body)
	}
	t.Logf("a fresh module built README's Quick start against %s; signed in as alice and served /me", root)
}

// startQuickStart runs the Quick start's binary on a free loopback port
// and returns its base URL once it answers; the process is killed, by its
// PID, when the test ends.
func startQuickStart(t *testing.T, bin string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ADDR="+addr, "GIN_MODE=release",
		"SESSION_SECRET=0123456789abcdef0123456789abcdef", "SESSION_ENC_KEY=fedcba9876543210fedcba9876543210")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("README's Quick start never listened on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
