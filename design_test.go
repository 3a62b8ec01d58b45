package ginsecure_test

// The repository cites its own design document and nothing else: every
// citation (DESIGN.md, "Heading") in a Go, Markdown or script file names a
// heading that DESIGN.md has, and no file points at a design document
// outside the repository.

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// designHeadings returns the headings of a Markdown document (any level),
// outside code fences.
func designHeadings(doc string) map[string]bool {
	out := map[string]bool{}
	fenced := false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimLeft(line, "#")
		if h != line && strings.HasPrefix(h, " ") {
			out[strings.TrimSpace(h)] = true
		}
	}
	return out
}

var (
	// continuation joins a comment (or Markdown) paragraph into one line,
	// so that a citation broken across lines reads as one.
	continuation = regexp.MustCompile(`\n[ \t]*(//[ \t]?|>[ \t]?)?`)
	// citeStart finds "DESIGN.md, " or "DESIGN.md (" followed by a quote.
	citeStart = regexp.MustCompile(`\bDESIGN(\.md)?\s*[,(]\s*"`)
	// citeMore continues a list of quoted headings: , "X" / ; "X" / and "X".
	citeMore = regexp.MustCompile(`^\s*(,|;|and)\s*"`)
	// bareDesign is a mention of a design document that is not DESIGN.md.
	bareDesign = regexp.MustCompile(`\bDESIGN\b`)
)

// outsidePaths are the ways a file could point at the design document that
// lives outside the repository (spelled in pieces so this file does not
// match itself).
var outsidePaths = []string{".." + "/shared", "shared" + "/DESIGN", "/work" + "/shared"}

// designCitationProblems returns what is wrong with the design citations
// in one file's text: headings that DESIGN.md lacks, a design document
// named other than DESIGN.md, paths outside the repository.
func designCitationProblems(text string, headings map[string]bool) []string {
	var bad []string
	for _, p := range outsidePaths {
		if strings.Contains(text, p) {
			bad = append(bad, "mentions "+p+": cite DESIGN.md, which is in the repository")
		}
	}
	flat := continuation.ReplaceAllString(text, " ")
	for _, loc := range bareDesign.FindAllStringIndex(flat, -1) {
		if !strings.HasPrefix(flat[loc[1]:], ".md") {
			bad = append(bad, "names a design document other than DESIGN.md: "+excerpt(flat, loc[0]))
		}
	}
	for _, loc := range citeStart.FindAllStringIndex(flat, -1) {
		rest := flat[loc[1]:] // just after the opening quote
		for {
			end := strings.IndexByte(rest, '"')
			if end < 0 {
				break
			}
			if h := rest[:end]; !headings[h] {
				bad = append(bad, "cites a heading DESIGN.md does not have: \""+h+"\" in "+excerpt(flat, loc[0]))
			}
			rest = rest[end+1:]
			m := citeMore.FindStringIndex(rest)
			if m == nil {
				break
			}
			rest = rest[m[1]:]
		}
	}
	return bad
}

func excerpt(s string, at int) string {
	end := min(len(s), at+80)
	return strings.TrimSpace(s[at:end])
}

// citedFile reports whether a repository file is one whose citations the
// test checks: source, documentation and scripts.
func citedFile(path string) bool {
	switch filepath.Ext(path) {
	case ".go", ".md", ".sh":
		return true
	}
	return filepath.Base(filepath.Dir(path)) == ".ci"
}

// TestDesignCitationsNameItsHeadings scans every Go, Markdown and script
// file of the repository (the example module included): each citation of
// the design names a heading of DESIGN.md, and nothing cites a document
// outside the repository.
func TestDesignCitationsNameItsHeadings(t *testing.T) {
	doc, err := os.ReadFile("DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	headings := designHeadings(string(doc))
	if len(headings) == 0 {
		t.Fatal("DESIGN.md has no headings")
	}
	checked, cites := 0, 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || (name != "." && strings.HasPrefix(name, ".") && name != ".ci") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !citedFile(path) || path == "design_test.go" {
			return nil // (this file holds bad citations on purpose: TestDesignCitationChecker)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		cites += bytes.Count(b, []byte("DESIGN.md,"))
		for _, p := range designCitationProblems(string(b), headings) {
			t.Errorf("%s: %s", path, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 || cites < 20 {
		t.Fatalf("scanned %d files with %d citations: the walk missed the repository", checked, cites)
	}
}

// TestDesignCitationChecker holds the checker itself to what it must
// catch, on made-up files.
func TestDesignCitationChecker(t *testing.T) {
	headings := designHeadings("# Title\n\n## Model\n\n```\n## Not a heading\n```\n\n### Cookie writes\n")
	cases := []struct {
		name, text string
		bad        int
	}{
		{"one heading", `// the rule (DESIGN.md, "Model").`, 0},
		{"a list", `// (DESIGN.md, "Model", "Cookie writes"; "Model" and "Cookie writes")`, 0},
		{"across lines", "// the rule (DESIGN.md, \"Cookie\n// writes\"): why", 0},
		{"prose after the heading", `// (DESIGN.md, "Model": "quoted prose" stays prose)`, 0},
		{"a heading it lacks", `// (DESIGN.md, "Grace period")`, 1},
		{"one bad in a list", `// (DESIGN.md, "Model", "Lifecycle")`, 1},
		{"inside a code fence only", `// (DESIGN.md, "Not a heading")`, 1},
		{"the old name", `// (DESIGN, "Model")`, 1},
		{"the old name, possessive", `// the least DESIGN's model can cost`, 1},
		{"an outside path", "see " + outsidePaths[0] + "/x.md", 1},
		{"an outside design", "see " + outsidePaths[1] + ".md", 1},
		{"no citation", `// plain comment about design`, 0},
	}
	for _, tc := range cases {
		if got := designCitationProblems(tc.text, headings); len(got) != tc.bad {
			t.Errorf("%s: %d problems %q, want %d", tc.name, len(got), got, tc.bad)
		}
	}
}
