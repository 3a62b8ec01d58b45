package ginsecure

// The session's lifetime as the application sets it through the wrapper:
// a changed MaxAge re-sends the token cookie ("remember me"), and a MaxAge
// the session store would read as "delete" is refused (DESIGN.md,
// "Cookie writes").

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
	"github.com/quasoft/memstore"
)

// lifetimeChange says whether the handler changed the session cookie's
// lifetime (Options with another MaxAge) since the token cookie last
// followed it.
type lifetimeChange uint8

const (
	lifetimeKept    lifetimeChange = iota
	lifetimeChanged                // the token cookie must follow at the next Save
)

// noteLifetime records an Options call: a MaxAge other than the session's
// current one changes the session cookie's lifetime.
func (s *guardSession) noteLifetime(maxAge int) {
	if o := s.rq.st.cur.Options; o == nil || o.MaxAge != maxAge {
		s.rq.st.life = lifetimeChanged
	}
}

// deletesAtZero reports whether a Save of the session the request is
// signed in with would delete it: a session store that deletes a session
// saved with MaxAge <= 0 (boj/redistore, storeext.KnownSessions.Persists; the
// negative MaxAge is the logout idiom, handled before)
// which would leave its record alive with no session behind it and
// counting against MaxSessionsPerUser. An anonymous session is deleted as
// gin-contrib deletes it.
func (st *reqState) deletesAtZero() bool {
	if !st.authenticated() || st.cur == nil || st.cur.Options == nil || st.cur.Options.MaxAge != 0 {
		return false
	}
	return !st.g.persists(st.cur.Store(), st.cur.Options)
}

// persists reports whether a save of a session of store with opts keeps
// it: false only where the records Store knows the session store deletes
// it instead (storeext.KnownSessions.Persists).
func (g *Guard) persists(store gsessions.Store, opts *gsessions.Options) bool {
	known := g.sessionsKnown(store)
	return known == nil || known.Persists(opts)
}

// followLifetime keeps the session cookie's new lifetime on the record
// (Record.CookieMaxAge: every later token, at a rotation, a Renew, a
// keep-alive, follows it) and sends the token cookie again with it (capped
// at what remains of AbsoluteTimeout) after a Save that changed it, but
// only while the token this request holds is still its record's current
// one, checked in the same atomic write: a superseded token (a rotation,
// a Renew, a login elsewhere in between) is never sent again, and its
// request changes nothing (DESIGN.md, "Cookie writes"). It costs a store
// write, only on a save that changed the lifetime.
func (s *guardSession) followLifetime() {
	st := &s.rq.st
	if st.life != lifetimeChanged || !st.authenticated() || st.cur == nil || st.cur.Options == nil || st.cur.Options.MaxAge < 0 {
		return
	}
	st.life = lifetimeKept
	age, now := chosenLifetime(st.cur.Options.MaxAge), st.g.now()
	held := st.rec
	if held == nil || held.Handle != st.tok.handle {
		held = &storeext.Record{Handle: st.tok.handle}
	}
	rec, err := st.g.updateHeld(st.io.ctx(), held, func(r *storeext.Record) error {
		if r.Revoked != "" || r.TokenHash != st.tok.hash || !now.Before(r.ExpiresAt) {
			return errRaced
		}
		r.CookieMaxAge = age
		return nil
	})
	if err != nil {
		if !errors.Is(err, errRaced) && !errors.Is(err, storeext.ErrNotFound) {
			st.g.log.Warn("ginsecure: could not keep the session's new lifetime", "err", err)
		}
		return
	}
	st.rec = &rec
	dropSetCookie(st.io.w.Header(), st.g.cfg.CookieName)
	st.g.setToken(st.io.w, rec.Handle, st.tok.secret, st.tokenMaxAge(&rec))
}

// chosenLifetime is Record.CookieMaxAge for a session saved with maxAge
// (>= 0) seconds: 0, a browser-session cookie, is kept as -1, since 0
// means the application chose nothing.
func chosenLifetime(maxAge int) int {
	if maxAge == 0 {
		return -1
	}
	return maxAge
}

// tokenMaxAge is the Max-Age of a token cookie that rec's session sends:
// the lifetime the application chose (Record.CookieMaxAge) capped at what
// remains of AbsoluteTimeout, 0 (a browser-session cookie) where it chose
// one, and where it chose nothing the session's own (cookieMaxAge).
func (st *reqState) tokenMaxAge(rec *storeext.Record) int {
	if rec != nil && rec.Device.Bound() && st.g.device != nil {
		return st.g.boundTokenMaxAge(st.unboundMaxAge(rec), rec) // dbsc_lifecycle.go
	}
	return st.unboundMaxAge(rec)
}

// unboundMaxAge is tokenMaxAge for a record that is not device-bound.
func (st *reqState) unboundMaxAge(rec *storeext.Record) int {
	if rec == nil || rec.CookieMaxAge == 0 {
		return st.cookieMaxAge()
	}
	if rec.CookieMaxAge < 0 {
		return 0
	}
	left := int(rec.CreatedAt.Add(st.g.cfg.AbsoluteTimeout).Sub(st.g.now()) / time.Second)
	return max(min(rec.CookieMaxAge, left), 1)
}

// withLifetime is gs with the lifetime rec's session keeps
// (Record.CookieMaxAge, as tokenMaxAge caps it) in place of the session
// store's, for the session cookie the Guard sends (Renew, keep-alive);
// gs itself where the application chose none. gs is not changed.
func (st *reqState) withLifetime(gs *gsessions.Session, rec *storeext.Record) *gsessions.Session {
	if gs == nil || gs.Options == nil || rec == nil || rec.CookieMaxAge == 0 {
		return gs
	}
	cp, o := *gs, *gs.Options
	o.MaxAge = st.tokenMaxAge(rec)
	cp.Options = &o
	return &cp
}

// dropSetCookie removes the response's Set-Cookie lines of the named
// cookie, so that the one sent after them is the response's only one.
func dropSetCookie(h http.Header, name string) {
	lines := h["Set-Cookie"]
	kept := lines[:0:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, name+"=") {
			kept = append(kept, l)
		}
	}
	if len(kept) != len(lines) {
		h["Set-Cookie"] = kept
	}
}

// saved follows a Save: it keeps the error for Middleware (a failed Save
// the handler ignores is an event), and a kept write that changed the
// lifetime sends the token again.
func (s *guardSession) saved(err *error) {
	s.failed = *err // reported if the handler ignores it (events.go)
	if *err == nil && s.rq.st.life == lifetimeChanged {
		s.followLifetime()
	}
}

// keepCookies keeps a signed-in session's cookies alive when the session
// store's MaxAge is shorter than AbsoluteTimeout: gin-contrib sends the
// session cookie only when the application saves, so an active user would
// be signed out when it expires, long before the record. With the
// record's last-seen write that crosses a quarter of MaxAge since the
// login (at most once per max(MaxAge/4, TouchInterval), off every other
// request), the session's own cookie is sent again with a fresh Max-Age,
// its Redis key's TTL reset (EXPIRE: the data is not written, so no
// parallel write is undone), and the token cookie, current at the write
// (the touch checked it), sent with it unless a rotation just sent it.
// The cookie store cannot do this without re-sending a read copy of the
// data: New warns instead (warnShortCookieStore). (DESIGN.md, "Timeouts")
func (g *Guard) keepCookies(st *reqState, prevSeen time.Time, rec *storeext.Record, rotated bool) {
	gs := st.withLifetime(st.cur, rec)
	if st.standingIn() || gs == nil || gs.Options == nil || cookieStore(gs.Store()) || gs.ID == "" || gs.ID != rec.SessionID {
		return
	}
	maxAge := time.Duration(gs.Options.MaxAge) * time.Second
	if maxAge <= 0 || maxAge >= g.cfg.AbsoluteTimeout {
		return
	}
	step := max(maxAge/4, g.cfg.TouchInterval)
	if rec.LastSeen.Sub(rec.CreatedAt)/step <= prevSeen.Sub(rec.CreatedAt)/step {
		return
	}
	if !g.touchSession(st.io.ctx(), gs) {
		return
	}
	st.sendSessionCookie(gs)
	if !rotated {
		dropSetCookie(st.io.w.Header(), g.cfg.CookieName)
		g.setToken(st.io.w, rec.Handle, st.tok.secret, st.tokenMaxAge(rec))
		st.resent.noteToken(rec.Handle, st.tok.hash, false, st.io.w.Header())
	}
}

// touchSession resets the lifetime of gs's stored data where the session
// store keeps it with a lifetime of its own (storeext.KnownSessions.Touch), and
// reports whether gs's cookie may be sent again: not where the data may
// expire before the cookie (a session store with IDs that neither the
// records Store knows nor ginsecure does: gin-contrib's memstore and
// gorilla's FilesystemStore keep their data without a lifetime).
func (g *Guard) touchSession(ctx context.Context, gs *gsessions.Session) bool {
	if known := g.sessionsKnown(gs.Store()); known != nil {
		return known.Touch(ctx, gs.ID, gs.Options.MaxAge)
	}
	switch gs.Store().(type) {
	case *memstore.MemStore, *gsessions.FilesystemStore:
		return true
	}
	return false
}

// warnShortCookieStore warns when a cookie store's MaxAge is shorter than
// AbsoluteTimeout: an active user is signed out when the cookie expires,
// unless the application saves the session (the Guard cannot re-send the
// cookie without undoing parallel writes). Called once, at the first
// request that carries a session.
func (g *Guard) warnShortCookieStore(gs *gsessions.Session) {
	if !cookieStore(gs.Store()) || gs.Options == nil || gs.Options.MaxAge <= 0 {
		return
	}
	if d := time.Duration(gs.Options.MaxAge) * time.Second; d < g.cfg.AbsoluteTimeout {
		g.log.Warn("ginsecure: the cookie session store's MaxAge is shorter than AbsoluteTimeout, so an active user is signed out when the session cookie expires unless the application saves the session; set store.Options(sessions.Options{MaxAge: ...}) to at least AbsoluteTimeout (seconds)",
			"max_age", d.String(), "absolute_timeout", g.cfg.AbsoluteTimeout.String())
	}
}

// keepLifetime gives the session Renew moves to the lifetime its record
// keeps (Record.CookieMaxAge), in place of the session store's: its
// cookie (and Redis key) then lives as the token does. The request's own
// session, kept where Renew does not move it, is left as it is.
func (st *reqState) keepLifetime(ns *gsessions.Session) {
	if ns == nil || ns == st.cur || st.rec == nil || st.rec.CookieMaxAge == 0 {
		return
	}
	ns.Options = st.withLifetime(ns, st.rec).Options
}

// cookieMaxAge is the lifetime of the token cookie this request sends: the
// session cookie's, from the session's options (seconds; 0 for a
// browser-session cookie).
func (st *reqState) cookieMaxAge() int {
	gs := st.cur
	if gs == nil || gs.Options == nil {
		gs = st.gs
	}
	if gs == nil || gs.Options == nil {
		return int(st.g.cfg.AbsoluteTimeout / time.Second)
	}
	if gs.Options.MaxAge > 0 {
		return min(gs.Options.MaxAge, int(st.g.cfg.AbsoluteTimeout/time.Second))
	}
	return 0
}
