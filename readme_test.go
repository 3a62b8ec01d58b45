package ginsecure_test

// README's Go code must compile as pasted: every block that is a whole
// program (the Quick start) is built and vetted in a temporary module that
// uses this repository as the library; every other block (a fragment) must
// appear line for line in a file that the tests compile (example_test.go,
// example/*.go), so it cannot drift from code that builds.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
	mod := "module readmecheck\n\ngo 1.26\n\nrequire github.com/ginsecure/ginsecure v0.0.0\n" + string(gomod[i:]) +
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
