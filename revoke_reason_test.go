package ginsecure_test

// Revocation reasons: who signed a session out reaches the browser that
// held it, on every store, through the 401 body, FailureReason and the
// event.

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// reasonRoutes are the revoke calls with a reason, as an application
// makes them: the user's own session list (RevokeSession), a password
// change (RevokeOthers), an administrator (RevokeUser), and a public page
// that tells a signed-out browser why.
func reasonRoutes(r *gin.Engine, g *ginsecure.Guard) {
	answer := func(c *gin.Context, n int, err error) {
		if err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, gin.H{"revoked": n})
	}
	auth := r.Group("/r", g.Require(ginsecure.Policy{Authenticated: true}))
	auth.POST("/session", func(c *gin.Context) {
		id, _ := ginsecure.UserID(c)
		err := g.RevokeSession(c.Request.Context(), id, c.Query("handle"), ginsecure.RevokeReason(c.Query("reason")))
		answer(c, 1, err)
	})
	auth.POST("/others", func(c *gin.Context) {
		n, err := g.RevokeOthers(c, ginsecure.ReasonPasswordChange)
		answer(c, n, err)
	})
	auth.POST("/user", func(c *gin.Context) {
		n, err := g.RevokeUser(c.Request.Context(), c.Query("user"), ginsecure.ReasonAdmin)
		answer(c, n, err)
	})
	r.GET("/why", func(c *gin.Context) {
		err := ginsecure.FailureReason(c)
		c.JSON(http.StatusOK, gin.H{"code": ginsecure.ErrorCode(err), "reason": string(ginsecure.RevokeReasonOf(err)),
			"is_revoked": errors.Is(err, ginsecure.ErrRevoked), "is_expired": errors.Is(err, ginsecure.ErrExpired)})
	})
}

// currentHandle is the handle of b's own session.
func currentHandle(t *testing.T, b *browser) string {
	t.Helper()
	r := b.get("/me/sessions")
	list, _ := r.body["sessions"].([]any)
	for _, s := range list {
		m, _ := s.(map[string]any)
		if cur, _ := m["current"].(bool); cur {
			h, _ := m["handle"].(string)
			return h
		}
	}
	t.Fatalf("no current session in %v", r.body)
	return ""
}

// TestRevokeReasonReachesSignedOutBrowser: each revoke call's reason is
// what the signed-out browser is told, on every store: the default error
// handler's 401 body on a protected route ({"error":"revoked","reason":
// ...}), FailureReason on a public one (RevokeReasonOf, with errors.Is
// ErrRevoked and ErrExpired still holding), and EventRevoke's Reason.
func TestRevokeReasonReachesSignedOutBrowser(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(reasonRoutes))
		cases := []struct {
			name   string
			revoke func(actor, victim *browser) reply
			want   ginsecure.RevokeReason
		}{
			{"other device", func(actor, victim *browser) reply {
				return actor.post("/r/session?reason=other_device&handle=" + currentHandle(t, victim))
			}, ginsecure.ReasonOtherDevice},
			{"password change", func(actor, _ *browser) reply { return actor.post("/r/others") }, ginsecure.ReasonPasswordChange},
			{"admin", func(actor, _ *browser) reply { return actor.post("/r/user?user=alice") }, ginsecure.ReasonAdmin},
			{"own code", func(actor, victim *browser) reply {
				return actor.post("/r/session?reason=account_locked&handle=" + currentHandle(t, victim))
			}, "account_locked"},
		}
		for _, tc := range cases {
			actor, victim, onlooker := e.browser(), e.browser(), e.browser()
			actor.login("alice")
			victim.login("alice")
			victim.copyTo(onlooker) // a second tab's view of the victim's cookies, for the public page
			if r := tc.revoke(actor, victim); r.status != http.StatusOK {
				t.Fatalf("%s: revoke: %d %v", tc.name, r.status, r.body)
			}
			r := victim.get("/me")
			if r.status != http.StatusUnauthorized || r.errCode() != "revoked" || r.body["reason"] != string(tc.want) {
				t.Fatalf("%s: the revoked browser's 401: %d %v, want revoked with reason %q", tc.name, r.status, r.body, tc.want)
			}
			w := onlooker.get("/why")
			if w.body["code"] != "revoked" || w.body["reason"] != string(tc.want) || w.body["is_revoked"] != true || w.body["is_expired"] != true {
				t.Fatalf("%s: FailureReason on a public page: %v", tc.name, w.body)
			}
			// Every session the call ended (sessions of earlier cases too)
			// reports its reason.
			e.events.mu.Lock()
			n := 0
			for _, ev := range e.events.ev {
				if ev.Kind == ginsecure.EventRevoke {
					n++
					if ev.Reason != tc.want {
						t.Errorf("%s: EventRevoke %s with reason %q, want %q", tc.name, ev.Handle, ev.Reason, tc.want)
					}
				}
			}
			e.events.ev = nil
			e.events.mu.Unlock()
			if n == 0 {
				t.Fatalf("%s: no EventRevoke", tc.name)
			}
		}
	})
}

// TestRevokeWithoutReasonAnswersAsBefore: a revoke call given no reason
// answers {"error":"revoked"} with no "reason", as before reasons existed.
func TestRevokeWithoutReasonAnswersAsBefore(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{})
	a, b := e.browser(), e.browser()
	a.login("alice")
	b.login("alice")
	if r := a.post("/me/revoke-others"); r.status != http.StatusOK {
		t.Fatalf("revoke-others: %d %v", r.status, r.body)
	}
	r := b.get("/me")
	if _, has := r.body["reason"]; r.status != http.StatusUnauthorized || r.errCode() != "revoked" || has {
		t.Fatalf("revoked without a reason: %d %v", r.status, r.body)
	}
}

// TestInvalidRevokeReasonEndsNothing: a malformed reason, or two, is
// ErrInvalidRevokeReason (400) and the session lives on.
func TestInvalidRevokeReasonEndsNothing(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{})
	a := e.browser()
	a.login("alice")
	h := e.sessions(t, "alice")[0].Handle
	ctx := context.Background()
	for _, reasons := range [][]ginsecure.RevokeReason{{""}, {"Admin"}, {"a b"}, {"x123456789012345678901234567890123"}, {"admin", "self"}} {
		err := e.guard.RevokeSession(ctx, "alice", h, reasons...)
		if !errors.Is(err, ginsecure.ErrInvalidRevokeReason) || ginsecure.ErrorStatus(err) != http.StatusBadRequest {
			t.Fatalf("RevokeSession with %q: %v", reasons, err)
		}
		if _, err := e.guard.RevokeUser(ctx, "alice", reasons...); !errors.Is(err, ginsecure.ErrInvalidRevokeReason) {
			t.Fatalf("RevokeUser with %q: %v", reasons, err)
		}
	}
	if r := a.get("/me"); r.status != http.StatusOK {
		t.Fatalf("a refused revoke ended the session: %d %v", r.status, r.body)
	}
}
