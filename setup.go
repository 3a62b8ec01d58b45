package ginsecure

// Misconfiguration: what Middleware, Require, Login and Renew find when
// ginsecure is not set up as it needs, told apart so that the error and the
// log name the mistake (a programming error must not answer like a wrong
// password).

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-contrib/sessions"
)

// setupErr is the error of Login or Renew on a request whose session
// ginsecure cannot guard: ErrNoMiddleware when Middleware has not run,
// ErrSessionsMany or ErrNoSessionsMiddleware when it found no session of
// sessions.Sessions.
func setupErr(st *reqState, v any) error {
	switch {
	case st == nil:
		return ErrNoMiddleware
	case st.sess.inner == nil:
		return sessionsMissing(v)
	}
	return ErrMisconfigured // the session store gave gin-contrib no session
}

// sessionsMissing says what v, the value in the context where Middleware
// looked for the session of sessions.Sessions (sessions.DefaultKey), is
// instead: SessionsMany's map of sessions, or nothing.
func sessionsMissing(v any) error {
	if _, many := v.(map[string]sessions.Session); many {
		return ErrSessionsMany
	}
	return ErrNoSessionsMiddleware
}

// warnNoSessions logs, once per Guard at the first request that shows it,
// that Middleware found no session of sessions.Sessions, naming the
// mistake: SessionsMany (with its names), or no sessions middleware before
// Middleware.
func (g *Guard) warnNoSessions(v any) {
	g.sessionsCheck.Do(func() {
		err := sessionsMissing(v)
		msg := "ginsecure: Middleware found no gin-contrib session: put sessions.Sessions(name, store) before it, r.Use(sessions.Sessions(\"app\", store), sec.Middleware())"
		if errors.Is(err, ErrSessionsMany) {
			msg = "ginsecure: sessions.SessionsMany is not supported (registered with " + manyNames(v) + "): ginsecure guards the one session of sessions.Sessions(name, store); register sessions.Sessions with the name that holds the user's session, before Middleware"
		}
		g.log.Error(msg + "; until then Login and Renew return " + ErrorCode(err) + " (500) and no one can sign in")
	})
}

// manyNames lists the session names SessionsMany was registered with (v:
// its map of sessions).
func manyNames(v any) string {
	m, _ := v.(map[string]sessions.Session)
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, strconv.Quote(truncate(name, 64)))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// warnNoMiddleware logs, once per Guard, that Require ran on a request
// Middleware had not seen.
func (g *Guard) warnNoMiddleware() {
	g.requireCheck.Do(func() {
		g.log.Error("ginsecure: Require ran on a request Middleware had not seen: register r.Use(sessions.Sessions(name, store), sec.Middleware()) before the routes (gin's Use applies only to routes registered after it); every such request is refused with " + ErrorCode(ErrNoMiddleware) + " (500)")
	})
}
