package ginsecure

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzSessionCookiesCoverNetHTTP: whatever Cookie header arrives, every
// value net/http reads under the session's name is among those
// sessionCookies yields, in the same order (it yields more: values
// net/http finds malformed, which no codec decodes), so reading the header
// itself never loses the record's own session cookie; and it never
// panics.
func FuzzSessionCookiesCoverNetHTTP(f *testing.F) {
	for _, s := range []string{
		"app=a; app=b; x=y; app=c",
		" app = \"q\" ;app=;app",
		"app=x=y; app\t=z;;; =app; apps=1; xapp=2",
		"a=\"unterminated; app=ok",
		"app=\u00e9; app=ok",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		var ours []string
		for v := range sessionCookies(r, "app") {
			ours = append(ours, v)
		}
		i := 0
		for _, c := range r.CookiesNamed("app") {
			for i < len(ours) && strings.TrimSpace(ours[i]) != strings.TrimSpace(c.Value) {
				i++
			}
			if i == len(ours) {
				t.Fatalf("net/http reads app=%q from %q; sessionCookies yields %q", c.Value, header, ours)
			}
			i++
		}
	})
}
