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
}

func (w *guardWriter) scrub() {
	st := w.st
	if w.scrubbed || w.ResponseWriter.Written() || !st.standingIn() {
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
