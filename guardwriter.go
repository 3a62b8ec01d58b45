package ginsecure

// The response: the writer that keeps a stand-in's response from writing
// our cookies, a refusal's answer, and a Save the handler ignored.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
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
	rq *request // the context a write comes with: its store reads are bounded by the request as it stands; its state is rq.st
}

// resent is what a request was sent at its verification for a record that
// an ending, a login of the browser or a newer rotation may make stale
// before the response goes out: the token of a rotation or a forward, the
// token sent again to a superseded credential (sendNewer), the cookie
// store's healed session (heal). Each entry is one Set-Cookie line; the
// list is allocated at the first, as most requests have none.
type resent struct {
	entries *[]resentLine
}

// empty reports whether nothing was noted.
func (r *resent) empty() bool { return r.entries == nil || len(*r.entries) == 0 }

// take returns what was noted, and forgets it.
func (r *resent) take() []resentLine {
	if r.entries == nil {
		return nil
	}
	e := *r.entries
	r.entries = nil
	return e
}

// resentLine is one Set-Cookie line for the record handle; token lines
// carry the hash of the token they set, and again marks a token sent again
// to a superseded credential (sendNewer) rather than minted for this
// request.
type resentLine struct {
	handle string
	line   string
	token  bool
	again  bool
	hash   [32]byte
}

// note keeps the Set-Cookie line just added to h (a session cookie) for
// record handle.
func (r *resent) note(handle string, h http.Header) {
	r.add(resentLine{handle: handle}, h)
}

// noteToken keeps the token cookie line just added to h for record
// handle, the token whose hash is hash; again says it is a token sent
// again to a superseded credential.
func (r *resent) noteToken(handle string, hash [32]byte, again bool, h http.Header) {
	r.add(resentLine{handle: handle, token: true, again: again, hash: hash}, h)
}

// add keeps e with the last Set-Cookie line of h, the one just added.
func (r *resent) add(e resentLine, h http.Header) {
	if lines := h["Set-Cookie"]; len(lines) > 0 {
		e.line = lines[len(lines)-1]
		if r.entries == nil {
			r.entries = new([]resentLine)
		}
		*r.entries = append(*r.entries, e)
	}
}

func (w *guardWriter) scrub() {
	st := &w.rq.st
	if w.ResponseWriter.Written() {
		return
	}
	w.recheckResent()
	if st.scrubbed || !st.standingIn() {
		return
	}
	st.scrubbed = true
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
// Once the record ended (any ending: a login of the browser replaced it,
// a logout, a revocation; its response possibly landed already), or a
// token line's token is no longer the record's current one (a Renew, a
// newer rotation superseded it), the line landing last would put a dead
// or superseded credential next to what the browser holds since, and
// sign it out; on the cookie store a healed session, a full copy, would
// overwrite what the browser saved since or bring an ended session's data
// back. One record read per record, only for such responses; a store
// that cannot answer leaves the lines as they are.
func (w *guardWriter) recheckResent() {
	entries := w.rq.st.resent.take()
	if len(entries) == 0 {
		return
	}
	var drop []string
	var handle string
	var rec *storeext.Record
	readable := false
	for i, e := range entries {
		if i == 0 || e.handle != handle { // one read per record
			handle = e.handle
			rec, readable = w.recordNow(handle)
		}
		if readable && stale(rec, e) {
			drop = append(drop, e.line)
		}
	}
	if len(drop) > 0 {
		dropSetCookies(w.ResponseWriter.Header(), func(l string) bool { return slices.Contains(drop, l) })
	}
}

// ctx bounds a write's store reads by the request as it stands at the
// write (reqIO.ctx).
func (w *guardWriter) ctx() context.Context { return reqIO{r: w.rq.c.Request}.ctx() }

// recordNow reads the record handle as it is now: nil where it is gone;
// readable false where the store cannot answer.
func (w *guardWriter) recordNow(handle string) (rec *storeext.Record, readable bool) {
	st := &w.rq.st
	r, err := st.g.view(w.ctx(), handle, st.g.now())
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		return nil, true
	case err != nil:
		return nil, false
	}
	return r, true
}

// stale reports whether line e may no longer go out for rec (nil: the
// record is gone). A session line goes only while the record is live. A
// token line goes while its token is one the browser may still present
// after any delay: the record's current token on a live record, or a
// token never presented (a late response at its first presentation,
// answered with the current credential, or forwarded from a replaced
// record; DESIGN.md, "Superseded credentials"). A token the browser had
// presented and that was superseded since, or whose record ended
// otherwise, would be a replay or dead when presented after the window.
// A token sent again to a superseded credential is not sent once a login
// replaced the record either: the browser may have presented it through
// the forward already.
func stale(rec *storeext.Record, e resentLine) bool {
	switch {
	case rec == nil:
		return true
	case rec.Revoked != "" && (!e.token || e.again || rec.Revoked != storeext.RevokedReplaced):
		return true
	case !e.token:
		return false
	case rec.TokenHash == e.hash:
		return rec.Revoked != "" && !rec.ConfirmedAt.IsZero()
	}
	i := supersededIndex(rec, e.hash)
	return i < 0 || !rec.History[i].Seen.IsZero()
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

// refuse answers a refused request through the error handler and aborts it,
// whatever the handler did: a custom handler cannot let the protected
// handler run by forgetting to abort. No cookie is expired: the refused
// credentials may be a planted or stale copy, and an expiring Set-Cookie
// could land after a newer login's response.
func (g *Guard) refuse(c *gin.Context, rq *request, err error) {
	if rq != nil {
		rq.st.failure = err
	}
	if g.cfg.ErrorHandler != nil {
		g.cfg.ErrorHandler(c, err)
	} else {
		g.defaultErrorHandler(c, err)
	}
	c.Abort()
	if rq != nil {
		rq.w.scrub()
	}
}

func (g *Guard) defaultErrorHandler(c *gin.Context, err error) {
	status, code := http.StatusUnauthorized, "unauthorized"
	var se *secError
	if errors.As(err, &se) {
		status, code = se.status, se.code
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
	}
	body := gin.H{"error": code}
	if r := RevokeReasonOf(err); r != "" {
		body["reason"] = string(r) // who signed the session out (RevokeReason)
	}
	c.AbortWithStatusJSON(status, body)
}

// saveIgnored reports a failed Save whose error the handler ignored: it
// answered below 400 after the Save failed (and no later Save succeeded).
func (g *Guard) saveIgnored(c *gin.Context, st *reqState) {
	if c.Writer.Status() >= 400 {
		return
	}
	g.emit(c, Event{Kind: EventSaveIgnored, UserID: st.userID(), Handle: st.handleOf(), Err: st.sess.failed,
		Detail: "the handler answered " + strconv.Itoa(c.Writer.Status()) + " after Save failed: the write is lost"})
}
