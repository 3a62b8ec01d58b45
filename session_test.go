package ginsecure_test

// The session cookie next to the token (DESIGN.md, "Model"): the token
// names its record; a session cookie belongs to that record when it names
// the record's handle or is the session the record's own login replaced
// (then it is healed); any other session cookie is foreign. End to end on
// every store.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// TestSessionHealsAPredecessorPutBackByAStraggler: a straggler's response
// that lands after the login's puts the pre-login session cookie back next
// to the new token. The browser stays signed in, the app sees the session
// the login created (on memstore and Redis; on the cookie store the
// predecessor cookie itself holds the pre-login data), and the response
// sends the healed session's cookie again so the next request from the jar
// is signed in too. The marker outlives the grace window: a straggler can
// land long after it.
func TestSessionHealsAPredecessorPutBackByAStraggler(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		if r := b.post("/cart?item=pre"); r.status != http.StatusOK {
			t.Fatalf("anonymous POST /cart: %d %v", r.status, r.body)
		}
		pre := b.cookie(graceSessionCookie)
		b.login("alice")
		if r := b.post("/cart?item=post"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("POST /cart?item=post signed in: %d %v", r.status, r.body)
		}
		e.clock.Advance(40 * time.Second) // long past the window
		b.setCookie(graceSessionCookie, pre)

		me := b.get("/me")
		if me.status != http.StatusOK || me.user() != "alice" {
			t.Fatalf("GET /me with the predecessor session cookie next to the new token: %d %v; want 200 alice", me.status, me.body)
		}
		if !hasCookie(me.cookies, graceSessionCookie) {
			t.Errorf("GET /me healed but did not send the session cookie again (sets %q)", graceCookies(me.cookies))
		}
		if b.cookie(graceSessionCookie) == pre {
			t.Errorf("after the healing response the jar still holds the predecessor session cookie")
		}
		cart := b.get("/cart")
		if cart.status != http.StatusOK || cart.user() != "alice" {
			t.Fatalf("GET /cart after healing: %d %v; want 200 alice", cart.status, cart.body)
		}
		switch got := cart.body["cart"]; {
		case kind == "cookie" && (got == "pre" || got == "post"):
			t.Logf("cookie store: the healed request sees cart %q", got)
		case got != "post":
			t.Errorf("GET /cart after healing: cart %v; want \"post\" (the app must see the session the login created)", got)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("the next GET /me from the jar: %d %v; want 200 alice", r.status, r.body)
		}
	})
}

// plantedPredecessor: the attacker's anonymous session S_x is planted in
// the victim's browser; the victim signs in (the login leaves the marker
// S_x → the victim's record) and fills a cart.
func plantedPredecessor(t *testing.T, e *env) (attacker, victim *browser, sx string) {
	t.Helper()
	attacker = e.browser()
	if r := attacker.post("/cart?item=planted"); r.status != http.StatusOK {
		t.Fatalf("attacker's anonymous POST /cart: %d %v", r.status, r.body)
	}
	sx = attacker.cookie(graceSessionCookie)
	victim = e.browser()
	victim.setCookie(graceSessionCookie, sx)
	victim.login("alice")
	if r := victim.post("/cart?item=alice-secret"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("victim's POST /cart: %d %v", r.status, r.body)
	}
	return attacker, victim, sx
}

// wantForeign: the attacker's own valid token next to S_x is anonymous,
// never sees the victim's cart, writes nothing and sets no cookie; the
// victim is still signed in with its cart.
func wantForeign(t *testing.T, e *env, victim *browser, sx, attackerToken string) {
	t.Helper()
	hdr := graceSessionCookie + "=" + sx + "; " + graceTokenCookie + "=" + attackerToken
	me := e.send("GET", "/me", hdr)
	if me.status != http.StatusUnauthorized {
		t.Errorf("attacker's token next to S_x, GET /me: %d %v; want 401", me.status, me.body)
	}
	cart := e.send("GET", "/cart", hdr)
	if cart.status != http.StatusOK || cart.user() != "" || cart.body["cart"] == "alice-secret" {
		t.Errorf("attacker's token next to S_x, GET /cart: %d %v; want 200, user \"\", not the victim's cart", cart.status, cart.body)
	}
	for _, r := range []reply{me, cart} {
		if got := graceCookies(r.cookies); got != "" {
			t.Errorf("attacker's token next to S_x: response sets %q; want nothing written", got)
		}
	}
	w := e.send("POST", "/cart?item=evil", hdr)
	if w.status == http.StatusOK {
		t.Errorf("attacker's token next to S_x, POST /cart: %d %v; want the Save refused", w.status, w.body)
	}
	if got := graceCookies(w.cookies); got != "" {
		t.Errorf("attacker's token next to S_x, POST /cart: response sets %q; want nothing written", got)
	}
	if r := victim.get("/cart"); r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "alice-secret" {
		t.Errorf("victim GET /cart afterwards: %d %v; want 200 alice alice-secret", r.status, r.body)
	}
}

// TestSessionHealingRefusedWhenTheMarkerNamesAnotherRecord: the attacker
// who planted S_x holds a valid token of its own (signed in as mallory in
// its own browser). S_x is the victim's record's predecessor, not the
// attacker's: next to the attacker's token it is foreign, never healed.
func TestSessionHealingRefusedWhenTheMarkerNamesAnotherRecord(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		_, victim, sx := plantedPredecessor(t, e)
		mallory := e.browser()
		mallory.login("mallory")
		wantForeign(t, e, victim, sx, mallory.cookie(graceTokenCookie))
	})
}

// TestSessionMarkersAreSetOnce: the attacker signs in as mallory from S_x
// after the victim did. The marker S_x → victim's record stays: the
// victim's token next to S_x still heals to alice, the attacker's token
// next to S_x is still foreign.
func TestSessionMarkersAreSetOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		attacker, victim, sx := plantedPredecessor(t, e)
		victimToken := victim.cookie(graceTokenCookie)
		if attacker.cookie(graceSessionCookie) != sx {
			t.Fatalf("the attacker's browser no longer holds S_x")
		}
		attacker.login("mallory") // its login's cookies carry S_x
		r := e.send("GET", "/me", graceSessionCookie+"="+sx+"; "+graceTokenCookie+"="+victimToken)
		if r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("victim's token next to S_x after the attacker's login from S_x: %d %v; want 200 alice (healed)", r.status, r.body)
		}
		wantForeign(t, e, victim, sx, attacker.cookie(graceTokenCookie))
	})
}

// TestSessionForeignCookieNextToAValidToken: a session cookie that belongs
// to no part of the token's record (another account's dead session,
// another browser's anonymous one) sent first in the Cookie header, next to
// the victim's valid token: the request is anonymous, writes nothing, its
// Save fails with ErrForeignSession, and nothing of the victim's is expired
// or revoked.
func TestSessionForeignCookieNextToAValidToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		foreigners := map[string]func(e *env) string{
			"dead session of another account": func(e *env) string {
				o := e.browser()
				o.login("bob")
				v := o.cookie(graceSessionCookie)
				if r := o.post("/logout"); r.status != http.StatusOK {
					t.Fatalf("bob's logout: %d %v", r.status, r.body)
				}
				return v
			},
			"anonymous session of another browser": func(e *env) string {
				o := e.browser()
				o.post("/cart?item=other")
				return o.cookie(graceSessionCookie)
			},
		}
		for name, foreign := range foreigners {
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				f := foreign(e)
				victim := e.browser()
				victim.login("alice")
				if r := victim.post("/cart?item=alice-cart"); r.status != http.StatusOK {
					t.Fatalf("victim's POST /cart: %d %v", r.status, r.body)
				}
				// Past the login's window (within it an anonymous session
				// beside the token is the browser's late response:
				// DESIGN.md, "Cookieless sign-in").
				e.clock.Advance(graceWindow + time.Second)
				own := victim.header()
				tok := graceTokenCookie + "=" + victim.cookie(graceTokenCookie)

				alone := graceSessionCookie + "=" + f + "; " + tok
				me := e.send("GET", "/me", alone)
				if me.status != http.StatusUnauthorized {
					t.Errorf("GET /me, foreign session cookie next to the token: %d %v; want 401", me.status, me.body)
				}
				pub := e.send("GET", "/public", alone)
				if pub.status != http.StatusOK || pub.user() != "" {
					t.Errorf("GET /public, foreign session cookie next to the token: %d %v; want 200 anonymous", pub.status, pub.body)
				}
				w := e.send("POST", "/cart?item=evil", alone)
				if w.status != http.StatusConflict || w.errCode() != "foreign_session" {
					t.Errorf("POST /cart, foreign session cookie next to the token: %d %v; want 409 foreign_session (Save returns ErrForeignSession)", w.status, w.body)
				}
				for step, r := range map[string]reply{"GET /me": me, "GET /public": pub, "POST /cart": w} {
					if got := graceCookies(r.cookies); got != "" {
						t.Errorf("%s, foreign session cookie next to the token: response sets %q; want no Set-Cookie of either cookie", step, got)
					}
				}

				// Both session cookies, the foreign one first (tossed in front
				// by a sibling subdomain): preferring the one that belongs to
				// the token is allowed (DESIGN.md, "Tossed cookies"); expiring or
				// revoking anything is not.
				both := graceSessionCookie + "=" + f + "; " + graceSessionCookie + "=" + victim.cookie(graceSessionCookie) + "; " + tok
				r := e.send("GET", "/me", both)
				if r.status != http.StatusOK && r.status != http.StatusUnauthorized {
					t.Errorf("GET /me, foreign session cookie in front of the victim's: %d %v", r.status, r.body)
				}
				t.Logf("GET /me with the foreign session cookie in front of the victim's: %d %v", r.status, r.body)
				if got := graceCookies(r.cookies); strings.Contains(got, "-") || strings.Contains(got, "token+") {
					t.Errorf("GET /me, foreign session cookie in front of the victim's: response sets %q; want no expiry and no new token", got)
				}

				if r := e.send("GET", "/cart", own); r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "alice-cart" {
					t.Errorf("victim's own cookies afterwards, GET /cart: %d %v; want 200 alice alice-cart", r.status, r.body)
				}
				if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
					t.Errorf("victim's own cookies afterwards, GET /me: %d %v; want 200 alice", r.status, r.body)
				}
			})
		}
	})
}

// TestSessionReloginRacedBySlowSignedInWriter: signed in as alice, a
// request enters its handler and waits; the browser signs in as bob; the
// held request then saves the session and its response lands after the
// login's. The browser is signed in as bob, and the held request never saw
// bob.
func TestSessionReloginRacedBySlowSignedInWriter(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, route := range []string{"/hold/auth", "/hold"} {
			t.Run(route, func(t *testing.T) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				b := e.browser()
				b.login("alice")
				alice := b.header()
				var held reply
				var heldErr error
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					held, heldErr = e.trySend("GET", route+"?id=slow&write=slow", alice)
				}()
				if err := e.holds.waitEntered("slow"); err != nil {
					e.holds.free("slow")
					wg.Wait()
					t.Fatal(err)
				}
				b.login("bob")
				e.holds.free("slow")
				wg.Wait()
				if heldErr != nil {
					t.Fatal(heldErr)
				}
				if held.user() == "bob" || held.body["entry_user"] != "alice" {
					t.Errorf("held request: %d %v; want it to see alice only", held.status, held.body)
				}
				t.Logf("held request's reply: %d %v, sets %q", held.status, held.body, graceCookies(held.cookies))
				b.apply(held)
				if r := b.get("/me"); r.status != http.StatusOK || r.user() != "bob" {
					t.Errorf("GET /me after the held response landed last: %d %v; want 200 bob", r.status, r.body)
				}
				e.clock.Advance(graceWindow + time.Second)
				if r := b.get("/me"); r.status != http.StatusOK || r.user() != "bob" {
					t.Errorf("GET /me past the window: %d %v; want 200 bob", r.status, r.body)
				}
			})
		}
	})
}

// TestSessionTwoLoginsFromOneSessionBelongTogether: the same user submits
// the sign-in form twice from one anonymous session (a double click, a
// retried request). The markers are set once, so the second login joins
// the first one's record: whichever login response the browser applies
// last, and with the pre-login session cookie put back by a straggler
// after both, the browser is signed in. A second login of another user
// from the same session starts a record of its own.
func TestSessionTwoLoginsFromOneSessionBelongTogether(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		// Each order on a fresh app: one browser lives one history.
		for _, order := range []string{"12", "21", "12s", "21s"} {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := e.browser()
			if r := b.post("/cart?item=pre"); r.status != http.StatusOK {
				t.Fatalf("anonymous POST /cart: %d %v", r.status, r.body)
			}
			pre := b.header()
			l1 := e.send("POST", "/login?user=alice", pre)
			l2 := e.send("POST", "/login?user=alice", pre)
			if l1.status != http.StatusOK || l2.status != http.StatusOK || l2.user() != "alice" {
				t.Fatalf("two logins: %d %v, %d %v", l1.status, l1.body, l2.status, l2.body)
			}
			straggler := reply{cookies: []*http.Cookie{{Name: graceSessionCookie, Value: headerCookie(pre, graceSessionCookie), Path: "/"}}}
			for _, step := range order {
				switch step {
				case '1':
					b.apply(l1)
				case '2':
					b.apply(l2)
				case 's':
					b.apply(straggler)
				}
			}
			e.clock.Advance(graceWindow + time.Second)
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("responses applied in order %q: /me %d %v; want alice", order, r.status, r.body)
			}
			if r := b.get("/cart"); r.body["cart"] != "pre" {
				t.Fatalf("order %q: cart %v, want the pre-login cart carried over", order, r.body)
			}
			if n := len(e.sessions(t, "alice")); n != 1 {
				t.Fatalf("alice has %d sessions after two logins from one session, want 1", n)
			}
			// Another user's login from the same session is not joined.
			l3 := e.send("POST", "/login?user=bob", pre)
			jar := e.browser()
			jar.apply(l3)
			if r := jar.get("/me"); r.status != http.StatusOK || r.user() != "bob" {
				t.Fatalf("bob's login from alice's pre-login session: /me %d %v", r.status, r.body)
			}
		}
	})
}

// headerCookie is the value of name in a raw Cookie header.
func headerCookie(header, name string) string {
	for _, p := range strings.Split(header, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if k == name {
			return v
		}
	}
	return ""
}

// TestSessionOfARevokedRecordShowsNothing: a session ended by a
// revocation (RevokeUser, an admin action) is ended as every ending is
// (DESIGN.md, "Endings"): the browser whose token opened it is anonymous,
// sees none of its data, and goes on with an anonymous session whose
// writes are kept. A session ended as a replay (two parties hold it)
// shows nothing to anyone either.
func TestSessionOfARevokedRecordShowsNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=book"); r.status != http.StatusOK {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
			t.Fatalf("RevokeUser: %d %v", n, err)
		}
		if r := b.get("/cart"); r.status != http.StatusOK || r.user() != "" || r.body["cart"] != nil {
			t.Fatalf("owner after RevokeUser: %d %v; want anonymous, no cart", r.status, r.body)
		}
		if r := b.post("/cart?item=pen"); r.status != http.StatusOK {
			t.Fatalf("owner's write after RevokeUser: %d %v", r.status, r.body)
		}
		if r := b.get("/cart"); r.user() != "" || r.body["cart"] != "pen" {
			t.Fatalf("owner after its anonymous write: %v; want its guest cart \"pen\"", r.body)
		}

		// A replay: the thief's copy and the victim's session both see nothing.
		v := e.browser()
		v.login("bob")
		v.post("/cart?item=secret")
		thief := e.browser()
		v.copyTo(thief)
		e.clock.Advance(graceRotateEvery + time.Minute)
		v.get("/me")     // rotates
		v.get("/public") // confirms
		e.clock.Advance(graceWindow + time.Second)
		if r := thief.get("/cart"); r.user() != "" || r.body["cart"] != nil {
			t.Fatalf("thief's replay: %v; want anonymous and no cart", r.body)
		}
		if r := v.get("/cart"); r.user() != "" || r.body["cart"] != nil {
			t.Fatalf("victim after the replay: %v; want anonymous and no cart", r.body)
		}
	})
}

// TestSessionLoginMarksBeforeItRetires: a re-login sets its marker before
// it retires the old record and session, so a request of the old session
// that lands in between (here: while the retirement is held) is either
// served as before the login or refused as stale: its write never slips
// in unmarked and vanishes with a nil error, and nothing of the new login
// is expired. Afterwards the new login holds in any response order.
func TestSessionLoginMarksBeforeItRetires(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			ps := newGateStore(ginsecure.NewMemoryStore())
			e := newEnv(t, kind, graceConfig(graceWindow), withStore(ps))
			b := e.browser()
			b.login("alice")
			old := b.header()
			ps.arm("Update") // the login's retirement of the old record
			done := make(chan reply, 1)
			go func() {
				r, _ := e.trySend("POST", "/login?user=bob", old)
				done <- r
			}()
			select {
			case <-ps.entered:
			case <-time.After(holdTimeout):
				t.Fatal("the login never retired the old record")
			}
			// Between the marker and the retirement.
			w := e.send("POST", "/cart?item=late", old)
			close(ps.open)
			login := <-done
			if w.status != http.StatusConflict || w.errCode() != "stale_credentials" {
				t.Fatalf("old session's write during the login's retirement: %d %v; want 409 stale_credentials (the marker comes first)", w.status, w.body)
			}
			if hasCookie(w.cookies, ginsecure.DefaultCookieName) {
				t.Fatalf("the old session's response set the token cookie: %v", w.cookies)
			}
			for _, order := range [][]reply{{login, w}, {w, login}} {
				jar := e.browser()
				for _, r := range order {
					jar.apply(r)
				}
				if r := jar.get("/me"); r.status != http.StatusOK || r.user() != "bob" {
					t.Fatalf("after the re-login: /me %d %v; want bob", r.status, r.body)
				}
			}
		})
	}
}

// TestSessionDoubleLoginThenLatePreLoginResponse: the user double-clicks
// "Sign in": two logins leave the browser with the same pre-login session
// S0. The first sets the marker S0 → R_A; the second finds it set and goes
// on (R_B). A pre-login request answered before either login (its write
// checked no marker yet) reaches the browser last and puts S0 back. If the
// browser applied the second login's response last it holds T_B next to
// S0: that is R_B's predecessor as much as R_A's, and must heal, not be
// foreign (a lost sign-in: DESIGN.md, "Ordering principle", "Model").
func TestSessionDoubleLoginThenLatePreLoginResponse(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		if r := b.post("/cart?item=pre"); r.status != http.StatusOK {
			t.Fatalf("anonymous POST /cart: %d %v", r.status, r.body)
		}
		pre := b.header()
		// Answered before the logins, applied after them.
		late := e.send("POST", "/cart?item=late", pre)
		if late.status != http.StatusOK {
			t.Fatalf("pre-login POST /cart: %d %v", late.status, late.body)
		}
		a := e.send("POST", "/login?user=alice", pre)
		bb := e.send("POST", "/login?user=alice", pre)
		if a.status != http.StatusOK || bb.status != http.StatusOK {
			t.Fatalf("double login: %d %v / %d %v", a.status, a.body, bb.status, bb.body)
		}
		b.apply(a)
		b.apply(bb)
		b.apply(late)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("after a double login and a late pre-login response, GET /me: %d %v; want 200 alice (the sign-in is lost)", r.status, r.body)
		}
	})
}

// TestSessionSlowWriterAfterLogoutRecreatesNothing: a signed-in request is
// verified, then the user signs out, then the request saves the session.
// Logout destroyed the record's session; the slow write must not bring it
// back (memstore and Redis write unconditionally: write-then-check must
// catch it), must not answer success, and the signed-in data must not be
// served to the browser once the slow response lands after the logout's
// (nor carried into the next user's login on a shared computer).
func TestSessionSlowWriterAfterLogoutRecreatesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("POST /cart signed in: %d %v", r.status, r.body)
		}
		signedIn := b.header()
		type res struct {
			r   reply
			err error
		}
		done := make(chan res, 1)
		go func() {
			r, err := e.trySend("GET", "/hold/auth?id=w&write=alice-late", signedIn)
			done <- res{r, err}
		}()
		if err := e.holds.waitEntered("w"); err != nil {
			t.Fatal(err)
		}
		if r := b.post("/logout"); r.status != http.StatusOK {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
		e.holds.free("w")
		slow := <-done
		if slow.err != nil {
			t.Fatal(slow.err)
		}
		if slow.r.status == http.StatusOK {
			t.Errorf("a signed-in write saved after Logout answered %d %v: Save returned nil for a session Logout destroyed", slow.r.status, slow.r.body)
		}
		b.apply(slow.r) // the slow response lands after the logout's
		cart := b.get("/cart")
		if cart.user() != "" {
			t.Fatalf("after logout: %v", cart.body)
		}
		if c := cart.body["cart"]; c == "alice-late" || c == "alice-private" {
			t.Errorf("after Logout, an anonymous GET /cart sees the signed-in session's cart %q: the slow write re-created the session Logout destroyed", c)
		}
		b.login("bob")
		if c := b.get("/cart").body["cart"]; c == "alice-late" || c == "alice-private" {
			t.Errorf("bob's login on the same browser carried alice's cart %q over", c)
		}
	})
}

// TestSessionTossedPredecessorDoesNotOverwriteTheVictimsSession: on the
// cookie store a predecessor cookie holds whatever its holder saved into
// it before the login. An attacker who planted S_x before the victim's
// login (a sibling subdomain's tossed cookie) tosses it again, long after,
// in front of the victim's own session cookie: healing adopts the
// attacker's values as the victim's session and sends them, replacing
// what the victim wrote after signing in. With the victim's own session
// cookie in the same header, the record's own session must win.
func TestSessionTossedPredecessorDoesNotOverwriteTheVictimsSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		_, victim, sx := plantedPredecessor(t, e) // victim's cart: alice-secret
		e.clock.Advance(10 * time.Minute)
		own := victim.cookie(graceSessionCookie)
		tok := victim.cookie(graceTokenCookie)
		// The tossed cookie (longer Path, parent Domain) is sent first.
		r := e.send("GET", "/cart", graceSessionCookie+"="+sx+"; "+graceSessionCookie+"="+own+"; "+graceTokenCookie+"="+tok)
		if r.body["cart"] == "planted" {
			t.Errorf("victim's request with the tossed predecessor in front: the app sees the attacker's cart %q", r.body["cart"])
		}
		victim.apply(r)
		if got := victim.get("/cart"); got.user() != "alice" || got.body["cart"] != "alice-secret" {
			t.Errorf("after a tossed predecessor (response sets %q), victim GET /cart: %d %v; want alice with cart \"alice-secret\"",
				graceCookies(r.cookies), got.status, got.body)
		}
	})
}

// TestSessionTimedOutSignedInDataIsNotHandedToTheNextUser: alice walks
// away from a shared computer; her session times out. The browser is now
// anonymous (right), but the signed-in session's data is served to the
// anonymous visitor and carried into bob's login on the same browser:
// what alice's signed-in session held becomes bob's.
func TestSessionTimedOutSignedInDataIsNotHandedToTheNextUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("POST /cart: %d %v", r.status, r.body)
		}
		e.clock.Advance(31 * time.Minute) // past the idle timeout
		if r := b.get("/cart"); r.user() != "" || r.body["cart"] == "alice-private" {
			t.Errorf("after alice's idle timeout, anonymous GET /cart: %d %v; want anonymous without alice's data", r.status, r.body)
		}
		b.login("bob")
		if r := b.get("/cart"); r.body["cart"] == "alice-private" {
			t.Errorf("bob's login after alice's timeout carried alice's signed-in data over: %v", r.body)
		}
	})
}

// TestSessionCookieWithoutToken: a session cookie held without its token
// (stolen, or a browser that lost the token) opens nothing, shows none of
// the session's data, and changes nothing: no cookie is expired, no data
// written, the owner stays signed in.
func TestSessionCookieWithoutToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, thief := e.browser(), e.browser()
		victim.login("alice")
		victim.post("/cart?item=alice-secret")
		thief.setCookie("app", victim.cookie("app"))
		r := thief.get("/cart")
		if r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "token_mismatch" {
			t.Fatalf("session cookie without token: %d %v", r.status, r.body)
		}
		if r.body["cart"] != nil {
			t.Fatal("victim's session data served without the token")
		}
		if len(r.cookies) != 0 {
			t.Fatalf("a request that proved nothing wrote cookies: %v", r.header["Set-Cookie"])
		}
		if r := thief.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "token_mismatch" {
			t.Fatalf("protected route without token: %d %v", r.status, r.body)
		}
		if r := thief.post("/cart?item=thief"); len(r.cookies) != 0 {
			t.Fatalf("hidden session saved: %v", r.header["Set-Cookie"])
		}
		if r := victim.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-secret" {
			t.Fatalf("victim after thief: %v", r.body)
		}
		// The thief signs in as itself on the stolen session cookie: it
		// gets a fresh session; the victim's data and session stay hers.
		thief.login("mallory")
		if r := thief.get("/cart"); r.user() != "mallory" || r.body["cart"] != nil {
			t.Fatalf("thief's login carried the victim's data over: %v", r.body)
		}
		if r := victim.post("/cart?item=alice-2"); r.user() != "alice" {
			t.Fatalf("victim after thief's login: %v", r.body)
		}
		if r := victim.get("/cart"); r.body["cart"] != "alice-2" {
			t.Fatalf("victim's session write was dropped after the thief's login: %v", r.body)
		}
	})
}

// TestPlantedSessionCookieCannotSignVictimOut: a session cookie planted in
// the victim's browser (a sibling subdomain can set one) next to her token
// makes her requests anonymous while it is there, but the response never
// expires her token: removing the planted cookie restores her session.
func TestPlantedSessionCookieCannotSignVictimOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, attacker := e.browser(), e.browser()
		attacker.login("mallory")
		victim.login("alice")
		realSession := victim.cookie("app")
		victim.setCookie("app", attacker.cookie("app")) // the planted one wins
		r := victim.get("/me")
		if r.status != http.StatusUnauthorized || r.user() != "" {
			t.Fatalf("victim with a planted session cookie: %d %v", r.status, r.body)
		}
		if len(r.cookies) != 0 {
			t.Fatalf("refusal wrote cookies: %v", r.header["Set-Cookie"])
		}
		victim.setCookie("app", realSession)
		if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim after the planted cookie is gone: %d %v", r.status, r.body)
		}
		if r := attacker.get("/me"); r.user() != "mallory" {
			t.Fatalf("attacker: %v", r.body)
		}
	})
}

// TestPlantedDeadSessionCookieLeavesVictimToken: a planted session cookie
// naming a record that is gone (the attacker's own, long expired) makes no
// request of the victim expire her token cookie, not even when verify
// finds no record: once the planted cookie is gone she is signed in again.
func TestPlantedDeadSessionCookieLeavesVictimToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		planted := attacker.cookie("app")
		e.clock.Advance(2 * time.Hour) // attacker's record expired and forgotten
		victim.login("alice")
		real := victim.cookie("app")
		victim.setCookie("app", planted)
		if r := victim.get("/public"); len(r.cookies) != 0 {
			t.Fatalf("a planted dead session cookie made the response write cookies: %v", r.header["Set-Cookie"])
		}
		victim.setCookie("app", real) // the planted cookie goes away
		if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim signed out by a planted session cookie: %d %v", r.status, r.body)
		}
	})
}

// TestPlantedRevokedSessionCookieLeavesVictimToken: the same with a planted
// cookie naming a revoked (retained) record: Require refuses the distrusted
// request with 401 but expires neither the victim's token nor her session
// cookie.
func TestPlantedRevokedSessionCookieLeavesVictimToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		if _, err := e.guard.RevokeUser(context.Background(), "mallory"); err != nil {
			t.Fatal(err)
		}
		victim.login("alice")
		real := victim.cookie("app")
		victim.setCookie("app", attacker.cookie("app"))
		if r := victim.get("/me"); r.status != http.StatusUnauthorized || len(r.cookies) != 0 {
			t.Fatalf("planted revoked session cookie: %d %v %v, want 401 writing no cookie", r.status, r.body, r.header["Set-Cookie"])
		}
		victim.setCookie("app", real)
		if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim signed out by a planted session cookie: %d %v", r.status, r.body)
		}
	})
}

// TestDistrustedGorillaSaveWritesNoCookie: a distrusted request sees a
// stand-in for its session, and a handler that saves the stand-in through
// gorilla directly (Session().Save(r, w)), around the wrapper, still sends
// no cookie: otherwise the fresh session's cookie would go out with Path=/,
// and an attacker's session cookie planted next to the victim's token would
// make her own request overwrite her session cookie. Nothing a distrusted
// request writes reaches the browser; a verified request's gorilla Save
// still goes out.
func TestDistrustedGorillaSaveWritesNoCookie(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.POST("/gorilla-save", func(c *gin.Context) {
				gs := sessions.Default(c).(interface{ Session() *gsessions.Session }).Session()
				gs.Values["note"] = "x"
				if err := gs.Save(c.Request, c.Writer); err != nil {
					c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
					return
				}
				c.JSON(http.StatusOK, gin.H{"saved": true})
			})
		}))
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		victim.login("alice")
		real := victim.cookie("app")
		victim.setCookie("app", attacker.cookie("app"))
		if r := victim.post("/gorilla-save"); len(r.cookies) != 0 {
			t.Fatalf("a distrusted request's gorilla Save sent cookies: %v", r.header["Set-Cookie"])
		}
		victim.setCookie("app", real)
		if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim after the planted cookie's request: %d %v", r.status, r.body)
		}
		// A signed-in request's own gorilla Save still goes out.
		if r := victim.post("/gorilla-save"); !hasCookie(r.cookies, "app") {
			t.Fatalf("a verified request's gorilla Save sent no session cookie: %v", r.header["Set-Cookie"])
		}
	})
}

// getRecorder is a Store that remembers every handle Get was asked for.
type getRecorder struct {
	storeext.Store
	mu   sync.Mutex
	asks []string
}

// UseClock passes the Guard's clock on to the wrapped store.
func (s *getRecorder) UseClock(now func() time.Time) {
	if cu, ok := s.Store.(storeext.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (s *getRecorder) Get(ctx context.Context, h string) (storeext.Record, error) {
	s.mu.Lock()
	s.asks = append(s.asks, h)
	s.mu.Unlock()
	return s.Store.Get(ctx, h)
}

// A handle in the session that no build mints (an application that wrote
// under ginsecure's key, a session store that mangled it) never reaches
// the store as a key: the request is simply not signed in.
func TestOddSessionHandleNeverReachesTheStore(t *testing.T) {
	const odd = "../../{x}*"
	rec := &getRecorder{Store: ginsecure.NewMemoryStore()}
	e := newEnv(t, "cookie", ginsecure.Config{}, withStore(rec), withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
		r.POST("/plant", func(c *gin.Context) {
			s := sessions.Default(c)
			s.Set("gsec.h", odd)
			if err := s.Save(); err != nil {
				c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
				return
			}
			c.JSON(http.StatusOK, gin.H{})
		})
	}))
	b := e.browser()
	b.login("alice")
	if r := b.post("/plant"); r.status != http.StatusOK {
		t.Fatalf("plant: %d %v", r.status, r.body)
	}
	// On the cookie store the handle is the signed-in session's identity:
	// overwritten by the application, the session no longer belongs to the
	// token's record (anonymous), and the odd value is never a store key.
	if r := b.get("/me"); r.status != http.StatusUnauthorized || r.user() != "" {
		t.Fatalf("odd handle next to the token: %d %v, want 401", r.status, r.body)
	}
	// Without the token, the session's handle is checked before any lookup.
	anon := e.browser()
	anon.setCookie("app", b.cookie("app"))
	if r := anon.get("/cart"); r.status != http.StatusOK || r.user() != "" {
		t.Fatalf("odd handle without the token: %d %v", r.status, r.body)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, h := range rec.asks {
		if h == odd {
			t.Fatalf("the store was asked for %q", odd)
		}
	}
}

// TestSessionAnonymousWritesWorkAfterTheSignedInSessionEnded: once a
// signed-in session has ended (an idle timeout noticed by the next request,
// or a Logout whose response never reached the browser: a cancelled
// navigation), the browser still holds that session's cookie, and is
// anonymous (right). As an anonymous visitor it must be able to use its
// session again: add to a guest cart, keep a flash, store a CSRF secret for
// the sign-in form. Nothing written now can resurrect the ended session's
// data (it was deleted, and the request saw it empty). Today the tombstone
// retireSession leaves refuses every write of that session ID with
// ErrStaleCredentials for AbsoluteTimeout (12 h), and the response drops
// the Set-Cookie, so the browser never gets a session it could write.
func TestSessionAnonymousWritesWorkAfterTheSignedInSessionEnded(t *testing.T) {
	for _, how := range []string{"idle-timeout", "lost-logout-response"} {
		t.Run(how, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				b := e.browser()
				b.login("alice")
				if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK {
					t.Fatalf("POST /cart signed in: %d %v", r.status, r.body)
				}
				switch how {
				case "idle-timeout":
					e.clock.Advance(31 * time.Minute)
					if r := b.get("/public"); r.status != http.StatusOK || r.user() != "" {
						t.Fatalf("after the idle timeout, GET /public: %d %v", r.status, r.body)
					}
				case "lost-logout-response":
					if r := e.send("POST", "/logout", b.header()); r.status != http.StatusOK {
						t.Fatalf("logout: %d %v", r.status, r.body) // its response never reaches b
					}
				}
				for i, when := range []time.Duration{0, time.Minute, 6 * time.Hour} {
					e.clock.Advance(when)
					item := fmt.Sprintf("guest-%d", i)
					w := b.post("/cart?item=" + item)
					if w.status != http.StatusOK || w.user() != "" {
						t.Errorf("%v after the session ended, anonymous POST /cart: %d %v; want 200 (a guest cart)", when, w.status, w.body)
						continue
					}
					if r := b.get("/cart"); r.body["cart"] != item {
						t.Errorf("%v after the session ended, GET /cart: %v; want the guest cart %q", when, r.body, item)
					}
				}
				if r := b.get("/cart"); r.body["cart"] == "alice-private" {
					t.Errorf("the ended session's data came back: %v", r.body)
				}
				b.login("bob")
				if r := b.get("/cart"); r.body["cart"] == "alice-private" {
					t.Errorf("bob's login carried alice's data: %v", r.body)
				}
			})
		})
	}
}

// TestSessionForgottenRecordsDataIsNotHandedToTheNextUser: alice walks away
// from a shared computer and her record is forgotten by the store (idle
// timeout plus RetainExpired: nobody came back within the hour, so nothing
// noticed the timeout and retired her session). The session store still
// holds her signed-in session (gin-contrib's memstore never expires it,
// Redis keeps it for the cookie's MaxAge). An anonymous GET sees it empty
// (emptySession), but bob's login on the same browser reads the session
// afresh from the store (loginValues) and carries alice's data into his
// signed-in session.
func TestSessionForgottenRecordsDataIsNotHandedToTheNextUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("POST /cart: %d %v", r.status, r.body)
		}
		e.clock.Advance(2 * time.Hour) // idle timeout + RetainExpired: the record is gone
		if r := b.get("/cart"); r.user() != "" || r.body["cart"] == "alice-private" {
			t.Fatalf("anonymous GET /cart after alice's record was forgotten: %d %v", r.status, r.body)
		}
		b.login("bob")
		if r := b.get("/cart"); r.body["cart"] == "alice-private" {
			t.Errorf("bob's login after alice's record was forgotten carried alice's signed-in data over: %v", r.body)
		}
	})
}

// TestSessionManyTossedPredecessorsDoNotOverwriteTheVictimsSession: the
// single-toss case above, with the tossed predecessor sent eight times in
// front of the victim's own session cookie. A sibling subdomain can set
// one cookie of the name per matching path (Domain=parent; Path=/, /a,
// /a/, /a/b, /a/b/, ... all match a request to /a/b/c/d), all sent before
// the victim's host-only Path=/ cookie. The record's own wins, however
// many there are; and where it is not among them, the request must not
// heal from the first one (on the cookie store the attacker's values would
// be adopted as the victim's session and sent, overwriting the victim's
// own cookie): foreign, anonymous, nothing written.
func TestSessionManyTossedPredecessorsDoNotOverwriteTheVictimsSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		_, victim, sx := plantedPredecessor(t, e) // victim's cart: alice-secret
		e.clock.Advance(10 * time.Minute)
		own := victim.cookie(graceSessionCookie)
		tok := victim.cookie(graceTokenCookie)
		hdr := strings.Repeat(graceSessionCookie+"="+sx+"; ", 8) + graceSessionCookie + "=" + own + "; " + graceTokenCookie + "=" + tok
		r := e.send("GET", "/cart", hdr)
		if r.body["cart"] == "planted" {
			t.Errorf("victim's request with eight tossed predecessors in front: the app sees the attacker's cart %q", r.body["cart"])
		}
		victim.apply(r)
		if got := victim.get("/cart"); got.user() != "alice" || got.body["cart"] != "alice-secret" {
			t.Errorf("after eight tossed predecessors (response sets %q), victim GET /cart: %d %v; want alice with cart \"alice-secret\"",
				graceCookies(r.cookies), got.status, got.body)
		}
	})
}

// tossedCookies returns session cookies of the app's name ("app=value") as
// a sibling subdomain tosses them in front of the real one: signed with the
// app's key (copies of sessions the attacker got from the app itself),
// each naming a session of its own, none the victim's. The first is the
// attacker's own signed-in session; the others are generated until there
// are n of them, or, with n < 0, until the cookies fill size bytes.
func tossedCookies(t testing.TB, e *env, n, size int, keys ...[]byte) []string {
	t.Helper()
	attacker := e.browser()
	attacker.login("mallory")
	out := []string{"app=" + attacker.cookie("app")}
	total := len(out[0])
	if keys == nil {
		keys = [][]byte{sessionSecret}
	}
	codecs := securecookie.CodecsFromPairs(keys...)
	for i := 1; n < 0 || i < n; i++ {
		var v any = fmt.Sprintf("TOSSED%046d", i) // the form of a memstore or Redis session ID
		if e.kind == "cookie" {
			v = map[any]any{"gsec.s": fmt.Sprintf("tossed-%d", i), "cart": "planted"}
		}
		s, err := securecookie.EncodeMulti("app", v, codecs...)
		if err != nil {
			t.Fatal(err)
		}
		c := "app=" + s
		if n < 0 && total+len(c)+2 > size {
			break
		}
		out = append(out, c)
		total += len(c) + 2
	}
	return out
}

// tossCounts are the numbers of tossed cookies the tests try: a sibling's
// one per matching path, a few hundred, and more than net/http hands out
// (it gives no cookie at all past 3000, GODEBUG httpcookiemaxnum).
var tossCounts = []int{8, 200, 3200}

// TestSessionTossedCookiesNeverUnseatTheOwner: however many session
// cookies of the app's name a sibling subdomain tosses in front of the
// signed-in user's own (or after it), up to a Cookie header near the
// server's MaxHeaderBytes, the record's own session wins: the user is
// signed in with their data, and nothing of ours is written or expired.
// A header over MaxHeaderBytes is net/http's 431, never a 500.
func TestSessionTossedCookiesNeverUnseatTheOwner(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=alice-card"); r.status != http.StatusOK {
			t.Fatalf("alice's cart: %d %v", r.status, r.body)
		}
		own := "app=" + b.cookie("app")
		tok := tokCookieName + "=" + b.cookie(tokCookieName)
		check := func(what string, tossed []string) {
			t.Helper()
			for _, order := range []struct {
				name string
				hdr  []string
			}{
				{"in front of", append(append(slices.Clone(tossed), own), tok)},
				{"behind", append(append([]string{own}, tossed...), tok)},
			} {
				r := e.send("GET", "/cart", strings.Join(order.hdr, "; "))
				if r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "alice-card" {
					t.Errorf("%s tossed cookies %s alice's: %d %v, want alice with her cart", what, order.name, r.status, r.body)
				}
				if got := graceCookies(r.cookies); got != "" {
					t.Errorf("%s tossed cookies %s alice's: response sets %q, want nothing", what, order.name, got)
				}
			}
		}
		for _, n := range tossCounts {
			check(fmt.Sprint(n), tossedCookies(t, e, n, 0))
		}
		near := tossedCookies(t, e, -1, 1<<20-len(own)-len(tok)-64)
		check(fmt.Sprintf("%d (a header near 1 MB)", len(near)), near)
		over := strings.Join(append(tossedCookies(t, e, -1, 1<<20+8192), own, tok), "; ")
		if r, err := e.trySend("GET", "/cart", over); err == nil && r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a Cookie header over MaxHeaderBytes: %d %v, want 431", r.status, r.body)
		}
	})
}

// TestSessionTossedCookiesWithAnEncryptingStore: the same with a session
// store that encrypts as well as signs (gin-contrib's NewStore(hashKey,
// encryptionKey)): every tossed cookie is verified and decrypted, and the
// record's own still wins.
func TestSessionTossedCookiesWithAnEncryptingStore(t *testing.T) {
	keys := [][]byte{sessionSecret, []byte("abcdefghijklmnopqrstuvwxyz012345")}
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{}, withSessionKeys(keys...))
			b := e.browser()
			b.login("alice")
			b.post("/cart?item=alice-card")
			own := "app=" + b.cookie("app")
			tok := tokCookieName + "=" + b.cookie(tokCookieName)
			for _, n := range tossCounts {
				hdr := strings.Join(append(tossedCookies(t, e, n, 0, keys...), own, tok), "; ")
				if r := e.send("GET", "/cart", hdr); r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "alice-card" {
					t.Errorf("%d tossed cookies in front of alice's: %d %v, want alice with her cart", n, r.status, r.body)
				}
			}
		})
	}
}

// TestSessionLoginWithTossedCookiesInFront: signing in on a browser that
// sends tossed session cookies in front of everything succeeds, and the
// new session is the one the browser uses afterwards: the login's
// host-only cookie cannot replace a sibling's Domain cookies, so they keep
// coming in front of it, and the record's own wins. Signing in again from
// that session carries its data over.
func TestSessionLoginWithTossedCookiesInFront(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		for _, n := range tossCounts {
			tossed := strings.Join(tossedCookies(t, e, n, 0), "; ")
			own, tok := "", ""
			hdr := func() string { return tossed + "; app=" + own + "; " + tokCookieName + "=" + tok }
			apply := func(r reply) {
				if v, age, ok := cookieValue(r.cookies, "app"); ok && age >= 0 {
					own = v
				}
				if v, age, ok := cookieValue(r.cookies, tokCookieName); ok && age >= 0 {
					tok = v
				}
			}
			r := e.send("POST", "/login?user=alice", tossed)
			if r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("%d tossed: login: %d %v", n, r.status, r.body)
			}
			apply(r)
			if r = e.send("POST", "/cart?item=alice-card", hdr()); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("%d tossed: POST /cart after the login: %d %v, want 200 alice", n, r.status, r.body)
			}
			apply(r)
			if r = e.send("GET", "/cart", hdr()); r.user() != "alice" || r.body["cart"] != "alice-card" {
				t.Fatalf("%d tossed: GET /cart after the login: %d %v, want alice with her cart", n, r.status, r.body)
			}
			if r = e.send("POST", "/login?user=alice", hdr()); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("%d tossed: signing in again: %d %v", n, r.status, r.body)
			}
			apply(r)
			if r = e.send("GET", "/cart", hdr()); r.user() != "alice" || r.body["cart"] != "alice-card" {
				t.Fatalf("%d tossed: GET /cart after signing in again: %d %v, want alice with her cart", n, r.status, r.body)
			}
		}
	})
}

// TestSessionTossedPredecessorsWithoutTheOwnCookieAreNotAdopted: several
// session cookies of the name, none the record's own (the browser lost
// its own), the first a tossed copy of the login's predecessor: the
// request never adopts the attacker's values from it, and on the cookie
// store (where healing would adopt them and send them as the victim's
// session) writes no session cookie.
func TestSessionTossedPredecessorsWithoutTheOwnCookieAreNotAdopted(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		_, victim, sx := plantedPredecessor(t, e)
		tok := victim.cookie(graceTokenCookie)
		hdr := strings.Repeat(graceSessionCookie+"="+sx+"; ", 2) + graceTokenCookie + "=" + tok
		r := e.send("GET", "/cart", hdr)
		if r.body["cart"] == "planted" {
			t.Errorf("a tossed predecessor twice without the own cookie: %d %v, the attacker's cart adopted", r.status, r.body)
		}
		if got := graceCookies(r.cookies); kind == "cookie" && strings.Contains(got, "app") {
			t.Errorf("a tossed predecessor twice without the own cookie: response sets %q, want no session cookie", got)
		}
	})
}
