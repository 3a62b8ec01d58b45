package ginsecure

// One request's path, top to bottom: load → verify → bind → serve → write.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// request is what Middleware allocates for one request, once: the
// context, the state the steps between the edges work on, and the two
// wrappers it installs in the context (the session sessions.Default
// returns, the writer that keeps a response from writing what it must
// not).
type request struct {
	c    *gin.Context
	st   reqState
	sess guardSession
	w    guardWriter
}

// reqIO is what the steps of an entry (Middleware, Login, Logout, Renew, a
// session write) read of the request and write to its response: the
// request and the writer as they stand in the context where the entry
// starts (reqState.enter), and the context store calls are bounded by.
type reqIO struct {
	r *http.Request
	w gin.ResponseWriter
}

// ctx bounds store calls by the request's context.
func (x reqIO) ctx() context.Context {
	if x.r != nil {
		return x.r.Context()
	}
	return context.Background()
}

// reqState is everything the Guard knows about one request. It holds no
// *gin.Context: an entry takes what its steps need from the context at
// its start (io), so that the steps work on plain values.
type reqState struct {
	g  *Guard
	io reqIO // the request and writer of the entry running now

	sess   sessState // the session's state behind the wrapper sessions.Default returns (guardsession.go)
	resent resent    // cookies of a record sent at verification, decided again at the write (guardwriter.go)

	gs      *gsessions.Session // the session as presented (loaded), or nil without sessions.Sessions
	cur     *gsessions.Session // the session the request is served with: gs, the record's own (healed), or a stand-in
	sid     string             // the presented session's identity (session.go), "" for none
	loadErr error              // the session store could not be reached to load the session

	tok    presented        // what the token cookie carried (token says whether there was one, and whether it parsed)
	tokRec *storeext.Record // the record whose current or previous secret the token carried, even if refused
	// refused is the record whose network or identity did not match this
	// request (DESIGN.md, "Refusals"): the request goes on anonymous, and
	// only a Login of that record's own user replaces it (tokRec is nil then,
	// so that nothing else acts on it).
	refused *storeext.Record
	fwd     *storeext.Record // the replaced record whose token this request is forwarded from (grace.go)

	join  func() (*storeext.Record, error) // the token's record, read with the session (session_shared.go) or beside it (prefetch.go); shared, never modified
	early *gsessions.Session               // the session read with the record and handed to gin-contrib (session_shared.go), or nil

	rec     *storeext.Record // the record the request is authenticated with: shared with the store, never modified
	authAt  time.Time
	failure error

	events *[]Event // noted by the steps, emitted where the entry ends (events.go: note, flush); allocated at the first, as few requests note any

	// The small values, side by side (one word for the five).
	token    tokenState     // whether a token cookie was presented, and whether it parsed
	verdict  verdict        // what verify decided the request is (verdict.go)
	sup      supVerdict     // the token is the current one, or a superseded one and how it is served (grace.go)
	served   served         // which session the request is served with (verdict.go)
	scrubbed bool           // the stand-in's response had our cookies taken out (guardwriter.go, scrub)
	life     lifetimeChange // the handler changed the session cookie's lifetime (lifetime.go)
}

// setHeader sets header k to v, or deletes it for an empty v, as gin's
// Context.Header does.
func setHeader(h http.Header, k, v string) {
	if v == "" {
		h.Del(k)
		return
	}
	h.Set(k, v)
}

// Middleware returns the handler that authenticates every request. Put it
// right after sessions.Sessions(...). A request's path reads top to bottom
// here: load the two cookies, verify the token against its record, bind
// the session to the record (heal or hide it), check the network and the
// identity, serve, and keep a foreign session's response from writing
// cookies.
func (g *Guard) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if g.deviceEndpoint(c) { // dbsc.go: registration and refresh
			return
		}
		rq := g.load(c) // token.go, guardsession.go
		st := &rq.st
		err := g.verify(c, st)
		g.flush(c, st) // events.go: what verify noted
		if err != nil {
			c.Writer = &rq.w // a refusal writes no cookie of a stand-in either
			g.refuse(c, rq, err)
			return
		}
		if !st.standingIn() && st.resent.empty() {
			c.Next() // serve
			if st.sess.failed != nil {
				g.saveIgnored(c, st) // events.go
			}
			return
		}
		c.Writer = &rq.w // a stand-in's, or a resent token's (recheckResent)
		c.Next()
		rq.w.scrub() // write: a handler that wrote nothing still must not clobber
		if st.sess.failed != nil {
			g.saveIgnored(c, st)
		}
	}
}

// load reads what the request presents: the token cookie, and the
// gin-contrib session, whose wrapper goes into the context in place of
// gin-contrib's own.
func (g *Guard) load(c *gin.Context) *request {
	rq := &request{c: c}
	st := &rq.st
	st.g = g
	st.enter(c)
	rq.w.ResponseWriter, rq.w.rq = c.Writer, rq // installed by Middleware where needed
	rq.sess.rq, rq.sess.sessState = rq, &st.sess
	v, _ := c.Get(sessions.DefaultKey)
	if inner, ok := v.(ginSession); ok {
		st.sess.inner = inner
		c.Set(sessions.DefaultKey, &rq.sess)
	} else {
		c.Set(reqKey{}, rq) // requestOf finds it here instead
		g.warnNoSessions(v) // setup.go
	}
	if v, ok := tokenCookie(c.Request, g.cfg.CookieName); ok {
		st.token = tokenMalformed
		if p, ok := parseToken(v); ok {
			st.tok, st.token = p, tokenParsed
		}
		if st.token == tokenParsed && st.sess.inner != nil {
			// The record's read joins the session's (session_shared.go: one
			// round trip) or runs beside it (prefetch.go).
			if st.join, st.early = g.readTogether(st.sess.inner, c.Request, st.tok.handle); st.join == nil {
				st.join = g.startPrefetch(st.io.ctx(), st.tok.handle)
			}
		}
	}
	return rq
}

// verify decides what the request is: authenticated, anonymous (with a
// FailureReason where credentials were presented but are dead), or refused
// (the returned error). It never changes another user's session: every
// write below follows a verified token. Dead, stale or foreign credentials
// get no cookie written (DESIGN.md, "Cookie writes"). Its steps: load the
// session, open the token's record, bind the session to it, check the
// network and the identity, then keep the record fresh.
func (g *Guard) verify(c *gin.Context, st *reqState) error {
	if st.sess.inner != nil {
		if err := st.loadSession(); err != nil {
			return err
		}
	}
	if st.token != tokenParsed {
		if st.token == tokenMalformed {
			st.failure = ErrTokenMismatch
		}
		return g.guardAnonymous(st, nil, time.Time{}) // the clock is read only if the session names a record
	}
	now := g.now()
	rec, err := g.openRecord(st, now)
	if rec == nil || err != nil {
		return err
	}

	// bind: the session cookie must belong to the record.
	if ok, err := g.bindSession(st, rec); !ok || err != nil {
		return err
	}
	st.rec = rec
	if err := g.checkIP(c, st, &g.cfg.IPBinding, false); err != nil { // ipguard.go
		st.standIn(err)
		return nil
	}
	if err := g.checkIdentity(c, st); err != nil { // binding.go
		st.standIn(err)
		return nil
	}
	st.verdict = verdictAuthenticated
	return g.keepFresh(st, now)
}

// openRecord opens the record the token names: its secret is the current
// one or a superseded one the rules accept (grace.go), a replaced record's
// late response is forwarded to its successor, and the record has neither
// ended nor timed out. Where the request goes on anonymous instead it
// returns nil, and guardAnonymous's answer.
func (g *Guard) openRecord(st *reqState, now time.Time) (*storeext.Record, error) {
	rec, err := g.viewToken(st, now) // joins the read load started
	if errors.Is(err, storeext.ErrNotFound) {
		// Signed out, replaced by a login, timed out and forgotten: dead
		// credentials are anonymous, and nothing is written back.
		st.failure = ErrExpired
		return nil, g.guardAnonymous(st, nil, now)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if !g.checkSecret(st, rec, now) { // grace.go: current, previous, replay
		return nil, g.guardAnonymous(st, rec, now)
	}
	if rec.Revoked == storeext.RevokedReplaced {
		// A login from this browser replaced the record; a response of it
		// that landed after the login's (a rotation in flight) is
		// forwarded to the successor once the checks below pass on it
		// (grace.go).
		next, err := g.forwardTarget(st, rec, now)
		if err != nil {
			return nil, err
		}
		if next != nil {
			st.fwd, rec = rec, next
		}
	}
	if rec.Revoked != "" {
		st.failure = revokedErr(rec.Revoked)
		return nil, g.guardAnonymous(st, rec, now)
	}
	if reason := g.timedOut(rec, g.touchDue(rec, now), now); reason != nil {
		g.endTimedOut(st, rec, reason)
		st.failure = reason
		return nil, g.guardAnonymous(st, nil, now)
	}
	return rec, nil
}

// touchDue reports whether rec's last-seen write is due.
func (g *Guard) touchDue(rec *storeext.Record, now time.Time) bool {
	return atLeast(now, rec.LastSeen, g.cfg.TouchInterval)
}

// keepFresh makes the writes an authenticated request owes its record:
// its first presentation (one write that also touches it and enforces
// MaxSessionsPerUser: binding.go), a forward, the answer to a superseded
// credential, a rotation, a confirmation, a last-seen touch (grace.go).
// A write that finds the record ended takes the verdict away.
func (g *Guard) keepFresh(st *reqState, now time.Time) error {
	touch := g.touchDue(st.rec, now)
	if st.rec.Unpresented {
		if err := g.present(st, now); err != nil || !st.authenticated() {
			st.demote()
			return err
		}
		touch = false
	}

	// rotate, confirm, touch, resend: grace.go.
	if st.fwd != nil {
		return g.forward(st, now)
	}
	if st.sup != supCurrent && st.sup != supReissue {
		return g.serveSuperseded(st, now)
	}
	rotate, confirm := g.due(st.rec, st.sup, st.io.r.Header, now)
	if !rotate && !confirm && !touch {
		return nil
	}
	if err := g.refresh(st, now, rotate); err != nil {
		st.demote()
		return err
	}
	return nil
}

// timedOut says why rec ended by the clock (ErrIdleTimeout, ErrExpired), or
// nil. touch says a last-seen write is due: TouchInterval < IdleTimeout
// (New insists), so a session not yet due for one cannot have been idle
// too long. A timeout holds from its instant on, as the store's ExpiresAt
// does (DESIGN.md, "Store contract"): a record the store already treats as
// gone must not pass here, or the request's touch would find it missing.
func (g *Guard) timedOut(rec *storeext.Record, touch bool, now time.Time) error {
	switch {
	case touch && atLeast(now, rec.LastSeen, g.cfg.IdleTimeout):
		return ErrIdleTimeout
	case atLeast(now, rec.CreatedAt, g.cfg.AbsoluteTimeout),
		// A login no request presented within UnpresentedAge (binding.go).
		rec.Unpresented && atLeast(now, rec.CreatedAt, UnpresentedAge):
		return ErrExpired
	}
	return nil
}

// endTimedOut ends a record whose idle or absolute timeout passed, on the
// request that found it so, and deletes it: the request goes on
// anonymous, and nothing is written to the browser.
func (g *Guard) endTimedOut(st *reqState, rec *storeext.Record, reason error) {
	if _, err := g.end(st.io.ctx(), rec, storeext.RevokedTimedOut, g.sessionsOf(st)); err != nil &&
		!errors.Is(err, storeext.ErrNotFound) && !errors.Is(err, errEnded) {
		g.log.Warn("ginsecure: could not retire a timed-out session", "err", err)
	}
	if err := g.store.Delete(st.io.ctx(), rec.Handle); err != nil {
		g.log.Warn("ginsecure: could not delete a timed-out record", "err", err)
	}
	st.note(Event{Kind: EventTimeout, UserID: rec.UserID, Handle: rec.Handle, Err: reason})
}

// bindSession decides the session cookie next to a token that opened rec:
// the record's own session, its predecessor or another session of its
// user (healed), none (or one the store could not decode: anonymous, with
// a session of its own), or a foreign one (hidden, anonymous).
func (g *Guard) bindSession(st *reqState, rec *storeext.Record) (bool, error) {
	if st.gs == nil || (st.sid != "" && st.sid == rec.SessionID) {
		return true, nil
	}
	// Several session cookies of one name (a sibling subdomain's tossed in
	// front of the real one): the record's own wins (DESIGN.md, "Tossed
	// cookies").
	ok, several, err := st.ownAmong(rec)
	if ok || err != nil {
		return ok, err
	}
	if st.sid == "" {
		st.failure = ErrNoSession
		if st.lostSession(several) {
			return false, g.endLost(st, rec)
		}
		return false, nil
	}
	if healed, err := g.healFrom(st, rec, several); healed || err != nil {
		return healed, err
	}
	st.hide()
	st.failure = ErrForeignSession
	st.note(Event{Kind: EventTokenMismatch, UserID: rec.UserID, Handle: rec.Handle, Detail: "session cookie belongs to another session"})
	return false, nil
}

// healFrom decides a session cookie that is not rec's own (nor, where
// several came, among them): it heals the request into rec's own session
// when the cookie is rec's predecessor (its marker names rec), another
// session of rec's user (usersOther), or, within the login's window, a
// late anonymous session (lateAnonymous); it reports whether it did.
// Never from one of several cookies of the name: the record's own was
// not among them, so the first may be a tossed copy whose data would
// overwrite the browser's.
func (g *Guard) healFrom(st *reqState, rec *storeext.Record, several bool) (bool, error) {
	mk, err := g.store.GetMarker(st.io.ctx(), markerKey(st.gs))
	marked := err == nil
	switch {
	case err != nil && !errors.Is(err, storeext.ErrNotFound):
		return false, storeErr(err)
	case several:
		return false, nil
	case marked && st.healsFrom(mk, rec):
		return true, g.heal(st, rec, g.predecessorCarry(st, rec), mk.Handle)
	case !marked && g.lateAnonymous(st, rec):
		return true, g.adoptLate(st, rec)
	}
	mine, err := g.usersOther(st, rec, sessionOwner(st.gs, mk, marked))
	if !mine || err != nil {
		return false, err
	}
	return true, g.heal(st, rec, g.predecessorCarry(st, rec), "")
}

// guardAnonymous serves a request that is not authenticated. Its session
// is its own unless it names a record: a live record's session (a
// signed-in user's) is shown only to its token, so the request sees an
// empty stand-in; an ended record's session is nobody's any more
// (DESIGN.md, "Endings"): whoever presents it, with the record's token or
// without, sees it empty (dropEnded). rec is the record already read for
// the token, if any. A session chosen for a record among several cookies
// of the name (a forward's successor: ownAmong) is given up: that record
// ended after the choice (timed out), and its session is nobody's. now is
// the time verify read, or zero where it read none (a request without a
// token: the clock is read here, only if the session names a record).
func (g *Guard) guardAnonymous(st *reqState, rec *storeext.Record, now time.Time) error {
	if st.gs == nil {
		return nil
	}
	if st.cur != st.gs {
		st.cur, st.sid = st.gs, sessionID(st.gs)
	}
	h, _ := st.gs.Values[handleKey].(string)
	if h == "" {
		return nil
	}
	if !validHandle(h) {
		st.hide()
		return nil
	}
	if rec == nil || rec.Handle != h {
		if now.IsZero() {
			now = g.now()
		}
		r, err := g.view(st.io.ctx(), h, now)
		switch {
		case errors.Is(err, storeext.ErrNotFound):
			// The session outlived its record (signed out, timed out,
			// forgotten).
			st.dropEnded()
			return nil
		case err != nil:
			if st.token != tokenNone {
				return storeErr(err)
			}
			st.hide() // cannot tell: show nothing
			return nil
		}
		rec = r
	}
	if rec.Revoked != "" {
		st.dropEnded()
		return nil
	}
	st.hide()
	if st.failure == nil {
		st.failure = ErrTokenMismatch
		st.note(Event{Kind: EventTokenMismatch, UserID: rec.UserID, Handle: rec.Handle, Detail: "signed-in session presented without its token"})
	}
	return nil
}

// view reads a record for the hot path: decoded without copying its
// slices from a store that shares them (sharedReader: the embedded memory
// store), through Store.Get from any other.
func (g *Guard) view(ctx context.Context, handle string, now time.Time) (*storeext.Record, error) {
	if g.shared != nil {
		rec := new(storeext.Record)
		if err := g.shared.viewShared(handle, now, rec); err != nil {
			return nil, err
		}
		return rec, nil
	}
	rec, err := g.store.Get(ctx, handle)
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// reqKey is the context key of the request when there is no session
// wrapper to carry it.
type reqKey struct{}

// requestOf is the request Middleware allocated for c, or nil.
func requestOf(c *gin.Context) *request {
	if c == nil {
		return nil
	}
	// The request rides on the session wrapper where there is one (one
	// context write less per request), under its own key otherwise.
	if v, ok := c.Get(sessions.DefaultKey); ok {
		if gs, ok := v.(*guardSession); ok {
			return gs.rq
		}
	}
	v, ok := c.Get(reqKey{})
	if !ok {
		return nil
	}
	rq, _ := v.(*request)
	return rq
}

// stateOf is the state of the request Middleware allocated for c, or nil.
func stateOf(c *gin.Context) *reqState {
	if rq := requestOf(c); rq != nil {
		return &rq.st
	}
	return nil
}

// guarded is the state of the request on c for an entry that needs
// ginsecure set up (Login, Renew, PrepareSignIn), entered (enter), or the
// error that names the mistake (setup.go).
func guarded(c *gin.Context) (*reqState, error) {
	st := stateOf(c)
	if st == nil || st.gs == nil {
		v, _ := c.Get(sessions.DefaultKey)
		return nil, setupErr(st, v)
	}
	st.enter(c)
	return st, nil
}

// enter takes what the steps of an entry read and write from c, as it
// stands where the entry starts: the request, and the writer (Middleware's
// guardWriter once installed, or a later middleware's).
func (st *reqState) enter(c *gin.Context) {
	st.io = reqIO{r: c.Request, w: c.Writer}
}

// reqCtx bounds store calls by the request's context.
func reqCtx(c *gin.Context) context.Context {
	if c.Request != nil {
		return c.Request.Context()
	}
	return context.Background()
}

// viewToken is view for the record the token names: it joins the read
// startPrefetch started, or reads now where none was started (or the
// store could not start one at once: the sequential order).
func (g *Guard) viewToken(st *reqState, now time.Time) (*storeext.Record, error) {
	join := st.join
	if join == nil {
		return g.view(st.io.ctx(), st.tok.handle, now)
	}
	st.join = nil
	return join()
}

// deviceEndpoint answers a POST to the registration or refresh path and
// reports whether it did; every other request goes on.
func (g *Guard) deviceEndpoint(c *gin.Context) bool {
	d := g.device
	if d == nil || c.Request.Method != http.MethodPost {
		return false
	}
	switch c.Request.URL.Path {
	case d.register:
		g.deviceRegister(c)
	case d.refresh:
		g.deviceRefresh(c)
	default:
		return false
	}
	c.Abort()
	return true
}
