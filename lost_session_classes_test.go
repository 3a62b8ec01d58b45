package ginsecure_test

// Variants of "A token whose session is gone ends with it" (DESIGN.md, "A
// lost session cookie"): the token beside only undecodable session
// cookies, and a browser whose first request after losing the session
// cookie is the sign-in itself, or comes with the previous token inside
// its window.

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// dropSessionCookie leaves b with only its token cookie, plus extra
// session cookies given as raw values.
func dropSessionCookie(b *browser, extra ...string) {
	tok := b.cookie(tokCookieName)
	b.jar, _ = cookiejar.New(nil)
	b.client.Jar = b.jar
	b.setCookie(tokCookieName, tok)
	for _, v := range extra {
		b.setCookie("app", v)
	}
}

// TestLostSessionCookieBesideGarbage: the token comes with a session
// cookie that does not decode (a forged or truncated one). Its record
// ends, the request is an ordinary anonymous one, and its write is kept:
// the browser's next session is its own, never a foreign stand-in.
func TestLostSessionCookieBesideGarbage(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card")
		thief := b.clone()
		own := b.cookie("app")
		dropSessionCookie(b, own[:len(own)/2]+"AAAA")
		if r := b.post("/cart?item=guest"); r.status != http.StatusOK || r.user() != "" {
			t.Fatalf("a write beside an undecodable session cookie: %d %v; want 200 anonymous", r.status, r.body)
		}
		if r := b.get("/cart"); r.status != http.StatusOK || r.body["cart"] != "guest" {
			t.Errorf("the browser's next session: %d %v; want its own guest cart", r.status, r.body)
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions; want 0 (the record ended with its session)", n)
		}
		if r := thief.get("/cart"); r.user() != "" || r.body["cart"] != nil {
			t.Errorf("a copy of both cookies after the record ended: %v; want anonymous, no cart", r.body)
		}
	})
}

// TestLostSessionCookieThenSignInAtOnce: the browser's first request
// after its session cookie went is the sign-in form. It signs in, with
// one session, and nothing of the ended one.
func TestLostSessionCookieThenSignInAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card")
		dropSessionCookie(b)
		b.login("alice")
		if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != nil {
			t.Errorf("signed in after the session cookie went: %v; want alice, no cart", r.body)
		}
		if n := len(e.sessions(t, "alice")); n != 1 {
			t.Errorf("alice has %d sessions; want 1", n)
		}
	})
}

// TestLostSessionCookieWithThePreviousToken: the browser rotated its
// token; a request it sent before, with the previous token inside its
// window, arrives without a session cookie. It ends the record as the
// current token would, and the browser's writes afterwards are its own.
func TestLostSessionCookieWithThePreviousToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		old := b.clone()
		e.clock.Advance(graceRotateEvery + time.Second)
		b.get("/me")
		b.get("/me")
		dropSessionCookie(old)
		if r := old.get("/public"); r.status != http.StatusOK || r.user() != "" {
			t.Fatalf("the previous token without a session cookie: %d %v; want 200 anonymous", r.status, r.body)
		}
		if r := old.post("/cart?item=guest"); r.status != http.StatusOK || r.user() != "" {
			t.Errorf("its write: %d %v; want 200 anonymous", r.status, r.body)
		}
		if r := old.get("/cart"); r.body["cart"] != "guest" {
			t.Errorf("its next read: %v; want its own guest cart", r.body)
		}
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("the browser after its session ended: %d %v; want 401", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventReplay); n != 0 {
			t.Errorf("%d replay events; want none", n)
		}
	})
}

// TestLostSessionCookieDeletedByTheAppDirectly: the application deletes
// the session cookie without gin-contrib at all (gin's c.SetCookie with a
// negative MaxAge, as app code that "clears the cookie" does). The
// browser drops it; its token's record ends at the next request, and the
// browser's writes afterwards are its own (never refused as foreign).
func TestLostSessionCookieDeletedByTheAppDirectly(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, _ *ginsecure.Guard) {
			r.POST("/forget", func(c *gin.Context) {
				c.SetCookie("app", "", -1, "/", "", true, true)
				c.JSON(http.StatusOK, gin.H{})
			})
		}))
		b := e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card")
		thief := b.clone()
		if r := b.post("/forget"); r.status != http.StatusOK || !expires(r.cookies, "app") {
			t.Fatalf("POST /forget: %d %v %v", r.status, r.body, r.header["Set-Cookie"])
		}
		for i, item := range []string{"guest-1", "guest-2"} {
			e.clock.Advance(time.Minute)
			if r := b.post("/cart?item=" + item); r.status != http.StatusOK || r.user() != "" {
				t.Fatalf("write %d after the app deleted the session cookie: %d %v; want 200 anonymous", i, r.status, r.body)
			}
			if r := b.get("/cart"); r.body["cart"] != item {
				t.Fatalf("read %d: %v; want %s", i, r.body, item)
			}
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions; want 0", n)
		}
		if r := thief.get("/cart"); r.user() != "" || r.body["cart"] == "alice-card" {
			t.Errorf("a copy of both cookies: %v; want anonymous, no cart", r.body)
		}
	})
}

// TestLostSessionCookieBehindSeveralUndecodableCookies: alice's
// own session cookie is gone while her token lives (deleted, cleared),
// and the browser also sends two or eight same-named cookies that do not
// decode (a sibling subdomain's, or stale ones signed with a retired
// secret). DESIGN.md, "A lost session cookie": a request that presents a
// valid token with no session cookie of the application's name "(or only
// ones that do not decode)" ends the record (session lost), so that a
// copy of the cookies stops working. Red without decodesAny in
// lostSession (several cookies of the name then never ended the record):
// with two or more, alice kept a live session her browser could no
// longer use, and a copy of her cookies taken before kept working.
func TestLostSessionCookieBehindSeveralUndecodableCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, n := range []int{1, 2, 8} {
			t.Run(fmt.Sprint(n, " undecodable"), func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{})
				b := e.browser()
				b.login("alice")
				b.post("/cart?item=alice-card")
				thief := b.clone()
				parts := make([]string, 0, n+1)
				for i := range n {
					parts = append(parts, fmt.Sprintf("app=undecodable-%d", i))
				}
				parts = append(parts, tokCookieName+"="+b.cookie(tokCookieName))
				if r := e.send("GET", "/public", strings.Join(parts, "; ")); r.status != http.StatusOK || r.user() != "" {
					t.Fatalf("the token beside %d undecodable session cookies: %d %v; want 200 anonymous", n, r.status, r.body)
				}
				if k := len(e.sessions(t, "alice")); k != 0 {
					t.Errorf("alice has %d live sessions after her token came with only undecodable session cookies; want 0 (session lost)", k)
				}
				if r := thief.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("a copy of alice's cookies taken before: %d %v; want 401", r.status, r.body)
				}
			})
		}
	})
}
