package ginsecure

// The response writer that keeps a stand-in's response from writing our
// cookies.

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// guardWriter strips our cookies from the response of a request whose
// session is a stand-in (foreign, or a signed-in session presented without
// its token): a handler that saved the stand-in through gorilla directly
// would otherwise overwrite the victim's session cookie.
type guardWriter struct {
	gin.ResponseWriter
	st       *reqState
	scrubbed bool
	resent   resentToken // a token sent again to a superseded credential (sendNewer)
}

// resentToken is the token cookie a request was sent again at its
// verification (sendNewer): the record it is of, and the Set-Cookie line.
type resentToken struct {
	handle string
	line   string
}

func (w *guardWriter) scrub() {
	st := w.st
	if w.ResponseWriter.Written() {
		return
	}
	w.recheckResent()
	if w.scrubbed || !st.standingIn() {
		return
	}
	w.scrubbed = true
	h := w.ResponseWriter.Header()
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, l := range lines {
		if !st.isOurCookie(l) {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		h.Del("Set-Cookie")
	} else {
		h["Set-Cookie"] = kept
	}
}

// recheckResent decides again, as the response's headers go out, whether
// the token sent again at verification may still go (DESIGN.md, "Ordering
// principle", re-decide at the moment of the write): once a login of the
// browser replaced the record (its response possibly landed already), the
// replaced record's token landing after it would put a presented token of
// a replaced record next to the new session, dead by the rules, and sign
// the browser out. One record read, only for such responses.
func (w *guardWriter) recheckResent() {
	r := w.resent
	if r.line == "" {
		return
	}
	w.resent = resentToken{}
	st := w.st
	rec, err := st.g.view(st.c, r.handle, st.g.now())
	if err != nil || rec.Revoked != RevokedReplaced {
		return
	}
	h := w.ResponseWriter.Header()
	kept := h["Set-Cookie"][:0:0]
	for _, l := range h["Set-Cookie"] {
		if l != r.line {
			kept = append(kept, l)
		}
	}
	h["Set-Cookie"] = kept
}

// lastSetCookie is the Set-Cookie line just added to h.
func lastSetCookie(h http.Header) string {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

func (st *reqState) isOurCookie(line string) bool {
	name, _, _ := strings.Cut(line, "=")
	name = trimASCII(name)
	return name == st.g.cfg.CookieName || (st.gs != nil && name == st.gs.Name())
}

func (w *guardWriter) WriteHeaderNow()             { w.scrub(); w.ResponseWriter.WriteHeaderNow() }
func (w *guardWriter) Write(b []byte) (int, error) { w.scrub(); return w.ResponseWriter.Write(b) }
func (w *guardWriter) WriteString(s string) (int, error) {
	w.scrub()
	return w.ResponseWriter.WriteString(s)
}
func (w *guardWriter) Flush() { w.scrub(); w.ResponseWriter.Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *guardWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
