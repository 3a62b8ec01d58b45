package ginsecure_test

// A sign-in from a browser with no cookies, double-submitted, and the
// session limit: a login's record counts toward MaxSessionsPerUser from
// its first presentation (the first request that presents its token), and
// ends UnpresentedAge after the login if no request ever does.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// submitBare sends POST path from b's address and user agent with no
// Cookie header, and keeps the response's cookies out of b's jar (the test
// applies them, in the order it chooses). Safe from other goroutines.
func (b *browser) submitBare(path string) (reply, error) {
	c := &http.Client{Transport: b.client.Transport, CheckRedirect: b.client.CheckRedirect}
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, nil)
	if err != nil {
		return reply{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	out := reply{status: resp.StatusCode, cookies: resp.Cookies(), header: resp.Header, body: map[string]any{}}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &out.body)
	}
	return out, nil
}

// listed returns the user agents of the user's listed sessions.
func listed(t *testing.T, e *env, user string) []string {
	t.Helper()
	var out []string
	for _, s := range e.sessions(t, user) {
		out = append(out, s.UserAgent)
	}
	return out
}

// TestCookielessDoubleSubmitEvictsNoOtherDevice: with MaxSessionsPerUser 2
// alice is signed in on her phone; her laptop, with no cookies at all,
// submits the sign-in form twice (a double click). The two submits look
// like two browsers and are never joined: two records. Whichever response
// the laptop applies last, the laptop is signed in, the phone stays signed
// in, and the record of the response the laptop dropped never counts
// toward the limit and ends UnpresentedAge after its login. The same with
// RejectExtraLogins: neither submit is refused.
func TestCookielessDoubleSubmitEvictsNoOtherDevice(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, reject := range []bool{false, true} {
			for _, order := range []string{"12", "21"} {
				e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2, RejectExtraLogins: reject})
				phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
				phone.login("alice")
				e.clock.Advance(time.Minute)

				var submits [2]reply
				var wg sync.WaitGroup
				for i := range submits {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var err error
						if submits[i], err = laptop.submitBare("/login?user=alice"); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				for i, r := range submits {
					if r.status != http.StatusOK || r.user() != "alice" {
						t.Fatalf("reject=%v: submit %d: %d %v", reject, i+1, r.status, r.body)
					}
				}
				for _, c := range order {
					laptop.apply(submits[c-'1'])
				}
				if r := laptop.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
					t.Errorf("reject=%v, responses applied in order %s: laptop /me %d %v; want alice", reject, order, r.status, r.body)
				}
				if r := phone.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
					t.Errorf("reject=%v, order %s: the laptop's double submit signed the phone out: /me %d %v", reject, order, r.status, r.body)
				}
				if n := e.events.count(ginsecure.EventLimit); n != 0 {
					t.Errorf("reject=%v, order %s: %d limit events, want none", reject, order, n)
				}
				if got := listed(t, e, "alice"); len(got) != 2 {
					t.Errorf("reject=%v, order %s: listed %v, want the phone and the laptop", reject, order, got)
				}
				// The dropped response's record ends; both devices stay.
				e.clock.Advance(ginsecure.UnpresentedAge)
				if list, err := e.store.List(context.Background(), "alice"); err != nil || len(list) != 2 {
					t.Errorf("reject=%v, order %s: %d records live (%v) after UnpresentedAge, want 2", reject, order, len(list), err)
				}
				expectSignedIn(t, laptop, "alice")
				expectSignedIn(t, phone, "alice")
			}
		}
	})
}

// TestUnpresentedSignInEndsAfterItsAge: a login whose browser makes no
// request with it ends UnpresentedAge after the login: the store forgets
// it (it holds no slot, nobody can use it), and a request that presents
// it after that is anonymous (expired) and ends it as a timeout does. One
// presented in time is an ordinary session.
func TestUnpresentedSignInEndsAfterItsAge(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		late, prompt := e.device("127.0.0.1", "late"), e.device("127.0.0.1", "prompt")
		late.signIn("alice")
		prompt.signIn("alice")
		e.clock.Advance(ginsecure.UnpresentedAge - time.Second)
		expectSignedIn(t, prompt, "alice")
		e.clock.Advance(time.Second)

		list, err := e.store.List(context.Background(), "alice")
		if err != nil || len(list) != 1 || list[0].UserAgent != "prompt" {
			t.Errorf("the store still holds %d records (%v) UnpresentedAge after the logins, want only the presented one", len(list), err)
		}
		e.events.reset()
		if r := late.get("/public"); r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "expired" {
			t.Errorf("first request UnpresentedAge after the login: %d %v, want anonymous, expired", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventTimeout); n != 1 {
			t.Errorf("%d timeout events for the ended sign-in, want 1", n)
		}
		if r := late.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("/me after the sign-in ended: %d %v", r.status, r.body)
		}
		expectSignedIn(t, prompt, "alice")
	})
}

// TestUnpresentedSignInIsRevokedWithTheUser: a login no request presented
// yet is not listed (it may be a double submit's dropped response), but
// RevokeUser ends it all the same: its token never works afterwards.
func TestUnpresentedSignInIsRevokedWithTheUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
		phone.login("alice")
		laptop.signIn("alice")
		if got := listed(t, e, "alice"); len(got) != 1 || got[0] != "phone" {
			t.Errorf("listed %v before the laptop's first request, want the phone only", got)
		}
		if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 2 {
			t.Errorf("RevokeUser = %d, %v; want 2 (the unpresented sign-in too)", n, err)
		}
		expectRefused(t, laptop, "revoked")
		expectRefused(t, phone, "revoked")
	})
}

// TestFirstRequestEnforcesTheSessionLimit: the limit holds among presented
// sessions, decided at a login's first request. Over it, that request
// signs out the least recently used other session; with
// RejectExtraLogins the request is refused (403 too_many_sessions,
// anonymous on public routes) and its sign-in ended, the other sessions
// untouched. A login over the limit among presented sessions is refused
// at once, as before.
func TestFirstRequestEnforcesTheSessionLimit(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("evict", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
			phone, tablet, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "tablet"), e.device("127.0.0.3", "laptop")
			phone.login("alice")
			e.clock.Advance(time.Minute)
			tablet.login("alice")
			e.clock.Advance(5 * time.Minute)
			expectSignedIn(t, phone, "alice") // the phone is used, the tablet not
			e.clock.Advance(time.Minute)
			e.events.reset()

			laptop.signIn("alice")
			if got := listed(t, e, "alice"); len(got) != 2 || e.events.count(ginsecure.EventLimit) != 0 {
				t.Errorf("after the laptop's login: listed %v, %d limit events; want phone and tablet, none",
					got, e.events.count(ginsecure.EventLimit))
			}
			expectSignedIn(t, laptop, "alice") // its first request
			if n := e.events.count(ginsecure.EventLimit); n != 1 {
				t.Errorf("%d limit events at the laptop's first request, want 1", n)
			}
			expectRefused(t, tablet, "evicted")
			expectSignedIn(t, phone, "alice")
			expectSignedIn(t, laptop, "alice")
			if got := listed(t, e, "alice"); len(got) != 2 {
				t.Errorf("listed %v, want 2", got)
			}
		})
		t.Run("reject", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2, RejectExtraLogins: true})
			phone, tablet, laptop, fourth := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "tablet"),
				e.device("127.0.0.3", "laptop"), e.device("127.0.0.4", "fourth")
			phone.login("alice")
			tablet.signIn("alice") // one presented session: both logins pass
			laptop.signIn("alice")
			expectSignedIn(t, tablet, "alice")
			e.events.reset()

			if r := laptop.get("/me"); r.status != http.StatusForbidden || r.errCode() != "too_many_sessions" {
				t.Errorf("the laptop's first request over the limit: %d %v, want 403 too_many_sessions", r.status, r.body)
			}
			if n := e.events.count(ginsecure.EventLimit); n != 1 {
				t.Errorf("%d limit events, want 1", n)
			}
			if r := laptop.get("/public"); r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "too_many_sessions" {
				t.Errorf("the refused laptop on a public route: %d %v, want anonymous, too_many_sessions", r.status, r.body)
			}
			if r := fourth.post("/login?user=alice"); r.status != http.StatusForbidden || r.errCode() != "too_many_sessions" {
				t.Errorf("a login with two presented sessions: %d %v, want 403 too_many_sessions", r.status, r.body)
			}
			expectSignedIn(t, phone, "alice")
			expectSignedIn(t, tablet, "alice")
			// Its sign-in ended: a slot freeing later does not revive it.
			if r := tablet.post("/logout"); r.status != http.StatusOK {
				t.Fatalf("tablet logout: %d %v", r.status, r.body)
			}
			if r := laptop.get("/me"); r.status == http.StatusOK {
				t.Errorf("the refused sign-in works once a slot is free: %v", r.body)
			}
			if got := listed(t, e, "alice"); len(got) != 1 || got[0] != "phone" {
				t.Errorf("listed %v, want the phone", got)
			}
		})
	})
}

// TestRepeatedSignInsWithoutARequestAreBounded: a browser that signs in
// again and again without ever making a request (a script, a stuck
// client) leaves at most MaxUnpresented waiting records of the user: each
// further login ends the oldest waiting one. The user's presented
// sessions are untouched, and the last login works.
func TestRepeatedSignInsWithoutARequestAreBounded(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
		phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
		phone.login("alice")
		var last reply
		for range ginsecure.MaxUnpresented + 3 {
			e.clock.Advance(time.Second)
			var err error
			if last, err = laptop.submitBare("/login?user=alice"); err != nil || last.status != http.StatusOK {
				t.Fatalf("login: %d %v %v", last.status, last.body, err)
			}
		}
		list, err := e.store.List(context.Background(), "alice")
		if err != nil || len(list) != ginsecure.MaxUnpresented+1 {
			t.Errorf("%d records live (%v), want the phone's and %d waiting", len(list), err, ginsecure.MaxUnpresented)
		}
		laptop.apply(last)
		expectSignedIn(t, laptop, "alice")
		expectSignedIn(t, phone, "alice")
	})
}

// TestFirstRequestFailsClosedWhenItsPresentationCannotBeWritten: the first
// request of a session must record its presentation (and the limit with
// it); a store that cannot write it gets 503, never a session served
// beyond the limit, and the browser's next request presents it.
func TestFirstRequestFailsClosedWhenItsPresentationCannotBeWritten(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e, fs := newFailingEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1})
		phone, laptop := e.browser(), e.browser()
		phone.login("alice")
		laptop.signIn("alice")
		fs.arm(0, "Present")
		r := laptop.get("/me")
		fs.disarm()
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("first request while the presentation cannot be written: %d %v, want 503", r.status, r.body)
		}
		expectSignedIn(t, phone, "alice")
		expectSignedIn(t, laptop, "alice")
		expectRefused(t, phone, "evicted")
	})
}

// TestPreparedSignInJoinsADoubleSubmit: a sign-in page that calls
// PrepareSignIn gives a browser with no cookies a session first; its
// double-submitted form then makes one login (the second joins the
// first), signed in whichever response lands last, and a phone signed in
// beside it stays.
func TestPreparedSignInJoinsADoubleSubmit(t *testing.T) {
	page := func(r *gin.Engine, _ *ginsecure.Guard) {
		r.GET("/signin", func(c *gin.Context) {
			if err := ginsecure.PrepareSignIn(c); err != nil {
				c.JSON(saveFailure(err))
				return
			}
			c.Status(http.StatusNoContent)
		})
	}
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"12", "21"} {
			e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(page))
			phone, laptop := e.browser(), e.browser()
			phone.login("alice")
			if r := laptop.get("/signin"); r.status != http.StatusNoContent || laptop.cookie("app") == "" {
				t.Fatalf("sign-in page: %d %v, session cookie %q", r.status, r.body, laptop.cookie("app"))
			}
			pre := laptop.header()
			var submits [2]reply
			for i := range submits {
				if submits[i] = e.send("POST", "/login?user=alice", pre); submits[i].status != http.StatusOK {
					t.Fatalf("submit %d: %d %v", i+1, submits[i].status, submits[i].body)
				}
			}
			if list, err := e.store.List(context.Background(), "alice"); err != nil || len(list) != 2 {
				t.Errorf("order %s: %d records (%v) after a prepared double submit, want the phone's and one", order, len(list), err)
			}
			for _, c := range order {
				laptop.apply(submits[c-'1'])
			}
			expectSignedIn(t, laptop, "alice")
			expectSignedIn(t, phone, "alice")
			// A browser that has a session already is left as it is.
			before := laptop.cookie("app")
			if r := laptop.get("/signin"); r.status != http.StatusNoContent || len(r.cookies) != 0 || laptop.cookie("app") != before {
				t.Errorf("sign-in page with a session: %d, sets %v", r.status, r.cookies)
			}
		}
	})
}

// TestCookielessWriteLandingAfterSignInKeepsBoth: a browser with no cookies
// saves a guest cart and signs in in parallel; the cart's response (a new
// anonymous session's cookie) lands after the login's, whether it was
// answered after the login or before it. At the first presentation of
// the login's token, that session cookie is the browser's own late
// response (the token was never presented, so it came from the login's
// response): the browser is signed in, not hidden as foreign, and the
// cart whose Save succeeded is kept (DESIGN.md, "Ordering principle",
// "Writes").
func TestCookielessWriteLandingAfterSignInKeepsBoth(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, answered := range []string{"after", "before"} {
			e := newEnv(t, kind, ginsecure.Config{})
			b := e.browser()
			release := e.holdAt(t, "/hold?id=cart&write=guest-cart", "cart", "")
			var w reply
			if answered == "before" {
				w = release()
			}
			if r := b.login("alice"); r.status != http.StatusOK {
				t.Fatalf("login: %d %v", r.status, r.body)
			}
			if answered == "after" {
				w = release()
			}
			if w.status != http.StatusOK || !hasCookie(w.cookies, "app") {
				t.Fatalf("the guest cart (answered %s the login): %d %v, Set-Cookie %v", answered, w.status, w.body, w.header["Set-Cookie"])
			}
			b.apply(w) // lands after the login's response
			for i := 0; i < 2; i++ {
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "guest-cart" {
					t.Errorf("a guest cart answered %s a cookieless login, landing after it: /cart %d: %d %v; want alice with the cart", answered, i+1, r.status, r.body)
				}
			}
		}
	})
}

// TestTokenBesideAnotherAnonymousSessionIsForeign: past the login's
// window (presented, and GracePeriod after the login), an anonymous
// session cookie beside the login's token is not a late response of the
// browser but a copy of the token with another session (a thief's own):
// foreign, the copy sees none of the owner's data, and the owner's
// session stays its own.
func TestTokenBesideAnotherAnonymousSessionIsForeign(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
		if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		thief := e.browser()
		if r := thief.post("/cart?item=thief-cart"); r.status != http.StatusOK {
			t.Fatalf("thief's cart: %d %v", r.status, r.body)
		}
		thief.setCookie(graceTokenCookie, b.cookie(graceTokenCookie))
		r := thief.get("/cart")
		if r.user() != "" || r.body["cart"] == "alice-private" || hasCookie(r.cookies, "app") {
			t.Errorf("a copy of the presented token beside another anonymous session: /cart %d %v, Set-Cookie %v; want anonymous, no data, no session cookie", r.status, r.body, r.header["Set-Cookie"])
		}
		if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-private" {
			t.Errorf("the owner after the copy: /cart %d %v", r.status, r.body)
		}
	})
}

// TestCookielessWriteLandingAfterTheWindowIsForeign: the known limit of
// a late anonymous session (DESIGN.md, "Cookieless sign-in"). A browser
// with no cookies saves a guest cart and signs in in parallel; it
// presents the login's token, and the cart's response (a new anonymous
// session's cookie, which nothing links to the login) lands only after
// the login's window. The browser then holds exactly what a thief holds
// who pairs a copy of the token with a session of its own
// (TestTokenBesideAnotherAnonymousSessionIsForeign): anonymous, foreign,
// the cart hidden, and nothing ends; its next sign-in works, the record
// it holds is replaced (one session, not two), and the hidden cart is not
// carried into it. A sign-in page that calls PrepareSignIn gives the
// browser its session before both requests: the login then marks the
// very session the cart is saved in, the cart's Save is refused
// (ErrStaleCredentials, for the application to retry) and its response,
// whenever it lands, leaves the browser signed in.
func TestCookielessWriteLandingAfterTheWindowIsForeign(t *testing.T) {
	page := func(r *gin.Engine, _ *ginsecure.Guard) {
		r.GET("/signin", func(c *gin.Context) {
			if err := ginsecure.PrepareSignIn(c); err != nil {
				c.JSON(saveFailure(err))
				return
			}
			c.Status(http.StatusNoContent)
		})
	}
	forEachStore(t, func(t *testing.T, kind string) {
		for _, prepared := range []bool{false, true} {
			e := newEnv(t, kind, ginsecure.Config{}, withRoutes(page))
			b := e.browser()
			if prepared {
				if r := b.get("/signin"); r.status != http.StatusNoContent || b.cookie("app") == "" {
					t.Fatalf("sign-in page: %d %v", r.status, r.body)
				}
			}
			release := e.holdAt(t, "/hold?id=cart&write=guest-cart", "cart", b.header())
			b.login("alice") // presents the token
			e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
			w := release()
			if prepared {
				// The login retired the session the cart was saved in:
				// refused, never lost silently (DESIGN.md, "Writes"),
				// and its response does not cost the sign-in.
				if w.status != http.StatusConflict || w.body["error"] != "stale_credentials" {
					t.Errorf("prepared sign-in, the guest cart saved after the login: %d %v; want 409 stale_credentials", w.status, w.body)
				}
				b.apply(w)
				if r := b.get("/cart"); r.user() != "alice" {
					t.Errorf("prepared sign-in, the cart's response landing after the window: /cart %d %v; want alice", r.status, r.body)
				}
				continue
			}
			if w.status != http.StatusOK || !hasCookie(w.cookies, "app") {
				t.Fatalf("the guest cart: %d %v", w.status, w.body)
			}
			b.apply(w) // lands after the window
			r := b.get("/cart")
			if r.user() != "" || r.body["cart"] == "guest-cart" || hasCookie(r.cookies, "app") || hasCookie(r.cookies, graceTokenCookie) {
				t.Errorf("a late anonymous session after the window: /cart %d %v, Set-Cookie %v; want anonymous, foreign, no cookie written", r.status, r.body, r.header["Set-Cookie"])
			}
			if list := e.sessions(t, "alice"); len(list) != 1 {
				t.Errorf("records of alice after the foreign request: %d, want 1 (nothing ends)", len(list))
			}
			b.login("alice")
			if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] == "guest-cart" {
				t.Errorf("signed in again: /cart %d %v; want alice without the hidden cart", r.status, r.body)
			}
			if list := e.sessions(t, "alice"); len(list) != 1 {
				t.Errorf("records of alice after signing in again: %d, want 1 (the held record replaced)", len(list))
			}
		}
	})
}

// TestLoginTokenBesideAnotherUsersSessionIsForeign: within a login's
// window, the own session of another user's live record, or of an ended
// record of the same user, beside the login's token is no late response
// of this browser's sign-in (only an anonymous session nothing marked
// is, DESIGN.md "Cookieless sign-in"): foreign, its data hidden, nothing
// carried.
func TestLoginTokenBesideAnotherUsersSessionIsForeign(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, c := range []struct {
			other, user string
			ended       bool
		}{{"bob", "bob", false}, {"alice, signed out", "alice", true}} {
			other, user := c.other, c.user
			e := newEnv(t, kind, ginsecure.Config{})
			b, o := e.browser(), e.browser()
			o.login(user)
			if r := o.post("/cart?item=other-cart"); r.status != http.StatusOK || r.user() != user {
				t.Fatalf("%s: cart: %d %v", other, r.status, r.body)
			}
			sess := o.cookie("app")
			if c.ended {
				if _, err := e.guard.RevokeUser(context.Background(), user); err != nil {
					t.Fatal(err)
				}
			}
			login := e.send("POST", "/login?user=alice", "")
			if login.status != http.StatusOK {
				t.Fatalf("%s: login: %d %v", other, login.status, login.body)
			}
			b.apply(login)
			b.setCookie("app", sess) // the other session's cookie, within the login's window
			if r := b.get("/cart"); r.user() != "" || r.body["cart"] == "other-cart" {
				t.Errorf("%s's session beside alice's login token: /cart %d %v; want anonymous, no data", other, r.status, r.body)
			}
		}
	})
}
