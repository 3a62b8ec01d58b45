package ginsecure_test

// Variants of "Superseded credentials" (DESIGN.md): a presented token
// three or four rotations back is a replay (within the last 4 kept); a
// Renew's response that lands after its reissue and after a periodic
// rotation of the reissued token is still a late response; three joined
// logins whose responses land minutes apart are all late responses.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestSupersededPresentedTokenThreeAndFourBackIsAReplay: the browser
// presented a token, then moved on 3 or 4 rotations (every one presented).
// A copy of that token after the window is a replay: 401 replay, one
// EventReplay, the record revoked.
func TestSupersededPresentedTokenThreeAndFourBackIsAReplay(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, back := range []int{3, 4} {
			t.Run(fmt.Sprintf("%d back", back), func(t *testing.T) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				b := e.browser()
				b.login("alice")
				stolen := rotateAndUse(t, e, b)
				for range back - 1 {
					rotateAndUse(t, e, b)
				}
				e.clock.Advance(graceWindow + time.Second)
				if r := e.send("GET", "/public", stolen); r.user() != "" || r.body["reason"] != "replay" {
					t.Fatalf("a copy of the token %d rotations back on a public page: %d %v; want anonymous, reason replay", back, r.status, r.body)
				}
				if n := e.events.count(ginsecure.EventReplay); n != 1 {
					t.Errorf("%d replay events; want 1", n)
				}
				if r := b.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("the browser after the replay: %d %v; want 401", r.status, r.body)
				}
			})
		}
	})
}

// TestSupersededRenewResponseAfterReissueAndRotation: a Renew's response
// is held up; the old token is reissued after 30 s, the browser rotates
// the reissued token 15 minutes later and uses the new one; then the
// Renew's response lands. Its token, never presented and now two
// supersessions back, is a late response: served below the Renew's
// privilege, answered with the current token, nothing revoked.
func TestSupersededRenewResponseAfterReissueAndRotation(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		e.clock.Advance(11 * time.Minute) // too old for /admin
		late := e.send("POST", "/renew", b.header())
		if late.status != http.StatusOK || tokenOf(late.cookies) == "" {
			t.Fatalf("renew: %d %v", late.status, late.body)
		}
		e.clock.Advance(31 * time.Second)
		if r := b.get("/me"); r.status != http.StatusOK || tokenOf(r.cookies) == "" {
			t.Fatalf("the old token after the unconfirmed grace: %d %v; want a reissued token", r.status, r.body)
		}
		b.get("/me") // presents the reissue
		e.clock.Advance(graceRotateEvery + time.Second)
		if r := b.get("/me"); r.status != http.StatusOK || tokenOf(r.cookies) == "" {
			t.Fatalf("a periodic rotation: %d %v", r.status, r.body)
		}
		b.get("/me")
		current := b.cookie(graceTokenCookie)
		e.clock.Advance(time.Minute)
		b.apply(late)
		r := b.get("/admin")
		if r.status != http.StatusForbidden || r.errCode() != "reauth_required" {
			t.Errorf("the Renew's token, 16 minutes late, on /admin: %d %v; want 403 reauth_required", r.status, r.body)
		}
		if got := tokenOf(r.cookies); got != current {
			t.Errorf("the Renew's late token was answered with %q; want the current %q", got, current)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("after the late Renew response: %d %v; want alice", r.status, r.body)
		}
		wantNoRevocation(t, e)
	})
}

// TestSupersededThreeJoinedLoginsLandMinutesApart: three sign-in submits
// from one session join one record; the browser uses the third's
// response, then the first's lands a minute later and the second's two
// minutes after that. Each is a late response at its first presentation:
// served, answered with the current token, never revoked.
func TestSupersededThreeJoinedLoginsLandMinutesApart(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.post("/cart?item=apple")
		hdr := b.header()
		var ls [3]reply
		for i := range ls {
			if ls[i] = e.send("POST", "/login?user=alice", hdr); ls[i].status != http.StatusOK {
				t.Fatalf("login %d: %d %v", i+1, ls[i].status, ls[i].body)
			}
		}
		b.apply(ls[2])
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the third login's cookies: %d %v", r.status, r.body)
		}
		current := b.cookie(graceTokenCookie)
		for _, i := range []int{0, 1} {
			e.clock.Advance(time.Duration(i+1) * time.Minute)
			b.apply(ls[i])
			r := b.get("/me")
			if r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("login %d's response landing late: %d %v; want 200 alice", i+1, r.status, r.body)
			}
			if got := tokenOf(r.cookies); got != current {
				t.Errorf("login %d's token answered with %q; want the current %q", i+1, got, current)
			}
			if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "apple" {
				t.Errorf("after login %d's late response: %v; want alice with apple", i+1, r.body)
			}
		}
		wantNoRevocation(t, e)
		if n := len(e.sessions(t, "alice")); n != 1 {
			t.Errorf("alice has %d sessions; want 1 (the three joined)", n)
		}
	})
}

// TestReplayDecidedBeforeTheNetworkCheck: a copy of a token the browser
// presented, back after its window from another network beside a foreign
// session cookie, is a replay (the record ends, EventReplay), with the
// mismatch kept or not: a thief cannot escape replay detection by coming
// from elsewhere (DESIGN.md, "Superseded credentials").
func TestReplayDecidedBeforeTheNetworkCheck(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
				cfg := graceConfig(graceWindow)
				cfg.KeepSessionOnIPMismatch = keep
				e := newEnv(t, kind, cfg)
				b := e.browserFrom("127.0.0.1")
				b.login("alice")
				stolen := b.clone()
				rotateAndUse(t, e, b)
				e.clock.Advance(graceWindow + time.Second)
				away := e.browserFrom("127.0.0.5")
				stolen.copyTo(away)
				other := e.browser()
				other.post("/cart?item=x")
				away.setCookie("app", other.cookie("app"))
				away.get("/public")
				if n := e.events.count(ginsecure.EventReplay); n != 1 {
					t.Errorf("%d replay events; want 1", n)
				}
				if r := b.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("the browser after the replayed copy: %d %v; want 401", r.status, r.body)
				}
			})
		}
	})
}

// TestLateResponseRefusedElsewhereStaysALateResponse: a copy of a Renew's
// token the browser never presented is shown first from another network
// (KeepSessionOnIPMismatch: refused, the record kept). That refused
// request presents nothing: when the browser's own late response lands
// and it presents the token from home, it is still a late response,
// served, and nothing is revoked.
func TestLateResponseRefusedElsewhereStaysALateResponse(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		cfg := graceConfig(graceWindow)
		cfg.KeepSessionOnIPMismatch = true
		e := newEnv(t, kind, cfg)
		b := e.browserFrom("127.0.0.1")
		b.login("alice")
		late := e.send("POST", "/renew", b.header())
		if late.status != http.StatusOK || tokenOf(late.cookies) == "" {
			t.Fatalf("renew: %d %v", late.status, late.body)
		}
		e.clock.Advance(31 * time.Second)
		b.get("/me") // reissued
		b.get("/me")
		away := e.browserFrom("127.0.0.6")
		b.copyTo(away)
		away.apply(late)
		if r := away.get("/public"); r.user() != "" || r.body["reason"] != "ip_mismatch" {
			t.Fatalf("the Renew's token from another network: %d %v; want anonymous ip_mismatch", r.status, r.body)
		}
		e.clock.Advance(time.Minute)
		b.apply(late)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("the browser's late Renew response at home: %d %v; want 200 alice (a late response)", r.status, r.body)
		}
		wantNoRevocation(t, e)
	})
}
