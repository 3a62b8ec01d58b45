package ginsecure

// The response writer that keeps a stand-in's response from writing our
// cookies.

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
)

// guardWriter strips our cookies from the response of a request whose
// session is a stand-in (foreign, or a signed-in session presented without
// its token): a handler that saved the stand-in through gorilla directly
// would otherwise overwrite the victim's session cookie.
type guardWriter struct {
	gin.ResponseWriter
	st       *reqState
	scrubbed bool
	resent   resent // cookies of a record sent at verification, decided again at the write
}

// resent is what a request was sent at its verification for its record
// that a login of the browser may make stale before the response goes out:
// the token sent again to a superseded credential (sendNewer), the cookie
// store's healed session (heal). handle is the record, lines the
// Set-Cookie lines.
type resent struct {
	handle string
	lines  []string
}

// note keeps the Set-Cookie line just added to h for record handle.
func (r *resent) note(handle string, h http.Header) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	r.handle = handle
	r.lines = append(r.lines, lines[len(lines)-1])
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
	dropSetCookies(w.ResponseWriter.Header(), st.isOurCookie)
}

// dropSetCookies removes from h the Set-Cookie lines drop reports.
func dropSetCookies(h http.Header, drop func(line string) bool) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, l := range lines {
		if !drop(l) {
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
// what the request was sent at verification for its record may still go
// (DESIGN.md, "Ordering principle", re-decide at the moment of the write).
// Once a login of the browser replaced the record (its response possibly
// landed already), the replaced record's token landing after it would put
// a presented token of a replaced record next to the new session, dead by
// the rules, and sign the browser out; on the cookie store its healed
// session, a full copy, would overwrite what the browser saved since. One
// record read, only for such responses.
func (w *guardWriter) recheckResent() {
	r := w.resent
	if len(r.lines) == 0 {
		return
	}
	w.resent = resent{}
	st := w.st
	rec, err := st.g.view(st.c, r.handle, st.g.now())
	if err != nil || rec.Revoked != storeext.RevokedReplaced {
		return
	}
	dropSetCookies(w.ResponseWriter.Header(), func(l string) bool { return slices.Contains(r.lines, l) })
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
