package ginsecure_test

// A browser that signs in again replaces its own session rather than
// counting twice under MaxSessionsPerUser (DESIGN.md, "User-to-session
// binding"): from a stale tab whose form posts the browser's current
// cookies minutes later, and from a second submit sent with the pre-login
// cookies that arrives 20 s after the first login (joined). The phone is
// never evicted. A token of another user, or none, replaces nothing.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

func TestSignInAgainNeverEvictsAnotherDevice(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, how := range []string{"stale tab, current cookies, 5 min later", "pre-login cookies, 20 s later"} {
			t.Run(how, func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
				phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
				phone.login("alice")
				e.clock.Advance(2 * time.Minute)
				laptop.post("/cart?item=guest")
				hdr := laptop.header()
				laptop.login("alice")
				if how == "pre-login cookies, 20 s later" {
					e.clock.Advance(20 * time.Second)
				} else {
					e.clock.Advance(5 * time.Minute)
					hdr = laptop.header()
				}
				r := laptop.sendFrom(t, "POST", "/login?user=alice", hdr)
				if r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("signing in again: %d %v", r.status, r.body)
				}
				laptop.apply(r)
				expectSignedIn(t, laptop, "alice")
				expectSignedIn(t, phone, "alice")
				if n := e.events.count(ginsecure.EventLimit); n != 0 {
					t.Errorf("%d limit events; want none", n)
				}
				if n := len(e.sessions(t, "alice")); n != 2 {
					t.Errorf("alice has %d sessions; want 2 (phone and laptop)", n)
				}
			})
		}
	})
}

// TestLoginReplacesThisBrowsersSession: signing in again from a browser
// that presents a live token of the same user replaces that session: with
// MaxSessionsPerUser 1 and RejectExtraLogins the second login succeeds
// and the old record is gone; in the default mode it evicts nobody else.
// A token of another user, or none, replaces nothing.
func TestLoginReplacesThisBrowsersSession(t *testing.T) {
	ctx := context.Background()
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("reject-extra-logins", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1, RejectExtraLogins: true})
			a := e.browser()
			a.login("alice")
			oldTok := a.cookie(ginsecure.DefaultCookieName)
			old, _ := e.guard.Sessions(ctx, "alice")
			e.clock.Advance(time.Minute)
			a.login("alice") // fatal unless 200
			list, err := e.guard.Sessions(ctx, "alice")
			if err != nil || len(list) != 1 || len(old) != 1 || list[0].Handle == old[0].Handle {
				t.Fatalf("alice's sessions after signing in again: %v (before %v) %v", list, old, err)
			}
			e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
			if r := e.send("GET", "/me", ginsecure.DefaultCookieName+"="+oldTok); r.status != http.StatusUnauthorized {
				t.Errorf("the replaced token: %d %v", r.status, r.body)
			}
			if r := a.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("the new login: %d %v", r.status, r.body)
			}

			// Another user's token, or none: no replacing, the limit holds.
			bob, fresh := e.browser(), e.browser()
			bob.login("bob")
			for name, br := range map[string]*browser{"bob's browser": bob, "a fresh browser": fresh} {
				if r := br.post("/login?user=alice"); r.errCode() != "too_many_sessions" {
					t.Errorf("%s signing in as alice over her limit: %d %v, want too_many_sessions", name, r.status, r.body)
				}
			}
			if r := bob.get("/me"); r.user() != "bob" {
				t.Errorf("bob after the refused login: %d %v", r.status, r.body)
			}
			if r := a.get("/me"); r.user() != "alice" {
				t.Errorf("alice after the refused logins: %d %v", r.status, r.body)
			}
		})
		t.Run("sign-out-least-recently-used", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
			a, b := e.browser(), e.browser()
			b.login("alice")
			e.clock.Advance(time.Minute)
			a.login("alice")
			e.clock.Advance(time.Minute)
			a.login("alice") // replaces a's session: b's stays
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("a's second login signed out b: %d %v", r.status, r.body)
			}
			if list, _ := e.guard.Sessions(ctx, "alice"); len(list) != 2 {
				t.Fatalf("alice has %d sessions, want 2", len(list))
			}
			if n := e.events.count(ginsecure.EventLimit); n != 0 {
				t.Errorf("%d limit events", n)
			}
		})
	})
}
