package ginsecure

// Renew: the signed-in session's credentials rotated after a privilege
// change, its data carried into a new session.

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
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
	st := stateOf(c)
	if st == nil || st.gs == nil {
		return setupErr(c, st)
	}
	if !st.authed {
		return ErrNoSession
	}
	if st.sup != supCurrent {
		return ErrStaleCredentials
	}
	g := st.g
	ctx, now := reqCtx(c), g.now()
	m, err := mint()
	if err != nil {
		return err
	}
	handle := st.rec.Handle
	sid := handle // the cookie store: the identity stays the handle; the cookie's value changes
	if !cookieStore(st.gs.Store()) {
		if sid, err = newSessionID(st.gs.Store()); err != nil {
			return err
		}
	}
	cur := st.cur
	oldKey, reread, err := g.renewMarker(st, handle, sid, now)
	if err != nil {
		return err
	}
	undo := func() {
		// Only while the record still names the old session: a parallel
		// Renew that won has moved it, and heals by this marker.
		if oldKey == "" {
			return
		}
		if r, err := g.store.Get(ctx, handle); err == nil && r.SessionID != sessionID(cur) {
			return
		}
		if err := g.store.DeleteMarker(ctx, oldKey, handle); err != nil {
			g.log.Warn("ginsecure: could not remove the marker of a failed Renew", "err", err)
		}
	}
	ns, err := st.renewSession(sid, reread)
	if err != nil {
		undo()
		return err
	}
	rec, err := g.renewRecord(st, ns, m, sid, now)
	if err != nil {
		undo()
		return err
	}
	if oldKey != "" {
		if err := deleteSession(c.Request, cur.Store(), cur.Name(), cur.ID); err != nil {
			g.log.Warn("ginsecure: could not retire the session Renew replaced", "err", err)
		}
	}
	st.cur, st.healed, st.sid = ns, false, sid
	st.sess.written, st.sess.dirty, st.sess.clear = false, nil, false
	g.setToken(c, handle, m.secret, st.cookieMaxAge())
	st.created, st.rec, st.tokRec, st.authAt = true, &rec, &rec, now
	st.tok.secret, st.tok.hash = m.secret, m.hash
	g.emit(c, Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: "renew"})
	return nil
}

// renewRecord saves the session Renew moves to (unless it is the
// presented one) and rotates the record onto it, atomically with the
// checks that it is still live and still on the presented token. A
// failure leaves nothing of this: the new session is deleted and its
// cookie taken back. A rotation applied whose reply was lost is no
// failure (rotatedTo): it commits. Errors: ErrNoSession (ended or raced meanwhile),
// saveErr's, ErrStoreUnavailable.
func (g *Guard) renewRecord(st *reqState, ns *gsessions.Session, m minted, sid string, now time.Time) (Record, error) {
	c := st.c
	hdr := c.Writer.Header()
	n := len(hdr["Set-Cookie"])
	moved := ns != st.cur
	if moved {
		if err := ns.Store().Save(c.Request, c.Writer, ns); err != nil {
			return Record{}, saveErr(err)
		}
	}
	presented := st.tok.hash
	rec, err := g.store.Update(reqCtx(c), st.rec.Handle, func(r *Record) error {
		if r.Revoked != "" {
			return errEnded // (DESIGN.md, "Refusals"): an ended record is not renewed
		}
		if !hashEq(r.TokenHash, presented) {
			return errRaced
		}
		if err := supersede(r, m, now, now, true); err != nil {
			return err
		}
		r.AuthAt, r.LastSeen, r.SessionID = now, now, sid
		r.ExpiresAt = g.expiryOf(r, now)
		return nil
	})
	if err != nil && !errors.Is(err, errRaced) && !errors.Is(err, errEnded) && !errors.Is(err, ErrNotFound) {
		// The rotation may have been applied, its reply lost: the record
		// then names the new session and token, and undoing the session
		// half would leave it naming a session nobody holds. It commits.
		if r, ok := g.rotatedTo(context.WithoutCancel(reqCtx(c)), st.rec.Handle, m.hash); ok {
			rec, err = r, nil
		}
	}
	if err == nil {
		return rec, nil
	}
	if moved {
		_ = deleteSession(c.Request, ns.Store(), ns.Name(), ns.ID)
	}
	if lines := hdr["Set-Cookie"]; len(lines) > n {
		hdr["Set-Cookie"] = lines[:n:n]
	}
	if errors.Is(err, errRaced) || errors.Is(err, errEnded) || errors.Is(err, ErrNotFound) {
		return Record{}, ErrNoSession
	}
	return Record{}, storeErr(err)
}

// rotatedTo reports whether the record under handle holds the token
// hashed hash: a rotation whose reply was lost was applied. A store that
// cannot tell says no.
func (g *Guard) rotatedTo(ctx context.Context, handle string, hash [32]byte) (Record, bool) {
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
	ctx := reqCtx(st.c)
	reread, err = st.markAndRead(ctx, oldKey, Marker{Handle: handle, At: now, ExpiresAt: now.Add(g.cfg.AbsoluteTimeout)}, true) // session_redis.go
	switch {
	case errors.Is(err, ErrMarkerExists):
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
	if cookieStore(st.cur.Store()) && !st.sess.written && sessionID(st.cur) == sid {
		return st.cur, nil
	}
	v, err := st.loginValues(reread)
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
