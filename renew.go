package ginsecure

// Renew: the signed-in session's credentials rotated after a privilege
// change, its data carried into a new session.

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// Renew rotates the credentials of the signed-in session after a
// privilege change (a step-up, a role change): new session ID, new token,
// login time reset for Policy.MaxAuthAge. Requests still carrying the old
// credentials get the grace window, with the old privilege. A write of
// the session that a parallel request saved before Renew moved it is
// carried into the new session (as Login carries it). It returns
// ErrNoSession for a request that is not authenticated, lost a race with
// another rotation, or whose session ended (signed out, revoked, replaced)
// while it was in flight: then nothing changes. ErrStaleCredentials for one
// that carried superseded credentials, ErrSessionTooLarge or
// ErrStoreUnavailable when the new session could not be saved.
func Renew(c *gin.Context) error {
	r, err := newRenewal(c)
	if err != nil {
		return err
	}
	err = r.run()
	r.g.flush(c, r.st) // events.go
	return err
}

// run is Renew's steps, in order, on the state newRenewal checked.
func (r *renewal) run() error {
	if err := r.mark(); err != nil {
		return r.fail(err)
	}
	if err := r.moveSession(); err != nil {
		return r.fail(err)
	}
	if err := r.rotate(); err != nil {
		return r.fail(err)
	}
	r.retireSession()
	r.send()
	return nil
}

// renewal is one Renew on its way: what it has made so far, and the undo
// list that takes it back should a later step fail.
type renewal struct {
	g    *Guard
	c    *gin.Context
	st   *reqState
	ctx  context.Context
	now  time.Time
	undo undo

	m      minted             // the new token
	sid    string             // the new session's identity
	cur    *gsessions.Session // the session Renew moves from
	oldKey string             // its marker key, "" where nothing moves
	reread *gsessions.Session // that session, read with the marker
	ns     *gsessions.Session // the session Renew moves to
	rec    storeext.Record    // the record, rotated
}

// newRenewal checks that the request may renew (ginsecure set up,
// authenticated, on the current token) and draws the new token and
// session ID.
func newRenewal(c *gin.Context) (*renewal, error) {
	st, err := guarded(c)
	if err != nil {
		return nil, err
	}
	if !st.authenticated() {
		return nil, ErrNoSession
	}
	if st.sup != supCurrent {
		return nil, ErrStaleCredentials
	}
	r := &renewal{g: st.g, c: c, st: st, ctx: st.io.ctx(), now: st.g.now(), cur: st.cur}
	if r.m, err = st.g.mint(); err != nil {
		return nil, err
	}
	r.sid = st.rec.Handle // the cookie store: the identity stays the handle; the cookie's value changes
	if !cookieStore(st.gs.Store()) {
		if r.sid, err = newSessionID(st.gs.Store()); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// fail runs the undo list, newest first, and returns err.
func (r *renewal) fail(err error) error {
	r.undo.run(r.ctx)
	return err
}

// mark is step 1: the marker from the session Renew moves from to the
// record (renewMarker).
func (r *renewal) mark() error {
	var err error
	r.oldKey, r.reread, err = r.g.renewMarker(r.st, r.st.rec.Handle, r.sid, r.now)
	if err != nil {
		return err
	}
	if r.oldKey != "" {
		r.undo.push(r.dropMarker)
	}
	return nil
}

// dropMarker takes back the marker, only while the record still names the
// old session: a parallel Renew that won has moved it, and heals by this
// marker.
func (r *renewal) dropMarker(ctx context.Context) {
	g, handle := r.g, r.st.rec.Handle
	if rec, err := g.store.Get(ctx, handle); err == nil && rec.SessionID != sessionID(r.cur) {
		return
	}
	if err := g.store.DeleteMarker(ctx, r.oldKey, handle); err != nil {
		g.log.Warn("ginsecure: could not remove the marker of a failed Renew", "err", err)
	}
}

// moveSession is step 2: the session Renew moves to (renewSession),
// saved unless it is the presented one.
func (r *renewal) moveSession() error {
	st, c := r.st, r.c
	ns, err := st.renewSession(r.sid, r.reread)
	if err != nil {
		return err
	}
	st.keepLifetime(ns) // lifetime.go
	r.ns = ns
	hdr := c.Writer.Header()
	n := len(hdr["Set-Cookie"])
	moved := ns != st.cur
	if moved {
		if err := ns.Store().Save(c.Request, c.Writer, ns); err != nil {
			return st.g.saveErr(ns.Store(), err)
		}
	}
	r.undo.push(func(context.Context) {
		if moved {
			_ = deleteSession(c.Request, ns.Store(), ns.Name(), ns.ID)
		}
		if lines := hdr["Set-Cookie"]; len(lines) > n {
			hdr["Set-Cookie"] = lines[:n:n]
		}
	})
	return nil
}

// rotate is step 3: the record rotated onto the new session and token,
// atomically with the checks that it is still live and still on the
// presented token. A rotation applied whose reply was lost is no failure
// (rotatedTo): it commits. Errors: ErrNoSession (ended or raced
// meanwhile), ErrStoreUnavailable.
func (r *renewal) rotate() error {
	g, st, m, now := r.g, r.st, r.m, r.now
	presented := st.tok.hash
	key, err := r.mintedKey()
	if err != nil {
		return err
	}
	rec, err := g.store.Update(r.ctx, st.rec.Handle, func(rec *storeext.Record) error {
		if rec.Revoked != "" {
			return errEnded // (DESIGN.md, "Refusals"): an ended record is not renewed
		}
		if !hashEq(rec.TokenHash, presented) {
			return errRaced
		}
		seen := now
		if key != nil { // minted by this request: the browser never presented it
			seen, rec.TokenKey = time.Time{}, key
		}
		if err := supersede(rec, m, now, seen, true); err != nil {
			return err
		}
		rec.AuthAt, rec.LastSeen, rec.SessionID = now, now, r.sid
		rec.ExpiresAt = g.expiryOf(rec, now)
		return nil
	})
	lost := errors.Is(err, errRaced) || errors.Is(err, errEnded) || errors.Is(err, storeext.ErrNotFound)
	if err != nil && !lost {
		// The rotation may have been applied, its reply lost: the record
		// then names the new session and token, and undoing the session
		// half would leave it naming a session nobody holds. It commits.
		if applied, ok := g.rotatedTo(context.WithoutCancel(r.ctx), st.rec.Handle, m.hash); ok {
			rec, err = applied, nil
		}
	}
	switch {
	case err == nil:
		r.rec = rec
		return nil
	case lost:
		return ErrNoSession
	}
	return storeErr(err)
}

// mintedKey is the key of the request's token when this request minted
// it (a periodic rotation on the way in, a forward, a Login in the same
// handler), nil when the request's own token cookie carried it. The
// browser never presented a token its request minted, yet it is sent
// again to the browser's requests still on the one before it (the
// pending token): superseded by Renew, its first presentation, whenever
// it comes, is a late response answered with the current token, never a
// replay (DESIGN.md, "Superseded credentials"). The key is what the
// newer token is sealed to (a rotation mints none).
func (r *renewal) mintedKey() ([]byte, error) {
	st := r.st
	if v, ok := tokenCookie(r.c.Request, st.g.cfg.CookieName); ok {
		if p, ok := parseToken(v); ok && hashEq(p.hash, st.tok.hash) {
			return nil, nil
		}
	}
	return st.g.tokenKey(st.tok.secret)
}

// retireSession is step 4: the session Renew moved from deleted.
func (r *renewal) retireSession() {
	if r.oldKey == "" {
		return
	}
	cur := r.cur
	if err := deleteSession(r.c.Request, cur.Store(), cur.Name(), cur.ID); err != nil {
		r.g.log.Warn("ginsecure: could not retire the session Renew replaced", "err", err)
	}
}

// send is step 5: the new token sent; the request goes on with the new
// session.
func (r *renewal) send() {
	g, st, c, rec := r.g, r.st, r.c, &r.rec
	st.cur, st.sid = r.ns, r.sid
	st.sess.reset()
	g.setToken(c.Writer, rec.Handle, r.m.secret, st.tokenMaxAge(rec))
	g.offerDeviceBinding(st.io, rec, r.m.hash) // dbsc.go
	st.renewed(rec, r.now)
	st.tok.secret, st.tok.hash = r.m.secret, r.m.hash
	st.note(Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: "renew"})
}

// rotatedTo reports whether the record under handle holds the token
// hashed hash: a rotation whose reply was lost was applied. A store that
// cannot tell says no.
func (g *Guard) rotatedTo(ctx context.Context, handle string, hash [32]byte) (storeext.Record, bool) {
	r, err := g.store.Get(ctx, handle)
	return r, err == nil && hashEq(r.TokenHash, hash)
}

// renewMarker sets the marker from the session Renew replaces to the
// record (none where the session keeps its identity: the cookie store),
// and reads that session with it where the store allows (a Redis shared
// with the records). A parallel Renew of this very record (a double
// click) that set the same marker makes it ours as much as theirs.
func (g *Guard) renewMarker(st *reqState, handle, sid string, now time.Time) (oldKey string, reread *gsessions.Session, err error) {
	oldKey = markerKey(st.cur)
	if oldKey == st.sessionKeyOf(sid) {
		return "", nil, nil // nothing moves: no predecessor to mark
	}
	ctx := st.io.ctx()
	reread, err = g.markAndRead(ctx, oldKey, storeext.Marker{Handle: handle, At: now, ExpiresAt: now.Add(g.cfg.AbsoluteTimeout)}, st.cur, st.served != servedEmptied) // session_shared.go
	switch {
	case errors.Is(err, storeext.ErrMarkerExists):
		if mk, err := g.store.GetMarker(ctx, oldKey); err != nil || mk.Handle != handle {
			return "", nil, nil
		}
		return oldKey, nil, nil
	case err != nil:
		return "", nil, storeErr(err)
	}
	return oldKey, reread, nil
}

// renewSession is the session Renew moves the record to: on memstore and
// Redis a new one under sid, holding what the replaced session holds now
// (a parallel write Save acknowledged before the marker is in it; one
// after it is refused as stale) with this request's own changes on top,
// as Login carries it. On the cookie store the session keeps its
// identity: the presented one, unless this request changed its data, so
// that the Renew's response carries no session cookie that could land
// over a parallel write's (DESIGN.md, "Writes").
func (st *reqState) renewSession(sid string, reread *gsessions.Session) (*gsessions.Session, error) {
	if cookieStore(st.cur.Store()) && !st.sess.unsaved() && sessionID(st.cur) == sid {
		return st.cur, nil
	}
	v, err := st.loginValues(reread, st.rec.Handle)
	if err != nil {
		return nil, err
	}
	values := make(map[any]any, len(v)+1)
	for k, x := range v {
		if k != sidKey {
			values[k] = x
		}
	}
	values[handleKey] = st.rec.Handle
	return st.freshSession(sid, values), nil
}
