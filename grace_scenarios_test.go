package ginsecure_test

// The grace contract's hard cases as one table (DESIGN.md, "Grace period",
// "Writes", "Endings", "Cookie writes"): lost, slow and stale requests. None
// of them may sign a user out, lock a browser out, or lose a write
// silently; a stolen copy used after the victim moved on is still a replay.
// Each row runs on every store: its steps, the statuses and cookies each
// step must see, and the security events the whole run must (not) emit.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// scen is one scenario's run on one store.
type scen struct {
	t *testing.T
	e *env
}

// want checks a step's status and user ("*" for any user).
func (s *scen) want(step string, r reply, status int, user string) bool {
	s.t.Helper()
	if r.status != status || (user != "*" && r.user() != user) {
		s.t.Errorf("%s: got %d %v, want %d user %q", step, r.status, r.body, status, user)
		return false
	}
	return true
}

// wantErr checks a step's status and error code.
func (s *scen) wantErr(step string, r reply, status int, code string) {
	s.t.Helper()
	if r.status != status || r.errCode() != code {
		s.t.Errorf("%s: got %d %v, want %d {\"error\": %q}", step, r.status, r.body, status, code)
	}
}

// wantNoCookies: the step's response sets neither of our cookies (no value,
// no expiry): it cannot undo what a newer response set.
func (s *scen) wantNoCookies(step string, r reply) {
	s.t.Helper()
	if got := graceCookies(r.cookies); got != "" {
		s.t.Errorf("%s: response sets %q; want no Set-Cookie of %s or %s", step, got, graceSessionCookie, graceTokenCookie)
	}
}

// wantNoExpiry: the step's response expires neither of our cookies.
func (s *scen) wantNoExpiry(step string, r reply) {
	s.t.Helper()
	if got := graceCookies(r.cookies); strings.Contains(got, "-") {
		s.t.Errorf("%s: response sets %q; want no expiring Set-Cookie (it could land after a newer login's)", step, got)
	}
}

// after is a browser that held old and then applied the replies' Set-Cookie
// in the order given.
func (s *scen) after(old []*http.Cookie, rs ...reply) *browser {
	b := s.e.browser()
	u, _ := url.Parse(s.e.srv.URL)
	for _, c := range old {
		b.jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/", Secure: true}})
	}
	for _, r := range rs {
		b.apply(r)
	}
	return b
}

func setsToken(r reply) bool { return strings.Contains(graceCookies(r.cookies), "token+") }

func pastRotation(e *env) { e.clock.Advance(graceRotateEvery + time.Second) }
func pastWindow(e *env)   { e.clock.Advance(graceWindow + time.Second) }

// eventWant bounds how often the run emits kind (max < 0: no bound).
type eventWant struct {
	kind     ginsecure.EventKind
	min, max int
}

type graceScenario struct {
	name   string
	run    func(s *scen)
	events []eventWant
}

var graceScenarios = []graceScenario{
	{
		// A periodic rotation changes only the token, so a write
		// sent with the pre-rotation cookies is kept, whichever response
		// the browser applies last.
		name: "write across a periodic rotation kept",
		run: func(s *scen) {
			b := s.e.browser()
			b.login("alice")
			pastRotation(s.e)
			old := b.cookies()
			rot := s.e.send("GET", "/me", joinCookies(old))
			s.want("GET /me past RotateEvery", rot, http.StatusOK, "alice")
			if !setsToken(rot) {
				s.t.Errorf("GET /me past RotateEvery did not rotate the token: %q", graceCookies(rot.cookies))
			}
			wr := s.e.send("POST", "/cart?item=book", joinCookies(old))
			s.want("POST /cart?item=book with the pre-rotation cookies", wr, http.StatusOK, "alice")
			orders := map[string][]reply{"rotation first": {rot, wr}, "write first": {wr, rot}}
			jars := map[string]*browser{}
			for name, o := range orders {
				j := s.after(old, o...)
				jars[name] = j
				if r := j.get("/cart"); s.want("GET /cart, "+name, r, http.StatusOK, "alice") && r.body["cart"] != "book" {
					s.t.Errorf("GET /cart, %s: cart %v; want \"book\" (the write was dropped)", name, r.body["cart"])
				}
			}
			pastWindow(s.e)
			for name, j := range jars {
				s.want("GET /me past the window, "+name, j.get("/me"), http.StatusOK, "alice")
			}
		},
		events: []eventWant{{ginsecure.EventRotate, 1, -1}, {ginsecure.EventReplay, 0, 0}},
	},
	{
		// A pre-login request writing the session the login
		// retired cannot be kept; Save says so and the handler sees it.
		name: "pre-login write refused",
		run: func(s *scen) {
			b := s.e.browser()
			s.want("POST /cart?item=pre (anonymous)", b.post("/cart?item=pre"), http.StatusOK, "")
			old := b.header()
			b.login("alice")
			r := s.e.send("POST", "/cart?item=evil", old)
			s.wantErr("POST /cart?item=evil with the pre-login cookies", r, http.StatusConflict, "stale_credentials")
			s.wantNoCookies("POST /cart?item=evil with the pre-login cookies", r)
			if c := b.get("/cart"); s.want("GET /cart signed in", c, http.StatusOK, "alice") && c.body["cart"] != "pre" {
				s.t.Errorf("GET /cart signed in: cart %v; want \"pre\" (carried over, untouched by the stale write)", c.body["cart"])
			}
		},
		events: []eventWant{{ginsecure.EventReplay, 0, 0}},
	},
	{
		// Logout has no grace. Sent with the cookies from just
		// before a rotation (inside the window) it ends the session: the
		// newest cookies and any copy of them are dead.
		name: "Logout with pre-rotation cookies within the window signs out",
		run: func(s *scen) {
			b := s.e.browser()
			b.login("alice")
			pastRotation(s.e)
			old := b.header()
			if r := b.get("/me"); s.want("GET /me past RotateEvery", r, http.StatusOK, "alice") && !setsToken(r) {
				s.t.Errorf("GET /me past RotateEvery did not rotate the token")
			}
			cp := s.e.browser()
			b.copyTo(cp)
			s.want("POST /logout with the pre-rotation cookies", s.e.send("POST", "/logout", old), http.StatusOK, "")
			s.want("GET /me with the newest cookies after Logout", b.get("/me"), http.StatusUnauthorized, "")
			s.want("GET /me with a copy of the newest cookies after Logout", cp.get("/me"), http.StatusUnauthorized, "")
			s.want("GET /me with the pre-rotation cookies after Logout", s.e.send("GET", "/me", old), http.StatusUnauthorized, "")
		},
		events: []eventWant{{ginsecure.EventLogout, 1, -1}},
	},
	{
		// A sibling subdomain (or a longer Path) can put another
		// session cookie in front of the real one. Logout ends the session
		// the token names, whatever session cookie came first.
		name: "Logout with a tossed session cookie in front ends the token's session",
		run: func(s *scen) {
			other := s.e.browser()
			s.want("another browser's POST /cart (anonymous)", other.post("/cart?item=x"), http.StatusOK, "")
			tossed := other.cookie(graceSessionCookie)
			b := s.e.browser()
			b.login("alice")
			real := b.header()
			hdr := graceSessionCookie + "=" + tossed + "; " + graceSessionCookie + "=" + b.cookie(graceSessionCookie) + "; " + graceTokenCookie + "=" + b.cookie(graceTokenCookie)
			s.want("POST /logout with a tossed session cookie in front", s.e.send("POST", "/logout", hdr), http.StatusOK, "")
			s.want("GET /me with the real cookies after Logout", s.e.send("GET", "/me", real), http.StatusUnauthorized, "")
		},
		events: []eventWant{{ginsecure.EventLogout, 1, -1}},
	},
	{
		// A re-login whose response never arrived (a cancelled
		// navigation) leaves the browser with the replaced session's
		// credentials: dead, so anonymous, never a 401 on a public page and
		// never a lock-out of the sign-in route.
		name: "lost re-login: public page 200, sign-in works",
		run: func(s *scen) {
			b := s.e.browser()
			b.login("alice")
			old := b.cookies()
			s.want("POST /login (response lost)", s.e.send("POST", "/login?user=alice", joinCookies(old)), http.StatusOK, "alice")
			s.e.clock.Advance(3 * time.Second)
			pub := s.e.send("GET", "/public", joinCookies(old))
			s.want("GET /public with the replaced session's cookies", pub, http.StatusOK, "")
			s.wantNoExpiry("GET /public with the replaced session's cookies", pub)
			lg := s.e.send("POST", "/login?user=alice", joinCookies(old))
			s.want("POST /login with the replaced session's cookies", lg, http.StatusOK, "alice")
			s.want("GET /me after signing in again", s.after(old, lg).get("/me"), http.StatusOK, "alice")
		},
		events: []eventWant{{ginsecure.EventReplay, 0, 0}},
	},
	{
		// A periodic rotation lands on a long poll answered 40 s
		// late. Meanwhile the browser, holding only its old token, keeps
		// working; the late response is honoured when it lands last ...
		name:   "rotating response 40 s late, lands last",
		run:    func(s *scen) { lateRotation(s, "late last") },
		events: []eventWant{{ginsecure.EventReplay, 0, 0}, {ginsecure.EventRevoke, 0, 0}},
	},
	{
		// ... and when it lands before the reissued one.
		name:   "rotating response 40 s late, lands first",
		run:    func(s *scen) { lateRotation(s, "late first") },
		events: []eventWant{{ginsecure.EventReplay, 0, 0}, {ginsecure.EventRevoke, 0, 0}},
	},
	{
		// The harder order: the browser uses what it was reissued at
		// +31 s, then the long poll delivers the first pending token.
		name:   "rotating response 40 s late, after the browser used a reissued token",
		run:    func(s *scen) { lateRotation(s, "used reissue") },
		events: []eventWant{{ginsecure.EventReplay, 0, 0}, {ginsecure.EventRevoke, 0, 0}},
	},
	{
		// Replay detection stays. The victim rotated and
		// presented the new token; a thief's copy of the old one past the
		// window is a replay: 401 on protected routes and the session is
		// revoked (two parties hold it); public routes stay anonymous.
		name: "stolen copy after the victim moved on: 401 and revoked",
		run: func(s *scen) {
			b := s.e.browser()
			b.login("alice")
			stolen := b.header()
			pastRotation(s.e)
			if r := b.get("/me"); s.want("victim GET /me past RotateEvery", r, http.StatusOK, "alice") && !setsToken(r) {
				s.t.Errorf("victim GET /me past RotateEvery did not rotate the token")
			}
			s.want("victim GET /me with the new token", b.get("/me"), http.StatusOK, "alice")
			s.e.clock.Advance(3 * time.Second)
			s.wantErr("thief GET /me with the old token past the window", s.e.send("GET", "/me", stolen), http.StatusUnauthorized, "replay")
			s.want("victim GET /me after the replay", b.get("/me"), http.StatusUnauthorized, "")
			s.want("thief GET /public", s.e.send("GET", "/public", stolen), http.StatusOK, "")
		},
		events: []eventWant{{ginsecure.EventReplay, 1, -1}},
	},
}

// lateRotation: signed in; past RotateEvery a GET /me rotates but its
// response is held back; 31 s later the browser, still holding the old
// token, asks again (and may be sent a token again); 9 s later the held
// response lands, in the order given. The browser stays signed in, and
// past the window too: nothing is a replay, nothing revoked.
func lateRotation(s *scen, order string) {
	b := s.e.browser()
	b.login("alice")
	pastRotation(s.e)
	old := b.cookies()
	held := s.e.send("GET", "/me", joinCookies(old))
	s.want("GET /me past RotateEvery (response held back)", held, http.StatusOK, "alice")
	if !setsToken(held) {
		s.t.Errorf("GET /me past RotateEvery did not rotate the token")
	}
	s.e.clock.Advance(31 * time.Second)
	again := s.e.send("GET", "/me", joinCookies(old))
	s.want("GET /me with the old token 31 s later", again, http.StatusOK, "alice")
	var j *browser
	switch order {
	case "late last":
		s.e.clock.Advance(9 * time.Second)
		j = s.after(old, again, held)
	case "late first":
		s.e.clock.Advance(9 * time.Second)
		j = s.after(old, held, again)
	case "used reissue":
		j = s.after(old, again)
		s.want("GET /me with what the browser holds at +31 s", j.get("/me"), http.StatusOK, "alice")
		s.e.clock.Advance(9 * time.Second)
		j.apply(held)
	}
	s.want("GET /me once the late response landed", j.get("/me"), http.StatusOK, "alice")
	pastWindow(s.e)
	s.want("GET /me past the window", j.get("/me"), http.StatusOK, "alice")
	s.want("GET /me past the window, again", j.get("/me"), http.StatusOK, "alice")
}

// TestGraceScenarios runs the table on every store.
func TestGraceScenarios(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, sc := range graceScenarios {
			t.Run(sc.name, func(t *testing.T) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				sc.run(&scen{t: t, e: e})
				for _, w := range sc.events {
					n := e.events.count(w.kind)
					if n < w.min || (w.max >= 0 && n > w.max) {
						t.Errorf("%d %s events; want %d..%d", n, w.kind, w.min, w.max)
					}
				}
			})
		}
	})
}
