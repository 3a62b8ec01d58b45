package ginsecure_test

// A sign-out verified on one server while a re-login from the same browser
// commits on another: whatever the two servers decided, the login's
// response and the sign-out's may reach the browser in either order.

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// TestRedisLogoutOvertakenByReloginOnTheOtherServerWritesNothing: the
// browser sends POST /logout to B; B verifies it (the record is alive) and
// the handler is slow. Meanwhile a re-login from the same browser commits
// on A and its response reaches the browser. When B's Logout then acts,
// the credentials it carried are already replaced: dead credentials, as in
// TestLogoutOfReplacedCredentialsWritesNothing. No check decided at one
// instant may license a cookie write at a later one (DESIGN.md, "Ordering
// principle"): the late sign-out must not expire the new token (same
// cookie name) nor the new session, leaving the re-login's record alive
// in the store with no browser holding it.
func TestRedisLogoutOvertakenByReloginOnTheOtherServerWritesNothing(t *testing.T) {
	a := newEnv(t, "redis", ginsecure.Config{})
	entered, release := make(chan struct{}), make(chan struct{})
	b := newEnv(t, "redis", ginsecure.Config{Now: a.clock.Now}, withRedis(a.redis),
		withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.POST("/logout/slow", func(c *gin.Context) {
				close(entered) // verified by the middleware
				<-release
				if err := ginsecure.Logout(c); err != nil {
					c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
					return
				}
				c.JSON(http.StatusOK, gin.H{"user": ""})
			})
		}))
	br := a.browser()
	br.login("alice")
	before := br.header()

	done := make(chan reply, 1)
	go func() {
		r, err := b.trySend("POST", "/logout/slow", before)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	<-entered
	br.login("alice") // the re-login commits on A; its response reaches the browser
	close(release)
	r := <-done
	if r.status != http.StatusOK {
		t.Fatalf("late sign-out on B: %d %v", r.status, r.body)
	}
	if ourCookies(r) {
		t.Errorf("late sign-out of replaced credentials wrote %v (lands after the re-login's response)", r.header["Set-Cookie"])
	}
	br.apply(r) // lands after the re-login's
	if me := br.on(b).get("/me"); me.status != http.StatusOK || me.user() != "alice" {
		t.Fatalf("after a sign-out that the re-login overtook: %d %v; want alice still signed in", me.status, me.body)
	}
}
