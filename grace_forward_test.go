package ginsecure_test

// Forwarding (grace.go, forward): a re-login revokes the replaced record
// and names its successor; a request that presents the replaced record's
// current token next to the successor's own session cookie is served as
// the successor and sent a fresh token of it. These tests attack it: the
// forward must behave like every other old-token path (one token per
// rotation whatever the number of parallel requests, a replay once the
// browser has moved on, no privilege the copy never had, nothing minted
// for a refused request).

import (
	"net/http"
	"testing"
	"time"
)

// forwardSetup signs alice in, lets a rotating request run across a
// re-login of the same user and applies its response last: the browser
// then holds the replaced record's rotated token next to the successor's
// session cookie, the state forward exists for. It returns that Cookie
// header (the first forward has not happened yet).
func forwardSetup(t *testing.T, e *env, b *browser) string {
	t.Helper()
	b.login("alice")
	e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
	release := e.holdAt(t, "/hold/auth?id=slow", "slow", b.header())
	b.login("alice")
	slow := release()
	if slow.status != http.StatusOK || !hasCookie(slow.cookies, graceTokenCookie) {
		t.Fatalf("the slow request did not rotate: %d %v", slow.status, slow.body)
	}
	b.apply(slow) // the rotating response of the replaced record lands last
	return b.header()
}

// TestForwardIsNotAReplayLicence: a copy of the browser's cookies taken
// while it held the replaced record's token next to the new session (the
// README's thief) is presented after the victim moved on. A late response
// of the browser's own carries that very token too, so the copy cannot be
// told from it: like a pending token, it is sent the same forwarded token
// (README, "What a thief holding a copy can do"), never one of its own, so
// the victim is never pushed out; and once the victim's session rotates
// (the next periodic rotation, confirmed by the victim), the copy is worth
// nothing.
func TestForwardIsNotAReplayLicence(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		copyHdr := forwardSetup(t, e, b) // the thief's copy

		// The victim's browser is forwarded, and moves on.
		first := b.get("/me")
		if first.status != http.StatusOK || first.user() != "alice" || !hasCookie(first.cookies, graceTokenCookie) {
			t.Fatalf("victim's first request after the late rotating response: %d %v (token sent: %v)", first.status, first.body, hasCookie(first.cookies, graceTokenCookie))
		}
		forwarded := b.cookie(graceTokenCookie)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim with the forwarded token: %d %v", r.status, r.body)
		}
		e.clock.Advance(time.Minute) // well past the grace window

		// The thief presents the stale copy, twice: the same forwarded
		// token, never a new one.
		for i := 1; i <= 2; i++ {
			r := e.send("GET", "/me", copyHdr)
			for _, ck := range r.cookies {
				if ck.Name == graceTokenCookie && ck.Value != forwarded {
					t.Errorf("thief's copy, request %d: sent a token of its own (a rotation the victim does not hold)", i)
				}
			}
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the victim after the thief's requests: %d %v; the thief pushed her out", r.status, r.body)
		}
		// The victim's next rotation ends the copy.
		e.clock.Advance(graceRotateEvery)
		if r := b.get("/me"); r.status != http.StatusOK || !hasCookie(r.cookies, graceTokenCookie) {
			t.Fatalf("the victim's periodic rotation: %d %v", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the victim on its rotated token: %d %v", r.status, r.body)
		}
		if r := e.send("GET", "/me", copyHdr); r.status != http.StatusUnauthorized || hasCookie(r.cookies, graceTokenCookie) {
			t.Fatalf("thief's copy after the victim's rotation: %d %v; want 401 and no token", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the victim at the end: %d %v", r.status, r.body)
		}
	})
}

// TestForwardParallelRequestsAnyOrder: once the late rotating response has
// put the replaced record's token back next to the new session, the page
// fires three requests at once (every page load does). Each is forwarded,
// and all three are sent the one forwarded token: whichever response the
// browser applies last, it stays signed in (DESIGN.md, "Ordering principle").
func TestForwardParallelRequestsAnyOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"123", "231", "321"} {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := e.browser()
			hdr := forwardSetup(t, e, b)
			var rs [3]reply
			for i := range rs {
				if rs[i] = e.send("GET", "/me", hdr); rs[i].status != http.StatusOK || rs[i].user() != "alice" {
					t.Fatalf("parallel request %d: %d %v", i+1, rs[i].status, rs[i].body)
				}
			}
			for _, c := range order {
				b.apply(rs[c-'1'])
			}
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Errorf("three parallel forwarded requests, responses applied in order %q: /me %d %v; want alice", order, r.status, r.body)
				continue
			}
			e.clock.Advance(time.Minute)
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Errorf("order %q, a minute later: /me %d %v; want alice", order, r.status, r.body)
			}
		}
	})
}

// TestForwardRefusedByIPMintsNothing: IP binding refuses a copy used from
// another network. With KeepSessionOnIPMismatch (refuse the request, keep
// the session) a refused request changes nothing: a forward mints only
// after the IP check passed on the successor, so the 401 carries no token
// and the victim's own token stays current.
func TestForwardRefusedByIPMintsNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		cfg := graceConfig(graceWindow)
		cfg.KeepSessionOnIPMismatch = true
		e := newEnv(t, kind, cfg)
		b := e.browser()
		copyHdr := forwardSetup(t, e, b)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim forwarded: %d %v", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim: %d %v", r.status, r.body)
		}
		thief := e.browserFrom("127.0.0.2")
		for i := 1; i <= 2; i++ {
			r := thief.do("GET", "/me", "Cookie", copyHdr)
			if r.status == http.StatusOK {
				t.Fatalf("thief from another address served: %v", r.body)
			}
			if hasCookie(r.cookies, graceTokenCookie) {
				t.Errorf("request %d refused for its address (%d %v) was sent a fresh token of the victim's session", i, r.status, r.body)
			}
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("victim after two refused requests from another network (session to be kept): /me %d %v; want alice", r.status, r.body)
		}
	})
}

// TestForwardNeverRaisesPrivilege: on the cookie store a Renew keeps the
// session's identity (its handle), so the copy's session cookie from before
// the Renew still names the successor's session, and the replaced record's
// token is forwarded with the successor's current privilege: the Renew's
// step-up, which the copy never had (DESIGN.md, "Grace period": privilege
// never rises in the window; README: "A Renew's raised privilege is never handed to the
// pre-Renew token"). /admin demands a login or Renew in the last 10 minutes.
func TestForwardNeverRaisesPrivilege(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		copyHdr := forwardSetup(t, e, b)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim forwarded: %d %v", r.status, r.body)
		}
		e.clock.Advance(11 * time.Minute) // the login (and the copy's token) is too old for /admin
		if r := b.get("/admin"); r.status == http.StatusOK {
			t.Fatalf("victim reached /admin with an 11-minute-old login: %v", r.body)
		}
		if r := b.post("/renew"); r.status != http.StatusOK {
			t.Fatalf("victim's Renew: %d %v", r.status, r.body)
		}
		if r := b.get("/admin"); r.status != http.StatusOK {
			t.Fatalf("victim after Renew: /admin %d %v", r.status, r.body)
		}
		if r := e.send("GET", "/admin", copyHdr); r.status == http.StatusOK && r.user() == "alice" {
			t.Errorf("a copy from before the Renew reached /admin (MaxAuthAge) with the Renew's step-up: %d %v", r.status, r.body)
		}
	})
}

// TestForwardSurvivesADoubleSubmittedLogin: TestLoginNotUndoneByARotationInFlight
// with the sign-in form submitted twice (a double click, which the
// sibling mechanism exists for). The second login joins the first one's
// record and, as Login does, leaves the replaced record revoked with its
// successor named: the rotating response of the replaced record that
// lands last is forwarded, in either order of the two logins' responses.
func TestForwardSurvivesADoubleSubmittedLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"12", "21"} {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := e.browser()
			b.login("alice")
			e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
			hdr := b.header()
			release := e.holdAt(t, "/hold/auth?id=slow", "slow", hdr)
			var ls [2]reply
			for i := range ls {
				if ls[i] = e.send("POST", "/login?user=alice", hdr); ls[i].status != http.StatusOK || ls[i].user() != "alice" {
					t.Fatalf("login %d: %d %v", i+1, ls[i].status, ls[i].body)
				}
			}
			for _, c := range order {
				b.apply(ls[c-'1'])
			}
			slow := release()
			if slow.status != http.StatusOK || !hasCookie(slow.cookies, graceTokenCookie) {
				t.Fatalf("the slow request did not rotate: %d %v", slow.status, slow.body)
			}
			b.apply(slow) // the rotating response of the replaced record lands last
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Errorf("double-submitted re-login (responses %q), then the rotating response of a request verified before it lands: /me %d %v; want alice",
					order, r.status, r.body)
			}
		}
	})
}

// TestForwardSurvivesAPresentedDoubleSubmittedLogin: as above, but the
// browser uses its new session (presenting the joined login's token)
// before the rotating response of the replaced record lands. Presenting
// the successor's token is no rotation of it: the late response is
// forwarded as it is after a single login's record was presented
// (DESIGN.md, "Outcomes"), and the write made meanwhile is read back.
func TestForwardSurvivesAPresentedDoubleSubmittedLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
		hdr := b.header()
		release := e.holdAt(t, "/hold/auth?id=slow", "slow", hdr)
		for i := range 2 {
			l := e.send("POST", "/login?user=alice", hdr)
			if l.status != http.StatusOK || l.user() != "alice" {
				t.Fatalf("login %d: %d %v", i+1, l.status, l.body)
			}
			b.apply(l)
		}
		if r := b.post("/cart?item=after-login"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("write with the joined login's token: %d %v", r.status, r.body)
		}
		slow := release()
		if slow.status != http.StatusOK || !hasCookie(slow.cookies, graceTokenCookie) {
			t.Fatalf("the slow request did not rotate: %d %v", slow.status, slow.body)
		}
		b.apply(slow) // the rotating response of the replaced record lands last
		if r := b.get("/cart"); r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "after-login" {
			t.Errorf("double-submitted re-login, used, then the rotating response of a request verified before it lands: /cart %d %v; want alice with cart after-login",
				r.status, r.body)
		}
	})
}

// TestForwardNeverCrossesUsers: a shared computer. Alice, signed in on
// it, takes a copy of her own cookies and lets one request rotate her
// token from that copy (her own response: she reads the new token, and
// the kiosk's browser never presents it). She walks away without signing
// out; Bob signs in on the same browser, over her session. Login marks
// Alice's record replaced by Bob's and leaves a marker from her session
// to his record: her never-presented token next to her own old session
// cookie (healed through that marker) is then forwarded into Bob's
// session and sent a token of it. A re-login of the same user is what
// forwarding exists for; another user's login must leave Alice's
// credentials simply dead (DESIGN.md, "Outcomes"; "Bad input": never a
// change to another user's session).
func TestForwardNeverCrossesUsers(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		kiosk := e.browser()
		kiosk.login("alice")
		e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
		alice := e.browser()
		kiosk.copyTo(alice)
		rot := alice.get("/me") // Alice's own rotating request, from her copy
		if rot.status != http.StatusOK || rot.user() != "alice" || !hasCookie(rot.cookies, graceTokenCookie) {
			t.Fatalf("alice's rotating request: %d %v", rot.status, rot.body)
		}
		// The kiosk still holds her pre-rotation token and session; Bob
		// signs in over them.
		kiosk.login("bob")
		if r := kiosk.get("/me"); r.status != http.StatusOK || r.user() != "bob" {
			t.Fatalf("bob on the kiosk: %d %v", r.status, r.body)
		}
		// Alice, from the same network, with her rotated token and her
		// own old session cookie.
		r := alice.get("/me")
		if r.status == http.StatusOK && r.user() == "bob" {
			t.Errorf("alice's own rotated token next to her own old session cookie was served as bob (token of bob's session sent: %v)", hasCookie(r.cookies, graceTokenCookie))
		}
		if r := alice.get("/me"); r.status == http.StatusOK && r.user() == "bob" {
			t.Errorf("alice, with the token she was sent, is bob: %v", r.body)
		}
	})
}

// TestForwardAfterARetriedLogin: a rotating request is in flight when
// alice signs in again; that login's response is lost (a dropped
// connection), and she submits the form again 40 s later (too late to
// join the first login's record). The second login replaces the same
// record, but ReplacedBy keeps naming the first login's record, which the
// browser never saw: when the rotating response finally lands last, its
// token is forwarded nowhere, and the browser, which did sign in, is
// anonymous (README: "forwarded ... however late").
func TestForwardAfterARetriedLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
		hdr := b.header()
		done := make(chan reply, 1)
		go func() {
			r, err := e.trySend("GET", "/hold/auth?id=slow", hdr)
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		if err := e.holds.waitEntered("slow"); err != nil {
			t.Fatal(err)
		}
		if r := e.send("POST", "/login?user=alice", hdr); r.status != http.StatusOK { // its response is lost
			t.Fatalf("first login: %d %v", r.status, r.body)
		}
		e.clock.Advance(40 * time.Second)
		b.login("alice") // the retry lands
		e.holds.free("slow")
		slow := <-done
		if slow.status != http.StatusOK || !hasCookie(slow.cookies, graceTokenCookie) {
			t.Fatalf("the slow request did not rotate: %d %v", slow.status, slow.body)
		}
		b.apply(slow) // the rotating response of the replaced record lands last
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("login retried after a lost response, then the rotating response of a request verified before both lands: /me %d %v; want alice", r.status, r.body)
		}
	})
}

// TestForwardNeedsATokenTheBrowserNeverPresented: forwarding serves the
// replaced record's current token only if the browser never presented it
// (a rotation's response in flight across the login). A late response of
// another credential (the first of two double-submitted logins landing
// after the browser used the second) must not make the presented current
// token look unpresented: else a thief's copy of the cookies taken before
// the user signed in again is forwarded into the new login, which was to
// cut the copy off.
func TestForwardNeedsATokenTheBrowserNeverPresented(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
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
		stolen := b.header() // the thief's copy: the current token, presented
		e.clock.Advance(3 * time.Second)
		b.apply(first)   // the first login's response lands late
		b.login("alice") // and the browser signs in again with it
		r := e.send("GET", "/me", stolen)
		if r.status != http.StatusUnauthorized || hasCookie(r.cookies, graceTokenCookie) {
			t.Errorf("a copy taken before the re-login: %d %v (token sent: %v); want 401 and no token", r.status, r.body, hasCookie(r.cookies, graceTokenCookie))
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("the browser after the re-login: %d %v", r.status, r.body)
		}
	})
}
