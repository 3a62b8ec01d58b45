package ginsecure_test

// Superseded credentials (DESIGN.md, "Superseded credentials"): a token
// the browser had presented is a replay once its window has passed,
// however many rotations back within the record's history; a token
// superseded before the browser ever presented it is a late response at
// its first presentation, however late: served at the lower privilege,
// answered with the current token, never a revocation.

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// wantNoRevocation fails if the run revoked anything or saw a replay.
func wantNoRevocation(t *testing.T, e *env) {
	t.Helper()
	if n := e.events.count(ginsecure.EventReplay); n != 0 {
		t.Errorf("%d replay events; want none", n)
	}
	if n := e.events.count(ginsecure.EventRevoke); n != 0 {
		t.Errorf("%d revoke events; want none", n)
	}
}

// TestSupersededRenewResponseAfterItsReissue: a Renew's response is held
// up past unconfirmedGrace; the browser, still on its old token, is
// reissued a token at its old privilege and uses it. Then the Renew's
// response lands and the browser presents the Renew's token, which it
// never presented before: a late response, not a replay. It is served at
// the lower privilege (the reissue's), answered with the current token,
// and the browser stays signed in. From then on it counts as presented: a
// copy of it after the window is a replay.
func TestSupersededRenewResponseAfterItsReissue(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(11 * time.Minute) // the login is too old for /admin
		inFlight := e.browser()
		b.copyTo(inFlight)
		late := inFlight.post("/renew") // its response is held up
		if late.status != http.StatusOK || tokenOf(late.cookies) == "" {
			t.Fatalf("renew: %d %v", late.status, late.body)
		}
		e.clock.Advance(31 * time.Second)
		re := b.get("/me")
		if re.status != http.StatusOK || tokenOf(re.cookies) == "" {
			t.Fatalf("old token 31 s after the Renew: %d %v; want 200 and a reissued token", re.status, re.body)
		}
		current := tokenOf(re.cookies)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the reissued token: %d %v", r.status, r.body)
		}
		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)

		b.apply(late) // the Renew's response lands, 3 s after the browser moved on
		thief := e.browser()
		b.copyTo(thief) // a copy of what the browser holds now
		r := b.get("/admin")
		if r.status != http.StatusForbidden || r.errCode() != "reauth_required" {
			t.Errorf("the Renew's token at its first presentation, on /admin: %d %v; want 403 reauth_required (served at the reissue's privilege)", r.status, r.body)
		}
		if got := tokenOf(r.cookies); got != current {
			t.Errorf("the Renew's token at its first presentation was answered with token %q; want the current one %q", got, current)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("after the late Renew response: %d %v; want 200 alice (the sign-in survives)", r.status, r.body)
		}
		wantNoRevocation(t, e)

		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
		if r := thief.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Errorf("a copy of the Renew's token, presented again after the window: %d %v; want 401 replay", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("the session after a replay: %d %v; want 401 (revoked)", r.status, r.body)
		}
	})
}

// TestSupersededLateResponseOpensTheWindowOfOlderTokens: the browser's
// token is copied; a Renew's response is held up past unconfirmedGrace,
// the old token is reissued a token (that response lost as well), then
// the Renew's response lands and the browser presents the Renew's token:
// a late response, and the browser presenting a credential newer than
// the copied one. The copied token's window opens there, as at any
// presentation of a newer credential: served within GracePeriod (a
// request the browser sent before the response landed), a replay after
// it, though the current token was never presented (DESIGN.md,
// "Superseded credentials").
func TestSupersededLateResponseOpensTheWindowOfOlderTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		wantUser(t, "/me with the login's token", b.get("/me"), "alice")
		copied := b.header()
		inFlight := e.browser()
		b.copyTo(inFlight)
		late := inFlight.post("/renew") // its response is held up
		if late.status != http.StatusOK || tokenOf(late.cookies) == "" {
			t.Fatalf("renew: %d %v", late.status, late.body)
		}
		e.clock.Advance(31 * time.Second) // past the Renew's unconfirmed grace of 30 s
		if r := e.send("GET", "/me", copied); r.status != http.StatusOK || tokenOf(r.cookies) == "" {
			t.Fatalf("the old token past the Renew's unconfirmed grace: %d %v; want 200 and a reissued token", r.status, r.body)
		} // its response is lost
		b.apply(late)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" || tokenOf(r.cookies) == "" {
			t.Fatalf("the Renew's token at its first presentation: %d %v; want 200 alice, answered with the current token", r.status, r.body)
		}
		wantUser(t, "the old token within the window", e.send("GET", "/me", copied), "alice")
		wantNoRevocation(t, e)

		e.clock.Advance(graceWindow + time.Second)
		if r := e.send("GET", "/me", copied); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Fatalf("the old token after the window the late response opened: %d %v; want 401 replay", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventReplay); n != 1 {
			t.Errorf("%d replay events; want 1", n)
		}
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("the browser after the replay: %d %v; want 401 (revoked: two parties hold its credentials)", r.status, r.body)
		}
	})
}

// TestSupersededDoubleSubmittedLoginLandsLast: a visitor double-submits
// the sign-in form; the second login joins the first's record. The
// browser applies the second response and uses it; the first response
// lands 3 s later. Its token was never presented: a late response,
// answered with the current token, never a replay.
func TestSupersededDoubleSubmittedLoginLandsLast(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		if r := b.post("/cart?item=apple"); r.status != http.StatusOK {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		hdr := b.header()
		first := e.send("POST", "/login?user=alice", hdr)
		second := e.send("POST", "/login?user=alice", hdr)
		if first.status != http.StatusOK || second.status != http.StatusOK {
			t.Fatalf("logins: %d %v, %d %v", first.status, first.body, second.status, second.body)
		}
		b.apply(second)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the second login's cookies: %d %v", r.status, r.body)
		}
		current := b.cookie(graceTokenCookie)
		e.clock.Advance(3 * time.Second)
		b.apply(first)
		thief := e.browser()
		b.copyTo(thief)
		r := b.get("/me")
		if r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the first login's response landing 3 s late: %d %v; want 200 alice", r.status, r.body)
		}
		if got := tokenOf(r.cookies); got != current {
			t.Errorf("the first login's token was answered with %q; want the current token %q", got, current)
		}
		if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "apple" {
			t.Errorf("GET /cart after the late login response: %d %v; want alice with the carried cart", r.status, r.body)
		}
		wantNoRevocation(t, e)

		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
		if r := thief.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Errorf("the first login's token presented again after the window: %d %v; want 401 replay", r.status, r.body)
		}
	})
}

// TestSupersededJoinedLoginTokenThatWasPresented: the browser signs in,
// uses the login's token, then submits the sign-in form again from the
// pre-login session (a resubmit): the second login joins the first's
// record. The first token was presented before it was superseded, so a
// copy of it after the window is a replay, as for any presented token;
// only a joined login's token the browser never presented is a late
// response.
func TestSupersededJoinedLoginTokenThatWasPresented(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		if r := b.post("/cart?item=apple"); r.status != http.StatusOK {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		hdr := b.header()
		first := e.send("POST", "/login?user=alice", hdr)
		b.apply(first)
		wantUser(t, "/me with the first login's token", b.get("/me"), "alice")
		thief := e.browser()
		b.copyTo(thief)
		second := e.send("POST", "/login?user=alice", hdr)
		if second.status != http.StatusOK || second.user() != "alice" {
			t.Fatalf("the second login: %d %v", second.status, second.body)
		}
		b.apply(second)
		wantUser(t, "/me with the joined login's token", b.get("/me"), "alice")
		if n := len(e.sessions(t, "alice")); n != 1 {
			t.Fatalf("alice has %d sessions, want 1 (the second login joined the first)", n)
		}
		e.clock.Advance(graceWindow + time.Second)
		if r := thief.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Errorf("a copy of the presented first token after the window: %d %v; want 401 replay", r.status, r.body)
		}
	})
}

// rotateAndUse passes RotateEvery, lets the browser rotate its token and
// present the new one (the window of the old one opens), and returns the
// cookie header it held before.
func rotateAndUse(t *testing.T, e *env, b *browser) string {
	t.Helper()
	before := b.header()
	e.clock.Advance(graceRotateEvery + time.Second)
	if r := b.get("/me"); r.status != http.StatusOK || tokenOf(r.cookies) == "" {
		t.Fatalf("rotation: %d %v", r.status, r.body)
	}
	if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("the rotated token: %d %v", r.status, r.body)
	}
	return before
}

// TestSupersededOlderTokenIsAReplay: a copy of the token from two
// rotations back, presented once the victim has moved on, is a replay:
// 401, the session revoked, EventReplay. Past the history (the last 4
// superseded tokens) a copy is only a mismatch: anonymous, nothing
// revoked.
func TestSupersededOlderTokenIsAReplay(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("two rotations back", func(t *testing.T) {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := e.browser()
			b.login("alice")
			stolen := rotateAndUse(t, e, b)
			rotateAndUse(t, e, b)
			e.clock.Advance(graceWindow + time.Second)
			if r := e.send("GET", "/me", stolen); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
				t.Fatalf("a copy of the token from two rotations back: %d %v; want 401 replay", r.status, r.body)
			}
			if n := e.events.count(ginsecure.EventReplay); n != 1 {
				t.Errorf("%d replay events; want 1", n)
			}
			if r := b.get("/me"); r.status != http.StatusUnauthorized {
				t.Errorf("the victim after the replay: %d %v; want 401 (revoked: two parties hold its credentials)", r.status, r.body)
			}
		})
		t.Run("older than the history", func(t *testing.T) {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := e.browser()
			b.login("alice")
			stolen := rotateAndUse(t, e, b)
			for range 4 {
				rotateAndUse(t, e, b)
			}
			e.clock.Advance(graceWindow + time.Second)
			e.events.reset()
			if r := e.send("GET", "/me", stolen); r.status != http.StatusUnauthorized || r.errCode() != "token_mismatch" {
				t.Fatalf("a copy of the token from five rotations back: %d %v; want 401 token_mismatch", r.status, r.body)
			}
			if n := e.events.count(ginsecure.EventTokenMismatch); n < 1 {
				t.Errorf("%d token mismatch events; want at least 1", n)
			}
			wantNoRevocation(t, e)
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Errorf("the victim after a copy older than the history: %d %v; want 200 alice", r.status, r.body)
			}
		})
	})
}

// TestSupersededLoginResponseAfterAForward: a rotation is in flight when
// the browser signs in again; the rotating response lands first and is
// forwarded to the new session (its token superseding the login's, which
// the browser had not presented yet), the browser uses the forwarded
// token, and the login's own response lands 3 s later. The login's token
// is a late response: served, answered with the current token, never a
// replay.
func TestSupersededLoginResponseAfterAForward(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
		release := e.holdAt(t, "/hold/auth?id=poll", "poll", b.header())
		lg := e.send("POST", "/login?user=alice", b.header()) // its response is held up
		if lg.status != http.StatusOK {
			t.Fatalf("re-login: %d %v", lg.status, lg.body)
		}
		poll := release()
		if poll.status != http.StatusOK || tokenOf(poll.cookies) == "" {
			t.Fatalf("the rotating request: %d %v", poll.status, poll.body)
		}
		b.apply(poll)
		fw := b.get("/me")
		if fw.status != http.StatusOK || fw.user() != "alice" || tokenOf(fw.cookies) == "" {
			t.Fatalf("the rotated token of the replaced session: %d %v; want 200 alice, forwarded", fw.status, fw.body)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the forwarded token: %d %v", r.status, r.body)
		}
		current := b.cookie(graceTokenCookie)
		e.clock.Advance(3 * time.Second)
		b.apply(lg)
		r := b.get("/me")
		if r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the login's response landing 3 s after the forward: %d %v; want 200 alice", r.status, r.body)
		}
		if got := tokenOf(r.cookies); got != current {
			t.Errorf("the login's token was answered with %q; want the current token %q", got, current)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("after the late login response: %d %v; want 200 alice", r.status, r.body)
		}
		wantNoRevocation(t, e)
	})
}

// TestSupersededLateResponseGetsTheNewestToken: the record rotates again
// after a token was superseded unpresented (a Renew's, reissued); when
// its response finally lands, it is answered with the newest token, not
// with the one that first superseded it.
func TestSupersededLateResponseGetsTheNewestToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		inFlight := e.browser()
		b.copyTo(inFlight)
		late := inFlight.post("/renew") // its response is held up
		if late.status != http.StatusOK {
			t.Fatalf("renew: %d %v", late.status, late.body)
		}
		e.clock.Advance(31 * time.Second)
		if r := b.get("/me"); tokenOf(r.cookies) == "" {
			t.Fatalf("no reissue: %d %v", r.status, r.body)
		}
		b.get("/me")
		rotateAndUse(t, e, b)
		newest := b.cookie(graceTokenCookie)
		b.apply(late)
		r := b.get("/me")
		if r.status != http.StatusOK || r.user() != "alice" || tokenOf(r.cookies) != newest {
			t.Fatalf("the Renew's response landing after a reissue and a rotation: %d %v, token %q; want 200 alice and the newest token %q",
				r.status, r.body, tokenOf(r.cookies), newest)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("after the late Renew response: %d %v; want 200 alice", r.status, r.body)
		}
		wantNoRevocation(t, e)
	})
}

// TestSupersededWindowNotOpenedByARefusedRequest: the newer token of a
// rotation, presented from another network (refused, the session kept),
// is not a presentation: the window stays closed, so the browser's own
// requests still carrying the previous token are served long after
// GracePeriod, never taken for a replay that ends the session (DESIGN.md,
// "Superseded credentials": only a request that passes every check
// presents a credential).
func TestSupersededWindowNotOpenedByARefusedRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		cfg := graceConfig(graceWindow)
		cfg.KeepSessionOnIPMismatch = true
		e := newEnv(t, kind, cfg)
		b := e.browser()
		b.login("alice")
		e.clock.Advance(graceRotateEvery + time.Minute)
		old := b.header()
		rot := e.send("GET", "/me", old) // rotates; its response does not reach the browser yet
		if rot.status != http.StatusOK || !hasCookie(rot.cookies, graceTokenCookie) {
			t.Fatalf("the request did not rotate: %d %v", rot.status, rot.body)
		}
		elsewhere := e.browserFrom("127.0.0.2")
		b.copyTo(elsewhere)
		elsewhere.apply(rot)
		if r := elsewhere.get("/me"); r.status == http.StatusOK {
			t.Fatalf("the newer token from another network was served: %v", r.body)
		}
		e.clock.Advance(10 * graceWindow)
		if r := e.send("GET", "/me", old); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("the browser's previous token %v after a refused request presented the newer one: %d %v; want alice (the window never opened)", 10*graceWindow, r.status, r.body)
		}
		wantNoRevocation(t, e)
	})
}

// TestSupersededLateWriteAnswerAfterReLoginSignsOut: a double submit
// joins two logins into one record; a write presents the first login's
// token (superseded before it was presented: a late response) and is
// answered with the joined login's token. The browser applies the joined
// login's answer, signs in again with it, and only then does the write's
// answer land. The re-login cut the joined login's presented token off
// (DESIGN.md, "Superseded credentials"): the browser is signed out, and
// the acknowledged write lives on in the re-login's session ("Writes":
// a write is served by the record it was written with).
func TestSupersededLateWriteAnswerAfterReLoginSignsOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		if r := b.post("/cart?item=apple"); r.status != http.StatusOK {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		hdr := b.header()
		first := e.send("POST", "/login?user=alice", hdr)
		second := e.send("POST", "/login?user=alice", hdr)
		b.apply(first)
		w := e.send("POST", "/cart?item=pear", b.header())
		if w.status != http.StatusOK || w.user() != "alice" || tokenOf(w.cookies) == "" {
			t.Fatalf("the write on the first login's token: %d %v %v; want alice, answered with a token", w.status, w.body, w.cookies)
		}
		b.apply(second)
		relogin := e.send("POST", "/login?user=alice", b.header())
		if relogin.status != http.StatusOK {
			t.Fatalf("the re-login: %d %v", relogin.status, relogin.body)
		}
		b.apply(relogin)
		signedIn := b.header()
		b.apply(w) // the write's answer lands last
		if r := b.get("/cart"); r.user() != "" || r.body["cart"] == "pear" {
			t.Errorf("after the write's late answer: %v; want signed out, the write not served", r.body)
		}
		want := "pear"
		if kind == "cookie" {
			// The data is the cookie: the re-login was sent with the
			// joined login's copy, written in parallel with the write
			// ("Writes", the first exception).
			want = "apple"
		}
		if r := e.send("GET", "/cart", signedIn); r.user() != "alice" || r.body["cart"] != want {
			t.Errorf("the re-login's credentials: %v; want alice with cart %q", r.body, want)
		}
	})
}
