package ginsecure_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	gsessions "github.com/gorilla/sessions"
)

// The grace contract (DESIGN.md, "Grace period"), end to end on every
// store: a request that presents the credentials from before a rotation is
// served inside the window with at most its old privilege, never puts back
// older credentials, and has its session writes kept where the session is
// unchanged (periodic rotation, or healed after Renew) and refused with
// ErrStaleCredentials where a login retired it; after the window the old
// token of a live session is a replay.

const (
	graceTokenCookie   = ginsecure.DefaultCookieName
	graceSessionCookie = "app"

	graceRotateEvery = 15 * time.Minute
	graceWindow      = 2 * time.Second
)

func graceConfig(grace time.Duration) ginsecure.Config {
	return ginsecure.Config{RotateEvery: graceRotateEvery, GracePeriod: grace}
}

// graceRoutes adds /raw-save, a handler that saves the gorilla session
// itself (store.Save with the response writer), past sessions.Default's
// Save: only the response writer can then keep a stale request's session
// cookie out of the headers. With ?body=1 it writes a body, else nothing,
// and Gin flushes the headers after the middleware returned.
func graceRoutes(r *gin.Engine, _ *ginsecure.Guard) {
	r.GET("/raw-save", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("raw", "late")
		gs := s.(interface{ Session() *gsessions.Session }).Session()
		if err := gs.Save(c.Request, c.Writer); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		if c.Query("body") == "" {
			c.Status(http.StatusNoContent)
			return
		}
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
}

// graceCookies summarises which of our two cookies a response sets: "app+"
// for a value, "app-" for an expiry, in a fixed order; "" for none.
func graceCookies(cs []*http.Cookie) string {
	var out []string
	for _, name := range []string{graceSessionCookie, graceTokenCookie} {
		for _, c := range cs {
			if c.Name != name {
				continue
			}
			s := "app"
			if name == graceTokenCookie {
				s = "token"
			}
			if c.MaxAge < 0 || c.Value == "" {
				out = append(out, s+"-")
			} else {
				out = append(out, s+"+")
			}
		}
	}
	return strings.Join(out, " ")
}

// rotation brings browser b through one kind of credential rotation and
// returns old, a browser holding b's cookies from just before it: the
// requests b had in flight when the rotation happened.
type graceRotation func(t *testing.T, e *env, b *browser) (old *browser)

func graceRotatePeriodic(t *testing.T, e *env, b *browser) *browser {
	b.login("alice")
	e.clock.Advance(graceRotateEvery + time.Minute)
	old := e.browser()
	b.copyTo(old)
	r := b.get("/me")
	if r.status != http.StatusOK || r.user() != "alice" || graceCookies(r.cookies) != "token+" {
		t.Fatalf("periodic rotation: %d %v cookies %q, want 200 alice with a new token", r.status, r.body, graceCookies(r.cookies))
	}
	// The browser's next request shows it has the new token: the window
	// of the old one runs from here (see TestUnconfirmedRotation).
	if r := b.get("/public"); r.user() != "alice" {
		t.Fatalf("new token: %v", r.body)
	}
	return old
}

// graceRotateLogin signs in an anonymous visitor who has a cart.
func graceRotateLogin(t *testing.T, e *env, b *browser) *browser {
	if r := b.post("/cart?item=apple"); r.status != http.StatusOK {
		t.Fatalf("cart: %d %v", r.status, r.body)
	}
	old := e.browser()
	b.copyTo(old)
	b.login("alice")
	return old
}

// graceRotateRelogin signs a signed-in browser in again as another user.
// noCart as a scenario's thenCart: the browser's session has no cart.
const noCart = "(none)"

func graceRotateRelogin(t *testing.T, e *env, b *browser) *browser {
	b.login("alice")
	if r := b.post("/cart?item=apple"); r.status != http.StatusOK {
		t.Fatalf("cart: %d %v", r.status, r.body)
	}
	old := e.browser()
	b.copyTo(old)
	b.login("bob")
	return old
}

// graceRotateRenew steps up a session whose login is too old for /admin.
func graceRotateRenew(t *testing.T, e *env, b *browser) *browser {
	b.login("alice")
	e.clock.Advance(11 * time.Minute)
	if r := b.get("/admin"); r.status != http.StatusForbidden {
		t.Fatalf("/admin before renew: %d %v, want 403", r.status, r.body)
	}
	old := e.browser()
	b.copyTo(old)
	if r := b.post("/renew"); r.status != http.StatusOK {
		t.Fatalf("renew: %d %v", r.status, r.body)
	}
	if r := b.get("/admin"); r.status != http.StatusOK {
		t.Fatalf("/admin after renew: %d %v", r.status, r.body)
	}
	return old
}

func graceRotateLogout(t *testing.T, e *env, b *browser) *browser {
	b.login("alice")
	old := e.browser()
	b.copyTo(old)
	if r := b.post("/logout"); r.status != http.StatusOK {
		t.Fatalf("logout: %d %v", r.status, r.body)
	}
	return old
}

// graceWatchedEvents must not happen unless a scenario expects them.
var graceWatchedEvents = []ginsecure.EventKind{
	ginsecure.EventGraceServed, ginsecure.EventReplay, ginsecure.EventTokenMismatch,
	ginsecure.EventRevoke, ginsecure.EventLogout, ginsecure.EventLogin, ginsecure.EventRotate,
}

// TestGracePeriodScenarios is the grace contract as one table: a straggler
// (old) sent with the cookies from before a rotation, what it gets, what
// its response sets, which events it causes, and whether the browser's own
// new credentials still work afterwards.
func TestGracePeriodScenarios(t *testing.T) {
	const inside, after = graceWindow / 2, graceWindow + time.Second
	type scenario struct {
		name   string
		grace  time.Duration // Config.GracePeriod; 0 means graceWindow
		rotate graceRotation
		wait   time.Duration // clock moved between the rotation and the straggler
		method string
		path   string

		status  int
		user    string
		code    string                // the refusal's error code, or the anonymous request's reason
		cookies string                // graceCookies of the straggler's response; "*" skips
		events  []ginsecure.EventKind // graceWatchedEvents the straggler causes

		// The browser that rotated, right after the straggler.
		thenStatus int // of GET /me
		thenUser   string
		thenCode   string
		thenCart   string // "" skips the check: the cart it sees
		thenN      int    // 0 skips the check: the counter its POST /me/write returns
	}
	grace := []ginsecure.EventKind{ginsecure.EventGraceServed}
	replay := []ginsecure.EventKind{ginsecure.EventReplay}
	cases := []scenario{
		// Periodic rotation: the same user inside the window; the session is
		// unchanged, so its writes are kept (DESIGN.md, "Writes").
		{name: "periodic/inside/read is served as the same user", rotate: graceRotatePeriodic, wait: inside, method: "GET", path: "/me",
			status: 200, user: "alice", events: grace, thenStatus: 200, thenUser: "alice"},
		{name: "periodic/inside/session write is kept", rotate: graceRotatePeriodic, wait: inside, method: "POST", path: "/me/write",
			status: 200, user: "alice", cookies: "app+", events: grace, thenStatus: 200, thenUser: "alice"},
		{name: "periodic/inside/no body and a session write is kept", rotate: graceRotatePeriodic, wait: inside, method: "GET", path: "/silent?write=x",
			status: 204, cookies: "app+", events: grace, thenStatus: 200, thenUser: "alice"},
		{name: "periodic/inside/raw session save is kept", rotate: graceRotatePeriodic, wait: inside, method: "GET", path: "/raw-save?body=1",
			status: 200, user: "alice", cookies: "app+", events: grace, thenStatus: 200, thenUser: "alice"},
		{name: "periodic/inside/logout with the old token signs out", rotate: graceRotatePeriodic, wait: inside, method: "POST", path: "/logout",
			status: 200, cookies: "app- token-", events: []ginsecure.EventKind{ginsecure.EventGraceServed, ginsecure.EventLogout}, thenStatus: 401},
		{name: "periodic/after/replay is refused and revokes the session", rotate: graceRotatePeriodic, wait: after, method: "GET", path: "/me",
			status: 401, code: "replay", events: replay, thenStatus: 401, thenCode: "replay"},
		{name: "periodic/after/replay is anonymous on a public route and revokes", rotate: graceRotatePeriodic, wait: after, method: "GET", path: "/public",
			status: 200, code: "replay", events: replay, thenStatus: 401, thenCode: "replay"},

		// Login of an anonymous visitor: the old session is anonymous and
		// its writes are refused (ErrStaleCredentials), so the cart and the
		// login survive.
		{name: "login/inside/old session is anonymous, never the new user", rotate: graceRotateLogin, wait: inside, method: "GET", path: "/me",
			status: 401, code: "no_session", thenStatus: 200, thenUser: "alice", thenCart: "apple"},
		{name: "login/inside/cart write is refused and sets no cookie", rotate: graceRotateLogin, wait: inside, method: "POST", path: "/cart?item=evil",
			status: 409, code: "stale_credentials", events: grace, thenStatus: 200, thenUser: "alice", thenCart: "apple"},
		{name: "login/inside/no body and a session write sets no cookie", rotate: graceRotateLogin, wait: inside, method: "GET", path: "/silent?write=x",
			status: 204, events: grace, thenStatus: 200, thenUser: "alice", thenCart: "apple"},
		// A raw gorilla save bypasses sessions.Default: it may put the old
		// session back, which the browser's token then heals.
		{name: "login/inside/raw session save cannot undo the login", rotate: graceRotateLogin, wait: inside, method: "GET", path: "/raw-save",
			status: 204, cookies: "*", thenStatus: 200, thenUser: "alice", thenCart: "apple"},
		{name: "login/after/old anonymous session still cannot write", rotate: graceRotateLogin, wait: after, method: "POST", path: "/cart?item=evil",
			status: 409, code: "stale_credentials", events: grace, thenStatus: 200, thenUser: "alice", thenCart: "apple"},

		// Login over a signed-in session: the old token names a record that
		// is gone: anonymous (never alice, never bob), nothing written back,
		// inside the window and after it (DESIGN.md, "Outcomes": a replaced
		// record's other credentials). bob's session starts empty: alice's
		// cart never crosses to him (DESIGN.md, "Carry-over").
		{name: "relogin/inside/old token is anonymous, never either user", rotate: graceRotateRelogin, wait: inside, method: "GET", path: "/public",
			status: 200, code: "expired", thenStatus: 200, thenUser: "bob", thenCart: noCart},
		{name: "relogin/inside/old token cannot reach a protected route", rotate: graceRotateRelogin, wait: inside, method: "POST", path: "/me/write",
			status: 401, code: "expired", thenStatus: 200, thenUser: "bob", thenN: 1},
		{name: "relogin/inside/cart write is refused and sets no cookie", rotate: graceRotateRelogin, wait: inside, method: "POST", path: "/cart?item=evil",
			status: 409, code: "stale_credentials", events: grace, thenStatus: 200, thenUser: "bob", thenCart: noCart},
		{name: "relogin/after/old token is anonymous, never a 401 on a public route", rotate: graceRotateRelogin, wait: after, method: "GET", path: "/public",
			status: 200, code: "expired", thenStatus: 200, thenUser: "bob", thenCart: noCart},

		// Renew raises privilege: a straggler keeps the old one; its old
		// session cookie is healed to the session Renew moved to (on
		// memstore and Redis its cookie is sent again; on the cookie store
		// only a save sends the adopted session, which may be older than
		// the browser's).
		{name: "renew/inside/straggler does not get the step-up", rotate: graceRotateRenew, wait: inside, method: "GET", path: "/admin",
			status: 403, code: "reauth_required", cookies: "*", events: grace, thenStatus: 200, thenUser: "alice"},
		{name: "renew/inside/straggler is served as the same user, its write kept", rotate: graceRotateRenew, wait: inside, method: "POST", path: "/me/write",
			status: 200, user: "alice", cookies: "*", events: grace, thenStatus: 200, thenUser: "alice"},
		{name: "renew/after/replay is refused and revokes the session", rotate: graceRotateRenew, wait: after, method: "GET", path: "/me",
			status: 401, code: "replay", events: replay, thenStatus: 401, thenCode: "replay"},

		// No window: old credentials are refused at once.
		{name: "grace off/periodic/old token is a replay at once", grace: -1, rotate: graceRotatePeriodic, method: "GET", path: "/me",
			status: 401, code: "replay", events: replay, thenStatus: 401, thenCode: "replay"},
		{name: "grace off/relogin/old token is anonymous", grace: -1, rotate: graceRotateRelogin, method: "GET", path: "/public",
			status: 200, code: "expired", thenStatus: 200, thenUser: "bob"},

		// Logout has no grace: the copy is dead at once.
		{name: "logout/at once/copied cookies are refused", rotate: graceRotateLogout, method: "GET", path: "/me",
			status: 401, cookies: "*", thenStatus: 401},
		{name: "logout/at once/copied cookies are anonymous", rotate: graceRotateLogout, method: "GET", path: "/public",
			status: 200, cookies: "*", thenStatus: 401},
	}
	forEachStore(t, func(t *testing.T, kind string) {
		opts := []envOption{withRoutes(graceRoutes)}
		if isRedis(kind) {
			opts = append(opts, withRedis(redistest.Start(t)))
		}
		for _, sc := range cases {
			t.Run(sc.name, func(t *testing.T) {
				g := sc.grace
				if g == 0 {
					g = graceWindow
				}
				e := newEnv(t, kind, graceConfig(g), opts...)
				b := e.browser()
				old := sc.rotate(t, e, b)
				e.clock.Advance(sc.wait)
				e.events.reset()

				r := old.do(sc.method, sc.path)
				code := r.errCode()
				if code == "" {
					code, _ = r.body["reason"].(string)
				}
				if r.status != sc.status || r.user() != sc.user || (sc.code != "" && code != sc.code) {
					t.Errorf("straggler %s %s: %d user %q code %q (%v); want %d user %q code %q",
						sc.method, sc.path, r.status, r.user(), code, r.body, sc.status, sc.user, sc.code)
				}
				if got := graceCookies(r.cookies); sc.cookies != "*" && got != sc.cookies {
					t.Errorf("straggler's response sets %q; want %q", got, sc.cookies)
				}
				for _, k := range graceWatchedEvents {
					if n := e.events.count(k); (n > 0) != slices.Contains(sc.events, k) {
						t.Errorf("event %s happened %d times; want it: %v", k, n, slices.Contains(sc.events, k))
					}
				}

				me := b.get("/me")
				if me.status != sc.thenStatus || me.user() != sc.thenUser || (sc.thenCode != "" && me.errCode() != sc.thenCode) {
					t.Errorf("browser's own /me afterwards: %d %v; want %d user %q code %q", me.status, me.body, sc.thenStatus, sc.thenUser, sc.thenCode)
				}
				if sc.thenCart != "" {
					want := any(sc.thenCart)
					if sc.thenCart == noCart {
						want = nil
					}
					if c := b.get("/cart"); c.body["cart"] != want {
						t.Errorf("browser's cart afterwards: %v; want %q", c.body, sc.thenCart)
					}
				}
				if sc.thenN != 0 {
					if w := b.post("/me/write"); w.status != 200 || w.body["n"] != float64(sc.thenN) {
						t.Errorf("browser's session write afterwards: %d %v; want n=%d", w.status, w.body, sc.thenN)
					}
				}
			})
		}
	})
}
