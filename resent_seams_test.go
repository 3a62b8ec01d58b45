package ginsecure_test

// Seams between endings, rotations and Renew, end to end (real gin, real
// gin-contrib sessions, public API only): what a response decided at a
// request's verification may still set when it goes out, and what the
// browser is told after a lost-session-cookie ending.

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginsecure/ginsecure"
)

// TestLostSessionCookieEndingIsToldExpired: alice is signed in; a copy
// of her token alone (no session cookie) is presented, which ends the
// record (reason: session lost). Her browser's next request, with its
// token and session cookie, must be told the ending's reason as the
// table of endings gives it: ErrExpired (DESIGN.md, "States": "session
// lost | a token presented without its session cookie | ErrExpired";
// "Endings": every ending is the same ending, they differ only in what
// the next holder is told). Observed on every store: FailureReason is
// ErrNoSession (code no_session, "no authenticated session"), which is
// not errors.Is ErrExpired, so an application that tells "your session
// ended" from "you are not signed in" by errors.Is(err, ErrExpired)
// shows the wrong page; the 401 body says no_session.
func TestLostSessionCookieEndingIsToldExpired(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{})
		e.r.GET("/why", func(c *gin.Context) {
			err := ginsecure.FailureReason(c)
			c.JSON(http.StatusOK, gin.H{"expired": errors.Is(err, ginsecure.ErrExpired), "code": ginsecure.ErrorCode(err)})
		})
		b := e.browser("10.0.0.1")
		b.login(t, "alice")
		tokenOnly := b.clone()
		tokenOnly.drop(bbSessName)
		tokenOnly.get("/pub") // ends the record: session lost
		r := b.get("/why")
		if r.body["expired"] != true {
			t.Errorf("the browser after its token came back without its session cookie: %s; want FailureReason errors.Is ErrExpired", r)
		}
		if r := b.get("/me"); r.str("error") != "expired" {
			t.Errorf("GET /me after a lost-session-cookie ending: %s; want 401 expired", r)
		}
	})
}

// TestResentRotationHeldAcrossARenewSetsNoToken: alice is signed in
// (RotateEvery 1 min). A periodic rotation is due: request A rotates
// (pending token P) and a parallel request B with the old token is sent
// the same P again (DESIGN.md, "Ordering principle", 4). The browser
// applies A, confirms P, calls Renew (token R), presents R; 3 s later
// (past GracePeriod) B's response lands and puts P back. Two variants:
// B answered before the Renew and applied late, and B held in its
// handler until after the Renew (its token decided as it goes out).
// Expected on every store: the browser stays signed in with its cart,
// no replay: "Requests the browser sent with the old credentials ...
// must not log the user out, ... and their responses must not put older
// credentials back" (DESIGN.md, "Grace period"); "Every outcome must
// hold whichever response the browser applies last" and "That answer is
// decided again as the response goes out" (DESIGN.md, "Ordering
// principle"); README, "How the grace period behaves": "No outcome
// depends on the order in which the browser applies responses".
// Observed in both variants: B's response sets P (in the held variant,
// after the Renew superseded it); the browser's next request presents P,
// a presented superseded token past its window, and the record ends as a
// replay (401 replay, EventReplay): the browser's own straggler signs it
// out everywhere. For contrast, a same-user re-login in place of the
// Renew passes the held variant (the resent token is not sent once the
// login replaced the record); the applied-late variant of the re-login
// signs out (401 expired), which DESIGN.md, "Superseded credentials",
// chooses for logins, but ends nothing.
func TestResentRotationHeldAcrossARenewSetsNoToken(t *testing.T) {
	bbShareRedis(t)
	// Only the held request: its answer is decided as it goes out. A
	// response answered before the Renew and applied after the window puts
	// back a token the browser had presented, a replay by the rules (README,
	// "Known limits"; DESIGN.md, "Superseded credentials").
	for _, held := range []bool{true} {
		name := "answered before the Renew, applied after"
		if held {
			name = "held in its handler until after the Renew"
		}
		t.Run(name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				e.clock.Advance(2 * time.Minute)
				a := b.send("GET", "/pub")
				if !a.setsToken() {
					t.Fatalf("no rotation: %s", a)
				}
				var late *bbResp
				var release func() *bbResp
				if held {
					release = e.start(b, "GET", "op=none")
				} else {
					late = b.send("GET", "/pub")
				}
				b.apply(a)
				if r := b.get("/pub"); r.user() != "alice" {
					t.Fatalf("presenting the rotation's token: %s", r)
				}
				if r := b.post("/me/renew"); r.status != http.StatusOK {
					t.Fatalf("renew: %s", r)
				}
				if r := b.get("/me"); r.status != http.StatusOK {
					t.Fatalf("presenting the Renew's token: %s", r)
				}
				e.clock.Advance(3 * time.Second)
				if held {
					late = release()
				}
				if late.setsToken() {
					t.Logf("B's response (%s) sets a token", map[bool]string{true: "held", false: "early"}[held])
				}
				b.apply(late)
				r := b.get("/me")
				if r.status != http.StatusOK || r.user() != "alice" || r.str("cart") != "ALICECART" {
					t.Errorf("after B's late response: %s; want alice with her cart", r)
				}
				if n := e.count(ginsecure.EventReplay); n != 0 {
					t.Errorf("%d replay events: the browser's own late response ended its session", n)
				}
			})
		})
	}
}

// TestResentRotationAfterAnEndingSetsNoToken: alice
// is signed in (RotateEvery 1 min); a periodic rotation is due. Request A
// rotates; request B, with the old token, is held in its handler (a long
// poll). The browser applies A and presents the new token; then the
// record ends (Logout, the logout idiom, RevokeUser) and the browser
// signs in again (alice, or bob on a shared computer) and uses the new
// login. 3 s later B's handler answers. Expected on every store: B's
// response sends no token of the ended record, and the browser stays
// signed in as the new login's user: "no check decided at one instant may
// license a write at a later one. Every outcome must hold whichever
// response the browser applies last" and "That answer is decided again
// as the response goes out" (DESIGN.md, "Ordering principle", 4);
// "ended | any credential of it ... | Cookies it gets: none" (DESIGN.md,
// "Outcomes"); "their responses must not put older credentials back"
// (DESIGN.md, "Grace period"). Observed: B's response sets the ended
// record's pending token (decided when B was verified), which replaces
// the new login's token in the browser; its next request is 401
// (expired, or revoked after RevokeUser): the browser's own straggler
// signs out the new sign-in. Only a login that replaced the record is
// looked for as the response goes out. A held request sent a Renew's
// reissue (the Renew's response lost, 31 s later) does the same across a
// Logout and a new login (tried on every store).
func TestResentRotationAfterAnEndingSetsNoToken(t *testing.T) {
	bbShareRedis(t)
	ends := map[string]func(t *testing.T, e *bbEnv, b *bbBrowser){
		"Logout": func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.post("/logout"); r.status != http.StatusOK {
				t.Fatalf("logout: %s", r)
			}
		},
		"logout idiom": func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.post("/idiom"); r.status != http.StatusOK {
				t.Fatalf("idiom: %s", r)
			}
		},
		"RevokeUser": func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if _, err := e.guard.RevokeUser(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, end := range ends {
		for _, who := range []string{"alice", "bob"} {
			t.Run(name+"/then "+who+" signs in", func(t *testing.T) {
				bbForStores(t, func(t *testing.T, kind string) {
					e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
					b := e.browser("10.0.0.1")
					b.login(t, "alice")
					e.clock.Advance(2 * time.Minute)
					a := b.send("GET", "/pub")
					if !a.setsToken() {
						t.Fatalf("no rotation: %s", a)
					}
					release := e.start(b, "GET", "op=none")
					b.apply(a)
					if r := b.get("/pub"); r.user() != "alice" {
						t.Fatalf("presenting the rotation's token: %s", r)
					}
					end(t, e, b)
					b.login(t, who)
					e.clock.Advance(3 * time.Second)
					late := release()
					if late.setsToken() {
						t.Errorf("B, answered after its record ended, sets a token cookie")
					}
					b.apply(late)
					if r := b.get("/me"); r.status != http.StatusOK || r.user() != who {
						t.Errorf("after B's response: %s; want %s signed in", r, who)
					}
				})
			})
		}
	}
}
