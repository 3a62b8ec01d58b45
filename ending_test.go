package ginsecure_test

// Every ending is the same ending (DESIGN.md, "Endings"), gin-contrib's
// logout idiom is a logout ("The logout idiom"), and a token whose session
// is gone ends with it ("A lost session cookie"). End to end on every
// store.

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// endings are the ways a signed-in record of alice on browser b can end
// while other browsers hold copies of its cookies. Each returns the
// FailureReason code the ended browser's next request names.
var endings = map[string]struct {
	cfg ginsecure.Config
	end func(t *testing.T, e *env, b *browser) string
}{
	"RevokeSession": {end: func(t *testing.T, e *env, b *browser) string {
		list := e.sessions(t, "alice")
		if len(list) != 1 {
			t.Fatalf("alice's sessions: %+v", list)
		}
		if err := e.guard.RevokeSession(context.Background(), "alice", list[0].Handle); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		return "revoked"
	}},
	"RevokeUser": {end: func(t *testing.T, e *env, b *browser) string {
		if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
			t.Fatalf("RevokeUser: %d %v", n, err)
		}
		return "revoked"
	}},
	"RevokeOthers": {end: func(t *testing.T, e *env, b *browser) string {
		other := e.browser()
		other.login("alice")
		if r := other.post("/me/revoke-others"); r.status != http.StatusOK || r.body["revoked"] != float64(1) {
			t.Fatalf("RevokeOthers: %d %v", r.status, r.body)
		}
		return "revoked"
	}},
	"evicted": {cfg: ginsecure.Config{MaxSessionsPerUser: 1}, end: func(t *testing.T, e *env, b *browser) string {
		e.clock.Advance(time.Minute)
		e.browser().login("alice")
		return "evicted"
	}},
	"replay": {cfg: graceConfig(graceWindow), end: func(t *testing.T, e *env, b *browser) string {
		old := b.header()
		e.clock.Advance(graceRotateEvery + time.Minute)
		b.get("/me")     // rotates
		b.get("/public") // confirms
		e.clock.Advance(graceWindow + time.Second)
		e.send("GET", "/public", old) // the old token after the window
		return "replay"
	}},
	"idle timeout": {end: func(t *testing.T, e *env, b *browser) string {
		e.clock.Advance(31 * time.Minute)
		return "" // idle_timeout to the first request, then expired (the record is gone)
	}},
}

// TestEveryEndingHidesTheSessionsData: after any ending (a revocation of
// any kind, an eviction, a replay, a timeout), neither the ended browser
// nor a thief holding a copy of its cookies reads the signed-in session's
// data, nothing either writes brings it back, and no later login of the
// browser carries it. Both go on as anonymous visitors whose own writes
// work.
func TestEveryEndingHidesTheSessionsData(t *testing.T) {
	for name, how := range endings {
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, how.cfg)
				b, thief := e.browser(), e.browser()
				b.login("alice")
				if r := b.post("/cart?item=alice-card-4111"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("POST /cart signed in: %d %v", r.status, r.body)
				}
				b.copyTo(thief)
				reason := how.end(t, e, b)

				for who, x := range map[string]*browser{"thief": thief, "ended browser": b} {
					r := x.get("/cart")
					if r.status != http.StatusOK || r.user() != "" || r.body["cart"] != nil {
						t.Errorf("%s after the ending, GET /cart: %d %v; want anonymous, no cart", who, r.status, r.body)
					}
				}
				if r := thief.get("/me"); r.status != http.StatusUnauthorized || (reason != "" && r.errCode() != reason) {
					t.Errorf("thief after the ending, GET /me: %d %v; want 401 %s", r.status, r.body, reason)
				}
				// The thief writes; it never lands in a signed-in session.
				if r := thief.post("/cart?item=thief"); r.status != http.StatusOK || r.user() != "" {
					t.Errorf("thief's anonymous write: %d %v; want 200 anonymous", r.status, r.body)
				}
				if r := thief.get("/cart"); r.body["cart"] == "alice-card-4111" {
					t.Errorf("thief after its write: %v; the ended data came back", r.body)
				}
				// The ended browser is an ordinary visitor: its writes work.
				if r := b.post("/cart?item=guest"); r.status != http.StatusOK || r.user() != "" {
					t.Errorf("ended browser's anonymous write: %d %v; want 200", r.status, r.body)
				}
				if r := b.get("/cart"); r.body["cart"] != "guest" {
					t.Errorf("ended browser after its write: %v; want its guest cart", r.body)
				}
				b.login("alice")
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] == "alice-card-4111" {
					t.Errorf("alice signed in again on the ended browser: %v; the ended data came back", r.body)
				}
				thief.login("mallory")
				if r := thief.get("/cart"); r.body["cart"] == "alice-card-4111" {
					t.Errorf("the thief's login carried the ended data: %v", r.body)
				}
			})
		})
	}
}

// TestEndedSessionWritesNeverReachALogin: after an ending the session's
// identity stays with every holder of its cookie, so what a copy's holder
// writes into it afterwards lands where the ended browser reads. A login
// from there carries none of it: a thief cannot plant values (a shipping
// address, a cart) into the owner's next signed-in session (DESIGN.md,
// "Carry-over").
func TestEndedSessionWritesNeverReachALogin(t *testing.T) {
	for name, how := range endings {
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, how.cfg)
				b, thief := e.browser(), e.browser()
				b.login("alice")
				if r := b.post("/cart?item=alice-card-4111"); r.status != http.StatusOK {
					t.Fatalf("POST /cart signed in: %d %v", r.status, r.body)
				}
				b.copyTo(thief)
				how.end(t, e, b)
				if r := thief.post("/cart?item=planted"); r.status != http.StatusOK || r.user() != "" {
					t.Fatalf("thief's anonymous write: %d %v; want 200 anonymous", r.status, r.body)
				}
				b.login("alice")
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != nil {
					t.Errorf("alice signed in again on the ended browser: %v; want an empty cart (nothing the copy wrote)", r.body)
				}
			})
		})
	}
}

// TestEndedSessionDataIsDeleted: where the session store has IDs, an
// ending deletes the session's data from it (at once where the Guard can
// reach the session store), so that no copy of the session cookie, and no
// later read of the store, finds it.
func TestEndedSessionDataIsDeleted(t *testing.T) {
	for name, how := range endings {
		t.Run(name, func(t *testing.T) {
			for _, kind := range []string{"redis", "redis-2pools"} {
				t.Run(kind, func(t *testing.T) {
					e := newEnv(t, kind, how.cfg)
					b := e.browser()
					b.login("alice")
					b.post("/cart?item=alice-card-4111")
					key := "session_" + sessionID(t, kind, b.cookie("app"))
					how.end(t, e, b)
					if name == "idle timeout" {
						b.get("/public") // a timeout is noticed by a request
					}
					c := e.redis.Pool().Get()
					defer c.Close()
					n, err := c.Do("EXISTS", key)
					if err != nil || n != int64(0) {
						t.Errorf("the ended session's data is still in Redis under %s (%v %v)", key, n, err)
					}
				})
			}
		})
	}
}

// TestEndedSessionWriteOfARequestInFlightIsRefused: a request verified
// before the ending, whose write comes after it, gets ErrStaleCredentials:
// its write never brings the ended session's data back.
func TestEndedSessionWriteOfARequestInFlightIsRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card-4111")
		release := e.holdAt(t, "/hold/auth?id=slow&write=late", "slow", b.header())
		if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
			t.Fatalf("RevokeUser: %d %v", n, err)
		}
		r := release()
		if r.status != http.StatusConflict || r.errCode() != "stale_credentials" {
			t.Errorf("a write verified before RevokeUser, saved after it: %d %v; want 409 stale_credentials", r.status, r.body)
		}
		b.apply(r)
		if got := b.get("/cart"); got.user() != "" || got.body["cart"] != nil {
			t.Errorf("after the refused write: %v; want anonymous, no cart", got.body)
		}
	})
}

// TestEndedSessionStaleWriteKeepsALaterWrite: after an ending, the
// browser's anonymous write into its emptied session is acknowledged; a
// write verified before the ending and saved after it is refused and
// leaves the acknowledged write in place (DESIGN.md, "Writes").
func TestEndedSessionStaleWriteKeepsALaterWrite(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card-4111")
		release := e.holdAt(t, "/hold/auth?id=slow&write=late", "slow", b.header())
		if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
			t.Fatalf("RevokeUser: %d %v", n, err)
		}
		if r := b.post("/cart?item=after-the-ending"); r.status != http.StatusOK || r.user() != "" {
			t.Fatalf("anonymous write after RevokeUser: %d %v; want 200, anonymous", r.status, r.body)
		}
		r := release()
		if r.status != http.StatusConflict || r.errCode() != "stale_credentials" {
			t.Errorf("a write verified before RevokeUser, saved after it: %d %v; want 409 stale_credentials", r.status, r.body)
		}
		b.apply(r)
		if got := b.get("/cart"); got.user() != "" || got.body["cart"] != "after-the-ending" {
			t.Errorf("after the refused write: %v; want anonymous, the acknowledged cart after-the-ending", got.body)
		}
	})
}

// endingInsideTheWindow is a records store that runs end once, inside the
// first read of a session's marker (key "s:...") after it is armed: an
// ending that lands between a Save's check before its write and the
// write itself.
type endingInsideTheWindow struct {
	*redisstore.Store
	end atomic.Pointer[func()]
}

func (w *endingInsideTheWindow) GetMarker(ctx context.Context, k string) (storeext.Marker, error) {
	mk, err := w.Store.GetMarker(ctx, k)
	if f := w.end.Load(); f != nil && strings.HasPrefix(k, "s:") && w.end.CompareAndSwap(f, nil) {
		(*f)()
	}
	return mk, err
}

// TestEndedSessionWriteInsideTheWindowIsUndone: on Redis with two pools an
// ending that lands between a stale write's check before it is saved and
// its SETEX is found by the check after: the write is refused and undone,
// and the ended session's data is not brought back (DESIGN.md, "Writes",
// the second exception: the window left).
func TestEndedSessionWriteInsideTheWindowIsUndone(t *testing.T) {
	srv := redistest.Start(t)
	rs := &endingInsideTheWindow{Store: redisstore.New(srv.Pool(), redisstore.WithPrefix("gs:"))}
	e := newEnv(t, "redis-2pools", ginsecure.Config{}, withRedis(srv), withStore(rs))
	b := e.browser()
	b.login("alice")
	b.post("/cart?item=alice-card-4111")
	release := e.holdAt(t, "/hold/auth?id=slow&write=late", "slow", b.header())
	end := func() {
		if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
			t.Errorf("RevokeUser: %d %v", n, err)
		}
	}
	rs.end.Store(&end)
	r := release()
	if rs.end.Load() != nil {
		t.Fatal("the held write read no session marker")
	}
	if r.status != http.StatusConflict || r.errCode() != "stale_credentials" {
		t.Errorf("a write checked before RevokeUser, saved after it: %d %v; want 409 stale_credentials", r.status, r.body)
	}
	b.apply(r)
	if got := b.get("/cart"); got.user() != "" || got.body["cart"] != nil {
		t.Errorf("after the undone write: %v; want anonymous, no cart", got.body)
	}
}

// logoutIdiomRoutes is gin-contrib's logout, as apps migrating from it
// have it: Clear (or not), MaxAge -1, Save.
func logoutIdiomRoutes(r *gin.Engine, g *ginsecure.Guard) {
	r.POST("/bye", func(c *gin.Context) {
		s := sessions.Default(c)
		if c.Query("clear") != "" {
			s.Clear()
		}
		s.Options(sessions.Options{Path: "/", MaxAge: -1})
		if err := s.Save(); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": ""})
	})
}

// TestLogoutIdiomIsALogout: gin-contrib's logout idiom (Options MaxAge -1
// and Save, after Clear or not) on a signed-in request ends the record as
// Logout does: both cookies expire, and a copy of the cookies taken before
// is signed out too.
func TestLogoutIdiomIsALogout(t *testing.T) {
	for _, path := range []string{"/bye?clear=1", "/bye"} {
		t.Run(path, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, ginsecure.Config{}, withRoutes(logoutIdiomRoutes))
				b, thief := e.browser(), e.browser()
				b.login("alice")
				b.post("/cart?item=alice-card-4111")
				b.copyTo(thief)
				r := b.post(path)
				if r.status != http.StatusOK {
					t.Fatalf("POST %s: %d %v", path, r.status, r.body)
				}
				for _, name := range []string{"app", tokCookieName} {
					if !expires(r.cookies, name) {
						t.Errorf("POST %s does not expire %s: %v", path, name, r.header["Set-Cookie"])
					}
				}
				if got := thief.get("/me"); got.status != http.StatusUnauthorized {
					t.Errorf("a copy of the cookies after the logout idiom: /me %d %v; want 401", got.status, got.body)
				}
				if got := thief.get("/cart"); got.user() != "" || got.body["cart"] != nil {
					t.Errorf("a copy of the cookies after the logout idiom: /cart %v; want anonymous, no cart", got.body)
				}
				if n := len(e.sessions(t, "alice")); n != 0 {
					t.Errorf("alice has %d sessions after the logout idiom, want 0", n)
				}
				if n := e.events.count(ginsecure.EventLogout); n != 1 {
					t.Errorf("%d logout events, want 1", n)
				}
			})
		})
	}
}

// TestLogoutIdiomOnAStandInEndsNothing: the logout idiom on a request that
// does not hold the record's token (a planted copy of the victim's session
// cookie, the victim's token next to a foreign session cookie) returns
// ErrForeignSession, ends nothing and expires nothing.
func TestLogoutIdiomOnAStandInEndsNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(logoutIdiomRoutes))
		victim, other := e.browser(), e.browser()
		victim.login("alice")
		other.login("bob")
		for name, hdr := range map[string]string{
			"session cookie without its token": "app=" + victim.cookie("app"),
			"token next to a foreign session":  "app=" + other.cookie("app") + "; " + tokCookieName + "=" + victim.cookie(tokCookieName),
		} {
			r := e.send("POST", "/bye?clear=1", hdr)
			if r.status == http.StatusOK || len(expiring(r.cookies)) != 0 {
				t.Errorf("%s: logout idiom answered %d %v, sets %v; want ErrForeignSession and nothing expired", name, r.status, r.body, r.header["Set-Cookie"])
			}
		}
		for who, x := range map[string]*browser{"alice": victim, "bob": other} {
			if r := x.get("/me"); r.status != http.StatusOK || r.user() != who {
				t.Errorf("%s after the logout idiom on stand-ins: %d %v", who, r.status, r.body)
			}
		}
	})
}

// TestLostSessionCookieEndsTheRecord: the session cookie goes while the
// token lives (the browser dropped it at its Max-Age, the user cleared
// it, the application deleted it through gin-contrib around the wrapper).
// The record ends, and the browser goes on as an ordinary anonymous
// visitor whose next session is its own (its writes are kept, never
// refused as foreign), until it signs in again.
func TestLostSessionCookieEndsTheRecord(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b, thief := e.browser(), e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card-4111")
		b.copyTo(thief)
		tok := b.cookie(tokCookieName)
		b.jar, _ = cookiejar.New(nil)
		b.client.Jar = b.jar
		b.setCookie(tokCookieName, tok) // the session cookie is gone

		if r := b.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "no_session" {
			t.Fatalf("token without its session cookie, GET /me: %d %v; want 401 no_session", r.status, r.body)
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions after her token came without its session, want 0", n)
		}
		if r := thief.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("a copy of both cookies after the record ended: %d %v; want 401", r.status, r.body)
		}
		if r := thief.get("/cart"); r.body["cart"] != nil {
			t.Errorf("a copy of both cookies after the record ended: %v; want no cart", r.body)
		}
		for i, item := range []string{"guest-1", "guest-2"} {
			e.clock.Advance(time.Minute)
			if r := b.post("/cart?item=" + item); r.status != http.StatusOK || r.user() != "" {
				t.Fatalf("write %d of the browser's next session: %d %v; want 200 anonymous", i, r.status, r.body)
			}
			if r := b.get("/cart"); r.status != http.StatusOK || r.body["cart"] != item {
				t.Fatalf("read %d of the browser's next session: %d %v; want its own cart %q", i, r.status, r.body, item)
			}
		}
		b.login("alice")
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("signing in again: %d %v", r.status, r.body)
		}
	})
}

// TestLostSessionCookieByGinContribsOwnDelete: the application deletes the
// session cookie through gin-contrib's own session, around the wrapper
// (gorilla's Options MaxAge -1 and Save): the browser drops the cookie,
// and its token's record ends at its next request.
func TestLostSessionCookieByGinContribsOwnDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.POST("/drop", func(c *gin.Context) {
				gs := sessions.Default(c).(interface {
					Session() *gsessions.Session
				}).Session()
				gs.Options.MaxAge = -1
				if err := gs.Save(c.Request, c.Writer); err != nil {
					c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
					return
				}
				c.JSON(http.StatusOK, gin.H{})
			})
		}))
		b := e.browser()
		b.login("alice")
		if r := b.post("/drop"); r.status != http.StatusOK || !expires(r.cookies, "app") {
			t.Fatalf("POST /drop: %d %v %v", r.status, r.body, r.header["Set-Cookie"])
		}
		if r := b.post("/cart?item=guest"); r.status != http.StatusOK || r.user() != "" {
			t.Fatalf("the browser's first write after its session cookie went: %d %v; want 200 anonymous", r.status, r.body)
		}
		if r := b.get("/cart"); r.body["cart"] != "guest" {
			t.Fatalf("the browser's next session: %v; want its own cart, not a foreign stand-in", r.body)
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions after her session cookie went, want 0", n)
		}
	})
}

// TestForeignSessionCookieNeverEndsTheRecord: the victim's token next to a
// session cookie that decodes but is not the record's (another browser's
// anonymous session, another account's session: what a thief or a
// sibling subdomain can put there) is foreign: anonymous, writes refused,
// and the victim's record is not ended. Nor is it when the foreign cookie
// is tossed in front of the victim's own.
func TestForeignSessionCookieNeverEndsTheRecord(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, anon, other := e.browser(), e.browser(), e.browser()
		anon.post("/cart?item=planted")
		other.login("bob")
		victim.login("alice")
		victim.post("/cart?item=alice-card-4111")
		// Past the login's window (within it an anonymous session beside
		// the token is the browser's late response: DESIGN.md,
		// "Cookieless sign-in").
		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
		tok := tokCookieName + "=" + victim.cookie(tokCookieName)
		for name, f := range map[string]string{"anonymous": anon.cookie("app"), "another account's": other.cookie("app")} {
			for _, hdr := range []string{"app=" + f + "; " + tok, "app=" + f + "; app=garbage; " + tok} {
				if r := e.send("POST", "/cart?item=evil", hdr); r.status != http.StatusConflict || r.errCode() != "foreign_session" {
					t.Errorf("%s session next to the victim's token (%s): POST /cart %d %v; want 409 foreign_session", name, hdr, r.status, r.body)
				}
			}
			// Behind an undecodable one: anonymous (which session it
			// then writes is the tossed-cookie rule's), never an ending.
			if r := e.send("GET", "/cart", "app=garbage; app="+f+"; "+tok); r.user() != "" || r.body["cart"] == "alice-card-4111" {
				t.Errorf("%s session behind a garbage one next to the victim's token: %v; want anonymous", name, r.body)
			}
		}
		if r := victim.get("/cart"); r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "alice-card-4111" {
			t.Fatalf("victim after foreign session cookies next to her token: %d %v; want alice with her cart", r.status, r.body)
		}
		if n := len(e.sessions(t, "alice")); n != 1 {
			t.Errorf("alice has %d sessions, want 1", n)
		}
	})
}

// TestLogoutIdiomReturnsLogoutsErrors: when the record cannot be ended
// (the store is down), the logout idiom's Save says so, as Logout would,
// and expires nothing: the session lives on, and the browser is told so.
func TestLogoutIdiomReturnsLogoutsErrors(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			f := &failingStore{Store: ginsecure.NewMemoryStore()}
			e := newEnv(t, kind, ginsecure.Config{Store: f}, withRoutes(logoutIdiomRoutes))
			b := e.browser()
			b.login("alice")
			f.arm(0, "UpdateHeld") // the mark that ends the record
			r := b.post("/bye?clear=1")
			f.disarm()
			if r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" {
				t.Errorf("logout idiom with the store down: %d %v; want 503 store_unavailable", r.status, r.body)
			}
			if x := expiring(r.cookies); len(x) != 0 {
				t.Errorf("logout idiom with the store down expired %v", x)
			}
			if got := b.get("/me"); got.status != http.StatusOK || got.user() != "alice" {
				t.Errorf("after a logout idiom that could not end the record: %d %v; want alice still signed in", got.status, got.body)
			}
		})
	}
}

// TestLogoutIdiomWithThePreviousTokenInItsWindow: a request sent before a
// rotation, with the previous token inside its window, ends the record
// with the logout idiom as Logout does.
func TestLogoutIdiomWithThePreviousTokenInItsWindow(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(logoutIdiomRoutes))
		b := e.browser()
		b.login("alice")
		old := b.header()
		e.clock.Advance(graceRotateEvery + time.Minute)
		b.get("/me")     // rotates
		b.get("/public") // confirms: the window opens
		r := e.send("POST", "/bye?clear=1", old)
		if r.status != http.StatusOK || !expires(r.cookies, tokCookieName) {
			t.Fatalf("logout idiom with the previous token in its window: %d %v %v", r.status, r.body, r.header["Set-Cookie"])
		}
		if got := b.get("/me"); got.status != http.StatusUnauthorized {
			t.Errorf("the browser after the logout idiom of its previous token: %d %v; want 401", got.status, got.body)
		}
	})
}

// TestAnotherUsersStragglerIsNotAdopted: on a shared browser alice's
// write is answered after bob signed in, and its response puts alice's
// session cookie back next to bob's token. The request is healed into
// bob's session, but adopts nothing of alice's: her session ended with
// bob's login (on the cookie store its bytes are only hidden, never
// carried).
func TestAnotherUsersStragglerIsNotAdopted(t *testing.T) {
	e := newEnv(t, "cookie", ginsecure.Config{})
	b := e.browser()
	b.login("alice")
	late := e.send("POST", "/cart?item=alice-late", b.header()) // answered after bob's login
	if late.status != http.StatusOK || late.user() != "alice" {
		t.Fatalf("alice's write: %d %v", late.status, late.body)
	}
	b.login("bob")
	b.apply(late)
	if r := b.get("/cart"); r.user() != "bob" || r.body["cart"] == "alice-late" {
		t.Fatalf("bob with alice's late session cookie put back: %d %v; want bob, none of alice's data", r.status, r.body)
	}
	if r := b.get("/cart"); r.body["cart"] == "alice-late" {
		t.Fatalf("bob's next request: %v; alice's data was carried", r.body)
	}
}

// TestEndedSessionDataGoesAtItsFirstPresentation: an ending on a server
// that has not loaded a session yet (an administrator's RevokeUser on a
// fresh instance) cannot reach the session store; the first request that
// presents the session, on any server, deletes its data and sees none of
// it, whether it holds the token or only the session cookie.
func TestEndedSessionDataGoesAtItsFirstPresentation(t *testing.T) {
	for _, kind := range []string{"redis", "redis-2pools"} {
		for _, who := range []string{"browser", "session cookie alone"} {
			t.Run(kind+"/"+who, func(t *testing.T) {
				a := newEnv(t, kind, ginsecure.Config{})
				admin := newEnv(t, kind, ginsecure.Config{}, withRedis(a.redis))
				b := a.browser()
				b.login("alice")
				b.post("/cart?item=alice-card-4111")
				key := "session_" + sessionID(t, kind, b.cookie("app"))
				if n, err := admin.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
					t.Fatalf("RevokeUser on a server that loaded no session: %d %v", n, err)
				}
				var r reply
				if who == "browser" {
					r = b.get("/cart")
				} else {
					r = a.send("GET", "/cart", "app="+b.cookie("app"))
				}
				if r.user() != "" || r.body["cart"] != nil {
					t.Errorf("first request presenting the ended session: %v; want anonymous, no cart", r.body)
				}
				c := a.redis.Pool().Get()
				defer c.Close()
				if n, err := c.Do("EXISTS", key); err != nil || n != int64(0) {
					t.Errorf("the ended session's data is still in Redis after its first presentation (%v %v)", n, err)
				}
			})
		}
	}
}

// TestLostSessionCookieOnlyWhereTheBrowserSendsIt: a request the browser
// sends with the token but, by the session cookie's own attributes,
// without the session cookie has lost nothing: a path outside the session
// cookie's Path, a link followed from another site when the session
// cookie is SameSite=Strict (the token is Lax). The record lives on. The
// same Strict cookie missing from a same-origin request is lost.
func TestLostSessionCookieOnlyWhereTheBrowserSendsIt(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("path", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			e.sess.Options(sessions.Options{Path: "/me", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			b := e.browser()
			b.signIn("alice") // (login's first request, /public, is outside the Path)
			if r := b.get("/public"); r.status != http.StatusOK || r.user() != "" {
				t.Fatalf("GET /public outside the session cookie's Path: %d %v", r.status, r.body)
			}
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("GET /me after a request outside the session cookie's Path: %d %v; want alice", r.status, r.body)
			}
		})
		t.Run("strict", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			e.sess.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
			b := e.browser()
			b.login("alice")
			link := e.browser()
			link.setCookie(tokCookieName, b.cookie(tokCookieName))
			for _, site := range []string{"cross-site", ""} {
				if r := link.do(http.MethodGet, "/public", "Sec-Fetch-Site", site); r.status != http.StatusOK || r.user() != "" {
					t.Fatalf("a navigation (Sec-Fetch-Site %q) with the Lax token only: %d %v", site, r.status, r.body)
				}
				if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("after a navigation (Sec-Fetch-Site %q) that carried no Strict session cookie: %d %v; want alice", site, r.status, r.body)
				}
			}
			link.do(http.MethodGet, "/public", "Sec-Fetch-Site", "same-origin")
			if r := b.get("/me"); r.status != http.StatusUnauthorized {
				t.Fatalf("after a same-origin request with the token only: %d %v; want 401 (the session cookie is lost)", r.status, r.body)
			}
		})
	})
}

// TestLogoutIdiomThenAFlashSaves: after gin-contrib's logout idiom the
// request goes on with a new, empty anonymous session, as after Logout:
// a "signed out" message saved next is kept (DESIGN.md, "Endings"). The
// idiom's negative MaxAge was for the session it ended, not for the new
// one; Save must never return nil for a write that is then lost.
func TestLogoutIdiomThenAFlashSaves(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, _ *ginsecure.Guard) {
			r.POST("/bye-flash", func(c *gin.Context) {
				s := sessions.Default(c)
				s.Clear()
				s.Options(sessions.Options{Path: "/", MaxAge: -1})
				if err := s.Save(); err != nil {
					c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
					return
				}
				s.Set("cart", "signed-out")
				if err := s.Save(); err != nil {
					c.JSON(saveFailure(err))
					return
				}
				c.JSON(http.StatusOK, gin.H{"user": ""})
			})
		}))
		b := e.browser()
		b.login("alice")
		if r := b.post("/bye-flash"); r.status != http.StatusOK {
			t.Fatalf("POST /bye-flash: %d %v", r.status, r.body)
		}
		if r := b.get("/cart"); r.user() != "" || r.body["cart"] != "signed-out" {
			t.Errorf("after the logout idiom and a saved message: /cart %d %v; want anonymous with the message", r.status, r.body)
		}
	})
}
