package ginsecure

// The session's lifetime as the application sets it through the wrapper:
// a changed MaxAge re-sends the token cookie ("remember me"), and a MaxAge
// the session store would read as "delete" is refused (DESIGN.md,
// "Cookie writes").

import (
	"errors"
	"net/http"
	"strings"

	"github.com/boj/redistore"
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
