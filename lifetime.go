package ginsecure

// The session's lifetime as the application sets it through the wrapper:
// a changed MaxAge re-sends the token cookie ("remember me"), and a MaxAge
// the session store would read as "delete" is refused (DESIGN.md,
// "Cookie writes").

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/boj/redistore"
	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"
	gsessions "github.com/gorilla/sessions"
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
	if o := s.st.cur.Options; o == nil || o.MaxAge != maxAge {
		s.life = lifetimeChanged
	}
}

// deletesAtZero reports whether a Save of the session the request is
// signed in with would delete it: boj/redistore deletes a session saved
// with MaxAge <= 0 (the negative one is the logout idiom, handled before),
// which would leave its record alive with no session behind it and
// counting against MaxSessionsPerUser. An anonymous session is deleted as
// gin-contrib deletes it.
func (st *reqState) deletesAtZero() bool {
	if !st.authed || st.cur == nil || st.cur.Options == nil || st.cur.Options.MaxAge != 0 {
		return false
	}
	_, ok := st.cur.Store().(*redistore.RediStore)
	return ok
}

// followLifetime sends the token cookie again with the session cookie's new
// lifetime (capped at AbsoluteTimeout) after a Save that changed it, but
// only while the token this request holds is still its record's current
// one, re-read now: a superseded token (a rotation, a Renew, a login
// elsewhere in between) is never sent again (DESIGN.md, "Cookie writes").
// It costs a store read, only on a save that changed the lifetime.
func (s *guardSession) followLifetime() {
	st := s.st
	if s.life != lifetimeChanged || !st.authed || st.cur == nil {
		return
	}
	s.life = lifetimeKept
	rec, err := st.g.store.Get(reqCtx(st.c), st.tok.handle)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			st.g.log.Warn("ginsecure: could not re-read the session to send its token with the new lifetime", "err", err)
		}
		return
	}
	if rec.Revoked != "" || rec.TokenHash != st.tok.hash || !st.g.now().Before(rec.ExpiresAt) {
		return
	}
	dropSetCookie(st.c.Writer.Header(), st.g.cfg.CookieName)
	st.g.setToken(st.c, rec.Handle, st.tok.secret, st.cookieMaxAge())
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
	if *err == nil && s.life == lifetimeChanged {
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
func (g *Guard) keepCookies(c *gin.Context, st *reqState, prevSeen time.Time, rec *Record, rotated bool) {
	gs := st.cur
	if st.blank || gs == nil || gs.Options == nil || cookieStore(gs.Store()) || gs.ID == "" || gs.ID != rec.SessionID {
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
	if rs, ok := gs.Store().(*redistore.RediStore); ok && !expireRedisSession(c, rs, gs) {
		return
	}
	st.sendSessionCookie(gs)
	if !rotated {
		dropSetCookie(c.Writer.Header(), g.cfg.CookieName)
		g.setToken(c, rec.Handle, st.tok.secret, st.cookieMaxAge())
	}
}

// expireRedisSession resets the TTL of a boj/redistore session's key to its
// MaxAge; false where it could not (the key is gone, Redis did not answer,
// or the store's key prefix is unknown): the cookie is then not sent.
func expireRedisSession(c *gin.Context, rs *redistore.RediStore, gs *gsessions.Session) bool {
	prefix, _, _, ok := redisFormat(rs)
	if !ok || rs.Pool == nil {
		return false
	}
	conn, err := rs.Pool.GetContext(reqCtx(c))
	if err != nil {
		return false
	}
	defer conn.Close()
	n, err := redis.Int(conn.Do("EXPIRE", prefix+gs.ID, gs.Options.MaxAge))
	return err == nil && n == 1
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
