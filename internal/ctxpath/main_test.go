package main

import (
	"slices"
	"testing"
)

// TestToyPath: the walk follows the context into a carrier's method, does
// not enter a literal that is not called where it is written nor a call
// of a function value, and adds nothing for a function it has followed
// already; the per-request literal a function returns is walked in its
// place.
func TestToyPath(t *testing.T) {
	p, err := load("testdata/toy")
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range []string{"Handle", "guard.handler"} {
		r, err := p.walk(entry, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"a.go", "b.go", "a.go", "c.go"}
		if got := r.fileSequence(); !slices.Equal(got, want) || r.files != 3 || r.returns != 1 {
			t.Errorf("%s: %v, %d files, %d returns; want %v, 3 files, 1 return", entry, got, r.files, r.returns, want)
		}
	}
}

// TestGinsecurePaths walks Login and the per-request handler of the
// ginsecure package (an ordinary request: the device endpoints are not
// entered) and logs the files each passes through.
func TestGinsecurePaths(t *testing.T) {
	p, err := load("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ entry, file string }{{"Login", "login.go"}, {"Guard.Middleware", "middleware.go"}} {
		r, err := p.walk(c.entry, []string{"Guard.deviceEndpoint"})
		if err != nil {
			t.Fatal(err)
		}
		seq := r.fileSequence()
		if len(seq) == 0 || seq[0] != c.file {
			t.Fatalf("%s starts in %v; want %s", c.entry, seq, c.file)
		}
		if r.returns != len(r.stays)-r.files {
			t.Errorf("%s: %d returns, %d stays in %d files: the counts disagree", c.entry, r.returns, len(r.stays), r.files)
		}
		t.Logf("%s: %d stays in %d files, %d returns: %v", c.entry, len(r.stays), r.files, r.returns, seq)
	}
}
