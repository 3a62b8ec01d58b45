package ginsecure

// Login, Logout, Renew, UserID and per-route policies (Require).

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"
)

// UserID returns the authenticated user of the request, or "", false: for
// anonymous requests, refused ones, and requests the middleware never saw.
// It never panics.
func UserID(c *gin.Context) (string, bool) {
	st := stateOf(c)
	if st == nil || !st.authed {
		return "", false
	}
	return st.rec.UserID, true
}

// FailureReason returns why the request is not authenticated when it
// presented a session that did not pass (ErrIdleTimeout, ErrReplay, ...),
// or nil.
func FailureReason(c *gin.Context) error {
	st := stateOf(c)
	if st == nil {
		return nil
	}
	return st.failure
}

// Login signs userID in on this request's browser, after the application
// has checked the user's credentials. It regenerates the gin-contrib session
// ID (data carried over), mints a new handle and token, retires the old
// session, binds the new one to the client IP, enforces MaxSessionsPerUser,
// and saves everything: the handler need not call Save.
func Login(c *gin.Context, userID string) error {
	st := stateOf(c)
	if st == nil || st.gs == nil {
		return ErrNoMiddleware
	}
	if userID == "" || len(userID) > 512 {
		return errors.New("ginsecure: Login: user ID must be 1 to 512 bytes")
	}
	g := st.g
	now := g.now()
	handle, err := newHandle()
	if err != nil {
		return err
	}
	tok, hash, err := newToken()
	if err != nil {
		return err
	}
	rec := g.newRecord(c, userID, hash, handle, now)
	lim := Limit{Max: g.cfg.MaxSessionsPerUser, Reject: g.cfg.RejectExtraLogins}
	if !st.untrusted && st.authed {
		// Signing in again from this browser replaces its session.
		lim.Replacing = st.handle
	}
	evicted, err := g.store.Create(reqCtx(c), rec, lim)
	if errors.Is(err, ErrTooManySessions) {
		g.emit(c, Event{Kind: EventLimit, UserID: userID, Err: err, Detail: "login refused: too many sessions"})
		return ErrTooManySessions
	}
	if err != nil {
		return storeErr(err)
	}
	for _, h := range evicted {
		g.emit(c, Event{Kind: EventLimit, UserID: userID, Handle: h, Detail: "signed out by a newer login"})
	}
	// Retire what the browser presented: the old record and the old
	// session. Not when its token did not open the session it names: the
	// requester holds someone else's session cookie at best, and must
	// neither end that session nor make its requests stale.
	if !st.untrusted {
		oldKey, oldTok := st.sessionKey(), zeroHash
		if st.hasTok {
			oldTok = st.tok
		}
		if st.handle != "" && st.handle != rec.Handle {
			if err := g.store.Delete(reqCtx(c), st.handle); err != nil {
				return storeErr(err)
			}
		}
		if err := g.markRotated(c, oldKey, oldTok, "", now); err != nil {
			return storeErr(err)
		}
	}
	if err := g.regenerate(c, st, rec.Handle); err != nil {
		return err
	}
	g.setToken(c, tok)
	st.rotated, st.authed, st.rec, st.authAt = true, true, &rec, now
	st.handle, st.tok, st.hasTok, st.failure = rec.Handle, hash, true, nil
	st.markStale(false)
	g.emit(c, Event{Kind: EventLogin, UserID: userID, Handle: rec.Handle})
	return nil
}

// regenerate gives the gin-contrib session a new ID where its store has
// one (memstore, Redis: the old key is deleted, the data carried over) and
// a new cookie value on the cookie store, so a session ID planted before
// login is worth nothing after it.
func (g *Guard) regenerate(c *gin.Context, st *reqState, handle string) error {
	gs := st.gs
	if st.untrusted {
		// Start from nothing: the data belongs to whoever holds the token,
		// and their session ID stays theirs.
		gs.ID = ""
		gs.Values = make(map[any]any)
		st.untrusted, st.blank, st.sess.stand = false, false, nil
	}
	if gs.ID != "" {
		old := gsessions.NewSession(gs.Store(), gs.Name())
		old.ID = gs.ID
		opts := *gs.Options
		opts.MaxAge = -1
		old.Options = &opts
		if err := gs.Store().Save(c.Request, discardWriter{}, old); err != nil {
			return storeErr(err)
		}
		gs.ID = ""
	}
	gs.IsNew = true
	gs.Values[handleKey] = handle
	if err := gs.Store().Save(c.Request, c.Writer, gs); err != nil {
		return storeErr(err)
	}
	return nil
}

// discardWriter swallows the expiring cookie of the deleted old session:
// the new session's cookie replaces it anyway.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// Logout signs the request's session out: the record is deleted, the
// gin-contrib session is destroyed and both cookies expire. There is no
// grace: once Logout returns, the old credentials are refused on every
// server sharing the store.
func Logout(c *gin.Context) error {
	st := stateOf(c)
	if st == nil || st.gs == nil {
		return ErrNoMiddleware
	}
	g := st.g
	if st.isStale() {
		// A straggler sent before a rotation cannot sign anyone out (its
		// old cookies would not even reach the browser); it is told so,
		// so that an application can ask the browser to try again with
		// the credentials it now holds.
		g.emit(c, Event{Kind: EventGraceServed, UserID: st.userID(), Handle: st.handle, Detail: "logout of a stale request refused"})
		return ErrStaleCredentials
	}
	if st.untrusted {
		// The session cookie names a record this request's token does not
		// open: it is someone else's session (stolen, or planted in this
		// browser). Signing it out, or destroying its data, is not this
		// requester's to do.
		return ErrNoSession
	}
	if st.handle != "" {
		if err := g.store.Delete(reqCtx(c), st.handle); err != nil {
			return storeErr(err)
		}
		g.emit(c, Event{Kind: EventLogout, UserID: st.userID(), Handle: st.handle})
	}
	gs := st.gs
	opts := *gs.Options
	opts.MaxAge = -1
	gs.Options = &opts
	if err := gs.Store().Save(c.Request, c.Writer, gs); err != nil {
		return storeErr(err)
	}
	g.expireToken(c)
	st.authed, st.closed, st.rotated = false, true, true
	return nil
}

// Renew rotates the credentials of the signed-in session after a
// privilege change (a step-up, a role change): new session ID, new token,
// login time reset for Policy.MaxAuthAge. Requests still carrying the old
// credentials get the grace window, with the old privilege.
func Renew(c *gin.Context) error {
	st := stateOf(c)
	if st == nil || st.gs == nil {
		return ErrNoMiddleware
	}
	if !st.authed || st.stale > 0 {
		return ErrNoSession
	}
	g := st.g
	now := g.now()
	tok, next, err := newToken()
	if err != nil {
		return err
	}
	presented := st.tok
	rec, err := g.store.Update(reqCtx(c), st.handle, func(r *Record) error {
		if !hashEq(r.TokenHash, presented) {
			return errRaced
		}
		rotateRecord(r, next, now, true)
		r.AuthAt, r.LastSeen, r.AbandonedHash = now, now, zeroHash
		r.ExpiresAt = g.expiry(r.CreatedAt, now)
		return nil
	})
	if errors.Is(err, errRaced) || errors.Is(err, ErrNotFound) {
		return ErrNoSession
	}
	if err != nil {
		return storeErr(err)
	}
	if err := g.markRotated(c, st.sessionKey(), presented, rec.Handle, now); err != nil {
		return storeErr(err)
	}
	if err := g.regenerate(c, st, rec.Handle); err != nil {
		return err
	}
	g.setToken(c, tok)
	st.rotated, st.rec, st.authAt, st.tok = true, &rec, now, next
	g.emit(c, Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: "renew"})
	return nil
}

// Policy is what a route group demands beyond the global configuration.
type Policy struct {
	// Authenticated refuses anonymous requests (401 with the reason the
	// session was not accepted, or ErrNoSession).
	Authenticated bool
	// IPBinding is checked in addition to Config.IPBinding; use it to be
	// stricter on a group (IPExact on /admin).
	IPBinding IPPolicy
	// MaxAuthAge demands a login (or Renew) no older than this: 403
	// ErrReauthRequired otherwise; the session itself stays valid.
	MaxAuthAge time.Duration
	// RequireTLS refuses requests that did not arrive over TLS (403). Behind
	// a TLS-terminating proxy it needs TrustProxyHeaders and the proxy in
	// engine.SetTrustedProxies; the proxy's X-Forwarded-Proto then counts.
	RequireTLS bool
}

// Require returns a handler that enforces p on a route group. It must run
// after Middleware. An invalid p (a bad CIDR) panics here, at setup, not on
// a request.
func (g *Guard) Require(p Policy) gin.HandlerFunc {
	if p.IPBinding.err != nil {
		panic("ginsecure: Policy.IPBinding: " + p.IPBinding.err.Error())
	}
	return func(c *gin.Context) {
		st := stateOf(c)
		if st == nil {
			g.log.Error("ginsecure: Require ran without Middleware; refusing")
			g.refuse(c, nil, ErrNoSession)
			return
		}
		if p.RequireTLS && !g.secureTransport(c) {
			g.refuse(c, st, ErrTLSRequired)
			return
		}
		if st.authed {
			if err := g.checkIdentity(c, st); err != nil {
				g.refuse(c, st, err)
				return
			}
			if err := g.checkIP(c, st, &p.IPBinding, true); err != nil {
				g.refuse(c, st, err)
				return
			}
		}
		if (p.Authenticated || p.MaxAuthAge > 0) && !st.authed {
			err := st.failure
			if err == nil {
				err = ErrNoSession
			}
			g.refuse(c, st, err)
			return
		}
		if p.MaxAuthAge > 0 && g.now().Sub(st.authAt) > p.MaxAuthAge {
			g.refuse(c, st, ErrReauthRequired)
			return
		}
		c.Next()
	}
}
