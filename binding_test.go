package ginsecure_test

// User-to-session integration, end to end: the "where you're signed in"
// list, revocation of one, the others and all sessions, the per-user limit
// both ways, the identity layer, step-up (MaxAuthAge), HTTPS-only routes,
// and the index forgetting dead sessions. Each device is a browser with its
// own cookie jar, and each decision is checked by the devices' next requests.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/gomodule/redigo/redis"
	gsessions "github.com/gorilla/sessions"
)

// uaTransport gives every request of a browser its User-Agent, so that a
// device can be recognised in the sessions list.
type uaTransport struct {
	ua   string
	next http.RoundTripper
}

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

// device is a browser with its own cookie jar, source address and
// User-Agent: one of a user's phones or laptops.
func (e *env) device(ip, ua string) *browser {
	b := e.browserFrom(ip)
	b.client.Transport = uaTransport{ua: ua, next: b.client.Transport}
	return b
}

// clone returns a second browser with a copy of this one's cookies, on the
// same address and User-Agent: a thief's copy, or another tab, that differs
// from the original only by what the server tells each to forget.
func (b *browser) clone() *browser {
	jar, _ := cookiejar.New(nil)
	c := &browser{e: b.e, jar: jar, client: &http.Client{Jar: jar, Transport: b.client.Transport, CheckRedirect: b.client.CheckRedirect}}
	b.copyTo(c)
	return c
}

// listedSession is one entry of /me/sessions as the client sees it.
type listedSession struct {
	Handle    string
	IP        string
	UserAgent string
	Current   bool
}

// sessionsList asks /me/sessions and fails the test unless it answers 200.
func (b *browser) sessionsList() []listedSession {
	b.e.t.Helper()
	r := b.get("/me/sessions")
	if r.status != http.StatusOK {
		b.e.t.Fatalf("/me/sessions: %d %v", r.status, r.body)
	}
	raw, _ := r.body["sessions"].([]any)
	out := make([]listedSession, 0, len(raw))
	for _, v := range raw {
		m, _ := v.(map[string]any)
		s := listedSession{}
		s.Handle, _ = m["handle"].(string)
		s.IP, _ = m["ip"].(string)
		s.UserAgent, _ = m["user_agent"].(string)
		s.Current, _ = m["current"].(bool)
		out = append(out, s)
	}
	return out
}

// ownHandle is the handle of the device's own session, read from the entry
// the server marks Current.
func (b *browser) ownHandle() string {
	b.e.t.Helper()
	for _, s := range b.sessionsList() {
		if s.Current {
			return s.Handle
		}
	}
	b.e.t.Fatal("no session in the list is marked current")
	return ""
}

// revokeRoutes adds what an account page offers: ending one of the signed-in
// user's own sessions by handle. The user ID comes from the session, never
// from the request, so nobody can end another user's session.
func revokeRoutes(r *gin.Engine, g *ginsecure.Guard) {
	r.POST("/me/sessions/:handle/revoke", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
		user, _ := ginsecure.UserID(c)
		err := g.RevokeSession(c.Request.Context(), user, c.Param("handle"))
		switch {
		case errors.Is(err, ginsecure.ErrNoSession):
			c.JSON(http.StatusNotFound, gin.H{"error": "not_found"})
		case err != nil:
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
		default:
			c.JSON(http.StatusOK, gin.H{"revoked": 1})
		}
	})
}

// expectRefused checks that a device whose session was ended is refused on
// a protected route with the given code, and that a copy of its cookies
// taken before (a thief's, or the same browser's other tab) is not signed
// in either: the refusal tells the browser to drop its cookies, and the
// copy proves the server refuses the credentials, not merely that the
// browser forgot them. Only the first request can be told why: it also
// clears the handle from server-side session data (memstore, Redis), so the
// copy may be plain anonymous.
func expectRefused(t *testing.T, b *browser, code string) {
	t.Helper()
	stolen := b.clone()
	if r := b.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != code {
		t.Errorf("/me with ended session: %d %v, want 401 %q", r.status, r.body, code)
	}
	if r := stolen.get("/me"); r.status != http.StatusUnauthorized {
		t.Errorf("/me with a copy of the ended session: %d %v, want 401", r.status, r.body)
	}
	if r := b.get("/me"); r.status != http.StatusUnauthorized {
		t.Errorf("/me again with ended session: %d %v, want 401", r.status, r.body)
	}
}

// expectAnonymous checks that a device whose session was ended is served
// anonymously on a public route, with the reason it was signed out, and
// refused on a protected one afterwards.
func expectAnonymous(t *testing.T, b *browser, code string) {
	t.Helper()
	stolen := b.clone()
	if r := b.get("/public"); r.status != http.StatusOK || r.user() != "" || r.body["reason"] != code {
		t.Errorf("/public with ended session: %d %v, want 200 anonymous with reason %q", r.status, r.body, code)
	}
	for _, d := range []*browser{b, stolen} {
		if r := d.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("/me after the session ended: %d %v, want 401", r.status, r.body)
		}
	}
}

// expectSignedIn checks that a device is still the user's.
func expectSignedIn(t *testing.T, b *browser, user string) {
	t.Helper()
	if r := b.get("/me"); r.status != http.StatusOK || r.user() != user {
		t.Errorf("/me: %d %v, want 200 as %s", r.status, r.body, user)
	}
}

// TestSessionsListShowsEveryDeviceAndMarksTheCurrentOne: a user signed in
// on three devices sees all three, each with its own address and browser,
// and exactly the asking device marked current; another user's sessions
// never appear.
func TestSessionsListShowsEveryDeviceAndMarksTheCurrentOne(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		devices := map[string]*browser{
			"phone":  e.device("127.0.0.1", "phone"),
			"laptop": e.device("127.0.0.2", "laptop"),
			"tablet": e.device("127.0.0.3", "tablet"),
		}
		ips := map[string]string{"phone": "127.0.0.1", "laptop": "127.0.0.2", "tablet": "127.0.0.3"}
		for _, ua := range []string{"phone", "laptop", "tablet"} {
			devices[ua].login("alice")
			e.clock.Advance(time.Second)
		}
		bob := e.device("127.0.0.4", "bobs-phone")
		bob.login("bob")

		handles := map[string]bool{}
		for ua, b := range devices {
			list := b.sessionsList()
			if len(list) != 3 {
				t.Fatalf("%s sees %d sessions, want 3: %+v", ua, len(list), list)
			}
			current := 0
			for _, s := range list {
				if s.IP != ips[s.UserAgent] {
					t.Errorf("%s: session of %q listed with IP %q, want %q", ua, s.UserAgent, s.IP, ips[s.UserAgent])
				}
				if s.Current {
					current++
					if s.UserAgent != ua {
						t.Errorf("%s: the current session is %q's", ua, s.UserAgent)
					}
					handles[s.Handle] = true
				}
			}
			if current != 1 {
				t.Errorf("%s: %d sessions marked current, want 1", ua, current)
			}
			// Oldest first, as a "where you're signed in" page shows them.
			if list[0].UserAgent != "phone" || list[1].UserAgent != "laptop" || list[2].UserAgent != "tablet" {
				t.Errorf("%s: list not oldest first: %+v", ua, list)
			}
		}
		if len(handles) != 3 {
			t.Errorf("devices share handles: %v", handles)
		}
		if list := bob.sessionsList(); len(list) != 1 || list[0].UserAgent != "bobs-phone" || !list[0].Current {
			t.Errorf("bob's list: %+v, want only his own session", list)
		}
	})
}

// TestRevokeSessionEndsOnlyThatDevice: ending one session from the list
// signs that device out at its next request and leaves the others alone.
func TestRevokeSessionEndsOnlyThatDevice(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(revokeRoutes))
		phone, laptop, tablet := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop"), e.device("127.0.0.3", "tablet")
		phone.login("alice")
		laptop.login("alice")
		tablet.login("alice")
		lost := phone.ownHandle()
		e.events.reset()

		if r := laptop.post("/me/sessions/" + lost + "/revoke"); r.status != http.StatusOK {
			t.Fatalf("revoke the phone from the laptop: %d %v", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventRevoke); n != 1 {
			t.Errorf("%d revoke events, want 1", n)
		}
		if list := laptop.sessionsList(); len(list) != 2 {
			t.Errorf("after revoking the phone the laptop sees %d sessions, want 2: %+v", len(list), list)
		} else {
			for _, s := range list {
				if s.Handle == lost {
					t.Errorf("the revoked session is still listed: %+v", list)
				}
			}
		}
		expectAnonymous(t, phone, "revoked")
		expectSignedIn(t, laptop, "alice")
		expectSignedIn(t, tablet, "alice")
		// Revoking it again finds nothing: it is no longer one of alice's.
		if r := laptop.post("/me/sessions/" + lost + "/revoke"); r.status != http.StatusNotFound {
			t.Errorf("revoke an already revoked session: %d %v, want 404", r.status, r.body)
		}
	})
}

// TestRevokeSessionOfAnotherUserIsNotFound: a handle is not a capability.
// A user who learns another user's handle (from a log, a shared screen)
// cannot end that session: the handle is looked up among the asking user's
// own sessions only, and a foreign one looks exactly like a made-up one.
func TestRevokeSessionOfAnotherUserIsNotFound(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(revokeRoutes))
		alice, mallory := e.device("127.0.0.1", "alice"), e.device("127.0.0.2", "mallory")
		alice.login("alice")
		mallory.login("mallory")
		victim := alice.ownHandle()
		e.events.reset()

		for _, h := range []string{victim, "00000000-0000-0000-0000-000000000000", "not-a-handle", strings.ToUpper(victim)} {
			if r := mallory.post("/me/sessions/" + h + "/revoke"); r.status != http.StatusNotFound || r.errCode() != "not_found" {
				t.Errorf("mallory revokes %q: %d %v, want 404 not_found", h, r.status, r.body)
			}
		}
		if err := e.guard.RevokeSession(context.Background(), "mallory", victim); !errors.Is(err, ginsecure.ErrNoSession) {
			t.Errorf("RevokeSession(mallory, alice's handle) = %v, want ErrNoSession", err)
		}
		if n := e.events.count(ginsecure.EventRevoke); n != 0 {
			t.Errorf("%d revoke events, want none", n)
		}
		expectSignedIn(t, alice, "alice")
		if list := alice.sessionsList(); len(list) != 1 || list[0].Handle != victim {
			t.Errorf("alice's list after mallory's attempts: %+v", list)
		}
	})
}

// TestRevokeOthersAfterPasswordChange: after a password change the user
// ends every other session (one of them may be an attacker's); the device
// that asked stays signed in, other users are untouched.
func TestRevokeOthersAfterPasswordChange(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		phone, laptop, tablet := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop"), e.device("127.0.0.3", "tablet")
		bob := e.device("127.0.0.4", "bob")
		phone.login("alice")
		laptop.login("alice")
		tablet.login("alice")
		bob.login("bob")
		e.events.reset()

		r := laptop.post("/me/revoke-others")
		if r.status != http.StatusOK || r.body["revoked"] != float64(2) {
			t.Fatalf("revoke others: %d %v, want 200 revoked 2", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventRevoke); n != 2 {
			t.Errorf("%d revoke events, want 2", n)
		}
		if list := laptop.sessionsList(); len(list) != 1 || !list[0].Current || list[0].UserAgent != "laptop" {
			t.Errorf("after revoking the others the list is %+v, want only the laptop", list)
		}
		expectRefused(t, phone, "revoked")
		expectAnonymous(t, tablet, "revoked")
		expectSignedIn(t, laptop, "alice")
		expectSignedIn(t, bob, "bob")
		// Nothing left to end.
		if r := laptop.post("/me/revoke-others"); r.status != http.StatusOK || r.body["revoked"] != float64(0) {
			t.Errorf("revoke others again: %d %v, want revoked 0", r.status, r.body)
		}
	})
}

// TestRevokeUserEndsEveryDevice: an administrator disabling an account ends
// all of its sessions at their next request; the user can sign in again
// afterwards (revocation is of sessions, not of the account).
func TestRevokeUserEndsEveryDevice(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
		bob := e.device("127.0.0.4", "bob")
		phone.login("alice")
		laptop.login("alice")
		bob.login("bob")

		n, err := e.guard.RevokeUser(context.Background(), "alice")
		if err != nil || n != 2 {
			t.Fatalf("RevokeUser = %d, %v; want 2, nil", n, err)
		}
		if list, err := e.guard.Sessions(context.Background(), "alice"); err != nil || len(list) != 0 {
			t.Errorf("Sessions(alice) after RevokeUser = %+v, %v; want none", list, err)
		}
		expectRefused(t, phone, "revoked")
		expectAnonymous(t, laptop, "revoked")
		expectSignedIn(t, bob, "bob")

		phone.login("alice")
		expectSignedIn(t, phone, "alice")
		if n, err := e.guard.RevokeUser(context.Background(), "nobody"); err != nil || n != 0 {
			t.Errorf("RevokeUser(nobody) = %d, %v; want 0, nil", n, err)
		}
	})
}

// on returns the same browser (cookie jar, address, User-Agent) talking to
// another server of the app: the cookie jar keys cookies by host, not
// port, so both servers see the same cookies, as behind a load balancer.
func (b *browser) on(e *env) *browser { return &browser{e: e, jar: b.jar, client: b.client} }

// TestRevocationHoldsOnEveryServerSharingTheStore: a session ended through
// one server is refused by every other server sharing the store at its next
// request, whether the session cookie is self-contained (cookie store) or
// server-side (Redis). gin-contrib's memstore cannot be shared between
// servers, so it has no such deployment to test.
func TestRevocationHoldsOnEveryServerSharingTheStore(t *testing.T) {
	for _, kind := range []string{"cookie", "redis"} {
		t.Run(kind, func(t *testing.T) {
			var a, b *env
			if kind == "cookie" {
				shared := ginsecure.NewMemoryStore()
				a = newEnv(t, kind, ginsecure.Config{}, withStore(shared))
				b = newEnv(t, kind, ginsecure.Config{}, withStore(shared))
			} else {
				a = newEnv(t, kind, ginsecure.Config{})
				b = newEnv(t, kind, ginsecure.Config{}, withRedis(a.redis))
			}
			phone, laptop, tablet := a.device("127.0.0.1", "phone"), a.device("127.0.0.2", "laptop"), a.device("127.0.0.3", "tablet")
			phone.login("alice")
			laptop.on(b).login("alice")
			tablet.login("alice")
			// Each device works on both servers.
			for _, d := range []*browser{phone, laptop, tablet} {
				expectSignedIn(t, d, "alice")
				expectSignedIn(t, d.on(b), "alice")
			}

			if n, err := b.guard.RevokeOthers(nil); !errors.Is(err, ginsecure.ErrNoSession) || n != 0 {
				t.Errorf("RevokeOthers without a request = %d, %v; want ErrNoSession", n, err)
			}
			// The laptop, on server b, ends the others; the phone learns it
			// on server a.
			if r := laptop.on(b).post("/me/revoke-others"); r.status != http.StatusOK || r.body["revoked"] != float64(2) {
				t.Fatalf("revoke others on b: %d %v", r.status, r.body)
			}
			expectRefused(t, phone, "revoked")
			expectAnonymous(t, tablet.on(b), "revoked")
			expectSignedIn(t, laptop, "alice")

			// An administrator on server a ends the laptop's session; server b
			// refuses it.
			if n, err := a.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 1 {
				t.Fatalf("RevokeUser on a = %d, %v; want 1", n, err)
			}
			expectRefused(t, laptop.on(b), "revoked")
		})
	}
}

// TestMaxSessionsEvictsTheLeastRecentlyActive: over MaxSessionsPerUser a
// new login signs out the session used least recently, judged by recorded
// activity and not by age: the device that signed in first but kept working
// stays, the one that signed in later and went quiet goes, and it is told
// "evicted" rather than a generic failure.
func TestMaxSessionsEvictsTheLeastRecentlyActive(t *testing.T) {
	if !errors.Is(ginsecure.ErrEvicted, ginsecure.ErrExpired) {
		t.Fatal("ErrEvicted must be in the ErrExpired family")
	}
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
		older, newer, third := e.device("127.0.0.1", "older"), e.device("127.0.0.2", "newer"), e.device("127.0.0.3", "third")
		older.login("alice")
		e.clock.Advance(time.Minute)
		newer.login("alice")
		e.clock.Advance(5 * time.Minute)
		expectSignedIn(t, older, "alice") // recorded: a TouchInterval has passed
		e.clock.Advance(time.Minute)
		e.events.reset()

		third.login("alice")
		if n := e.events.count(ginsecure.EventLimit); n != 1 {
			t.Errorf("%d limit events, want 1", n)
		}
		list := third.sessionsList()
		if len(list) != 2 || list[0].UserAgent != "older" || list[1].UserAgent != "third" {
			t.Errorf("after the third login the list is %+v, want older and third", list)
		}
		expectRefused(t, newer, "evicted")
		expectSignedIn(t, older, "alice")
		expectSignedIn(t, third, "alice")
	})
}

// TestEvictionOrderFollowsRecordedActivity: activity is recorded at most
// once per TouchInterval, and eviction goes by what was recorded. A request
// inside the interval does not count, so the device that signed in first is
// still the least recently active and is the one signed out.
func TestEvictionOrderFollowsRecordedActivity(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2, TouchInterval: 5 * time.Minute})
		older, newer, third := e.device("127.0.0.1", "older"), e.device("127.0.0.2", "newer"), e.device("127.0.0.3", "third")
		older.login("alice")
		e.clock.Advance(time.Minute)
		newer.login("alice")
		e.clock.Advance(2 * time.Minute)
		expectSignedIn(t, older, "alice") // 3 minutes after login: not recorded
		e.clock.Advance(time.Minute)

		third.login("alice")
		expectAnonymous(t, older, "evicted")
		expectSignedIn(t, newer, "alice")
		expectSignedIn(t, third, "alice")
	})
}

// TestRejectExtraLoginsKeepsTheExistingSessions: with RejectExtraLogins a
// login over the limit is refused (403 too_many_sessions) and the sessions
// already signed in keep working; a slot frees when one of them signs out
// or is revoked.
func TestRejectExtraLoginsKeepsTheExistingSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2, RejectExtraLogins: true})
		phone, laptop, third := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop"), e.device("127.0.0.3", "third")
		phone.login("alice")
		laptop.login("alice")
		e.events.reset()

		r := third.post("/login?user=alice")
		if r.status != http.StatusForbidden || r.errCode() != "too_many_sessions" {
			t.Fatalf("third login: %d %v, want 403 too_many_sessions", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventLimit); n != 1 {
			t.Errorf("%d limit events, want 1", n)
		}
		if n := e.events.count(ginsecure.EventLogin); n != 0 {
			t.Errorf("%d login events for a refused login", n)
		}
		if r := third.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("refused device on /me: %d %v, want 401", r.status, r.body)
		}
		expectSignedIn(t, phone, "alice")
		expectSignedIn(t, laptop, "alice")
		if list := phone.sessionsList(); len(list) != 2 {
			t.Errorf("list after the refused login: %+v", list)
		}
		// Other users have their own limit.
		third.login("bob")
		third.post("/logout")

		if r := phone.post("/logout"); r.status != http.StatusOK {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
		third.login("alice")
		if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		phone.login("alice")
		laptop.login("alice")
		expectSignedIn(t, phone, "alice")
		expectSignedIn(t, laptop, "alice")
	})
}

// basicAuthAccounts are the accounts of the Basic auth layer in front of
// /basic: the same users the session layer knows.
var basicAuthAccounts = gin.Accounts{"alice": "alice-pw", "bob": "bob-pw"}

// identityFromBasicAuth connects gin.BasicAuth to the session layer, as
// Config.Identity documents.
func identityFromBasicAuth(c *gin.Context) (string, bool) {
	u := c.GetString(gin.AuthUserKey)
	return u, u != ""
}

// basicAuthRoutes guards /basic with gin.BasicAuth and then the session:
// Require runs after BasicAuth, so it sees the user BasicAuth names.
func basicAuthRoutes(r *gin.Engine, g *ginsecure.Guard) {
	grp := r.Group("/basic", gin.BasicAuth(basicAuthAccounts), g.Require(ginsecure.Policy{Authenticated: true}))
	grp.GET("/me", func(c *gin.Context) {
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u, "basic": c.GetString(gin.AuthUserKey)})
	})
}

func basicAuth(user string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+basicAuthAccounts[user]))}
}

// TestIdentityMismatchRevokesTheSession: a session of alice presented with
// bob's Basic credentials means the session cookie travels with someone
// else (a shared or stolen browser session): the request is refused and
// the session revoked, so no copy of it works any more.
func TestIdentityMismatchRevokesTheSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{Identity: identityFromBasicAuth}, withRoutes(basicAuthRoutes))
		b := e.device("127.0.0.1", "shared")
		b.login("alice")
		other := e.device("127.0.0.2", "other")
		other.login("alice")
		copied := b.clone()
		e.events.reset()

		r := b.do(http.MethodGet, "/basic/me", basicAuth("bob")...)
		if r.status != http.StatusUnauthorized || r.errCode() != "identity_mismatch" {
			t.Fatalf("alice's session with bob's Basic auth: %d %v, want 401 identity_mismatch", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventIdentityMismatch); n != 1 {
			t.Errorf("%d identity_mismatch events, want 1", n)
		}
		expectRefused(t, copied, "identity_mismatch")
		// Only the session that travelled with bob's credentials ends.
		expectSignedIn(t, other, "alice")
		if list := other.sessionsList(); len(list) != 1 {
			t.Errorf("alice's list after the mismatch: %+v, want only the other device", list)
		}
	})
}

// TestIdentityMismatchSeenByRequireOnARouteWithoutAUser: an identity
// layer that runs per route group (gin.BasicAuth) is asked by the group's
// Require; on a group that does not require a user the mismatch revokes
// the session as everywhere, and the request goes on anonymous with none
// of the session's data and no cookie of ours written.
func TestIdentityMismatchSeenByRequireOnARouteWithoutAUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		routes := func(r *gin.Engine, g *ginsecure.Guard) {
			r.GET("/basic/cart", gin.BasicAuth(basicAuthAccounts), g.Require(ginsecure.Policy{}), func(c *gin.Context) {
				u, _ := ginsecure.UserID(c)
				s := sessions.Default(c)
				s.Set("seen", "yes")
				h := gin.H{"user": u, "cart": s.Get("cart"), "saved": ginsecure.ErrorCode(s.Save())}
				// A handler saving through gorilla itself must not write either.
				if gs := s.(interface{ Session() *gsessions.Session }).Session(); gs != nil {
					_ = gs.Store().Save(c.Request, c.Writer, gs)
				}
				if err := ginsecure.FailureReason(c); err != nil {
					h["reason"] = ginsecure.ErrorCode(err)
				}
				c.JSON(http.StatusOK, h)
			})
		}
		e := newEnv(t, kind, ginsecure.Config{Identity: identityFromBasicAuth}, withRoutes(routes))
		b := e.device("127.0.0.1", "shared")
		b.login("alice")
		b.post("/cart?item=alice-card")
		copied := b.clone()
		r := b.do(http.MethodGet, "/basic/cart", basicAuth("bob")...)
		if r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "identity_mismatch" || r.body["cart"] != nil || r.body["saved"] != "foreign_session" {
			t.Fatalf("alice's session with bob's Basic auth on a route without a user: %d %v, want 200 anonymous, reason identity_mismatch, no cart, Save refused", r.status, r.body)
		}
		if got := graceCookies(r.cookies); got != "" {
			t.Errorf("the mismatch's response sets %q; want no cookie of ours", got)
		}
		expectRefused(t, copied, "identity_mismatch")
	})
}

// TestIdentityMismatchEventOncePerRecord: requests verified before the
// mismatch revoked the session each meet the mismatch in their group's
// Require; the record's mismatch is reported once, not once per request.
func TestIdentityMismatchEventOncePerRecord(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		gate := make(chan struct{})
		var entered sync.WaitGroup
		routes := func(r *gin.Engine, g *ginsecure.Guard) {
			wait := func(c *gin.Context) { entered.Done(); <-gate }
			r.GET("/gated/me", wait, gin.BasicAuth(basicAuthAccounts), g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
				c.JSON(http.StatusOK, gin.H{})
			})
		}
		e := newEnv(t, kind, ginsecure.Config{Identity: identityFromBasicAuth}, withRoutes(routes))
		b := e.device("127.0.0.1", "shared")
		b.login("alice")
		const n = 4
		entered.Add(n)
		replies := make(chan reply, n)
		for range n {
			go func() { replies <- b.clone().do(http.MethodGet, "/gated/me", basicAuth("bob")...) }()
		}
		entered.Wait()
		close(gate)
		for range n {
			if r := <-replies; r.status != http.StatusUnauthorized || r.errCode() != "identity_mismatch" {
				t.Errorf("alice's session with bob's Basic auth: %d %v, want 401 identity_mismatch", r.status, r.body)
			}
		}
		if got := e.events.count(ginsecure.EventIdentityMismatch); got != 1 {
			t.Errorf("%d identity_mismatch events for %d requests of one record, want 1", got, n)
		}
	})
}

// TestIdentityMatchPasses: when both layers name the same user nothing is
// refused or revoked, and routes without the other layer are unaffected.
func TestIdentityMatchPasses(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{Identity: identityFromBasicAuth}, withRoutes(basicAuthRoutes))
		b := e.device("127.0.0.1", "phone")
		b.login("alice")
		e.events.reset()
		for i := 0; i < 2; i++ {
			r := b.do(http.MethodGet, "/basic/me", basicAuth("alice")...)
			if r.status != http.StatusOK || r.user() != "alice" || r.body["basic"] != "alice" {
				t.Fatalf("alice's session with alice's Basic auth: %d %v", r.status, r.body)
			}
		}
		expectSignedIn(t, b, "alice")
		if n := e.events.count(ginsecure.EventIdentityMismatch) + e.events.count(ginsecure.EventRevoke); n != 0 {
			t.Errorf("%d identity or revoke events, want none", n)
		}
		// A wrong password is Basic auth's refusal, not ours: the session
		// stays.
		bad := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:guess"))}
		if r := b.do(http.MethodGet, "/basic/me", bad...); r.status != http.StatusUnauthorized {
			t.Errorf("wrong Basic password: %d %v, want 401", r.status, r.body)
		}
		expectSignedIn(t, b, "alice")
	})
}

// TestNoIdentityLayerChangesNothing: without Config.Identity the session
// alone decides who the user is, whatever another layer says.
func TestNoIdentityLayerChangesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(basicAuthRoutes))
		b := e.device("127.0.0.1", "phone")
		b.login("alice")
		e.events.reset()
		r := b.do(http.MethodGet, "/basic/me", basicAuth("bob")...)
		if r.status != http.StatusOK || r.user() != "alice" || r.body["basic"] != "bob" {
			t.Fatalf("no Identity, alice's session with bob's Basic auth: %d %v, want 200 as alice", r.status, r.body)
		}
		expectSignedIn(t, b, "alice")
		if n := e.events.count(ginsecure.EventIdentityMismatch) + e.events.count(ginsecure.EventRevoke); n != 0 {
			t.Errorf("%d identity or revoke events, want none", n)
		}
	})
}

// identityFromSSOHeader is an identity layer known before the middleware
// runs (a trusted SSO proxy's header), so it is checked on every route,
// public ones included.
func identityFromSSOHeader(c *gin.Context) (string, bool) {
	u := c.GetHeader("X-Remote-User")
	return u, u != ""
}

// TestIdentityMismatchIsCheckedOnEveryRoute: an identity the middleware can
// already see is checked before any handler, so even a public route does
// not serve alice's session to bob, and the session is revoked there too.
// The public route serves bob anonymous (reason identity_mismatch), with
// none of alice's session data; a route that requires a user answers 401.
func TestIdentityMismatchIsCheckedOnEveryRoute(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{Identity: identityFromSSOHeader})
		b := e.device("127.0.0.1", "phone")
		b.login("alice")
		if r := b.do(http.MethodGet, "/public", "X-Remote-User", "alice"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("matching SSO header on /public: %d %v", r.status, r.body)
		}
		if r := b.post("/cart?item=alice-card"); r.status != http.StatusOK {
			t.Fatalf("alice's cart: %d %v", r.status, r.body)
		}
		copied := b.clone()
		r := b.do(http.MethodGet, "/cart", "X-Remote-User", "bob")
		if r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "identity_mismatch" || r.body["cart"] != nil {
			t.Fatalf("alice's session with bob's SSO header on /cart: %d %v, want 200 anonymous, reason identity_mismatch, no cart", r.status, r.body)
		}
		if got := graceCookies(r.cookies); got != "" {
			t.Errorf("the mismatch's response sets %q; want no cookie of ours", got)
		}
		expectAnonymous(t, copied, "identity_mismatch")
	})
}

// TestMaxAuthAgeDemandsARecentLogin: a user active all along (so the idle
// timeout never hits) is, 11 minutes after login, refused by the /admin
// group's 10-minute MaxAuthAge with 403 reauth_required, while the session
// itself stays valid everywhere else; Renew (a fresh authentication)
// restores access, and a request still carrying the credentials from
// before the Renew does not get the fresh login's privilege.
func TestMaxAuthAgeDemandsARecentLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.device("127.0.0.1", "laptop")
		b.login("alice")
		for i := 0; i < 3; i++ {
			e.clock.Advance(3 * time.Minute)
			expectSignedIn(t, b, "alice")
		}
		if r := b.get("/admin"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("/admin 9 minutes after login: %d %v, want 200", r.status, r.body)
		}
		e.clock.Advance(2 * time.Minute)
		e.events.reset()

		r := b.get("/admin")
		if r.status != http.StatusForbidden || r.errCode() != "reauth_required" {
			t.Fatalf("/admin 11 minutes after login: %d %v, want 403 reauth_required", r.status, r.body)
		}
		if hasCookie(r.cookies, ginsecure.DefaultCookieName) {
			t.Errorf("a step-up refusal touched the token cookie: %v", r.cookies)
		}
		if n := e.events.count(ginsecure.EventRevoke); n != 0 {
			t.Errorf("%d revoke events for a step-up refusal", n)
		}
		expectSignedIn(t, b, "alice")
		if r := b.get("/public"); r.user() != "alice" {
			t.Errorf("/public after the step-up refusal: %v", r.body)
		}

		before := b.clone()
		if r := b.post("/renew"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("renew: %d %v", r.status, r.body)
		}
		if r := b.get("/admin"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("/admin after renew: %d %v, want 200", r.status, r.body)
		}
		// Inside the grace window the old credentials still work, with the
		// old login time: the step-up is not theirs.
		if r := before.get("/admin"); r.status != http.StatusForbidden || r.errCode() != "reauth_required" {
			t.Errorf("/admin with the credentials from before the renew: %d %v, want 403 reauth_required", r.status, r.body)
		}
		e.clock.Advance(10*time.Minute + time.Second)
		if r := b.get("/admin"); r.status != http.StatusForbidden || r.errCode() != "reauth_required" {
			t.Errorf("/admin 10 minutes after renew: %d %v, want 403 reauth_required", r.status, r.body)
		}
	})
}

// servedOverPlainHTTP starts the app without TLS.
func servedOverPlainHTTP() envOption { return func(o *envOpts) { o.noTLS = true } }

// tlsRoutes adds a payment route that only HTTPS may reach.
func tlsRoutes(r *gin.Engine, g *ginsecure.Guard) {
	r.POST("/pay", g.Require(ginsecure.Policy{Authenticated: true, RequireTLS: true}), func(c *gin.Context) {
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
}

// TestRequireTLSRefusesPlainHTTP: a route that demands HTTPS refuses a
// plain-HTTP request with 403 tls_required even when it carries a valid
// session (its cookies were readable on the wire), and the refusal is a
// policy one: the session goes on working over HTTPS. The check does not
// depend on the session store.
func TestRequireTLSRefusesPlainHTTP(t *testing.T) {
	shared := ginsecure.NewMemoryStore()
	secure := newEnv(t, "cookie", ginsecure.Config{}, withStore(shared), withRoutes(tlsRoutes))
	plain := newEnv(t, "cookie", ginsecure.Config{}, withStore(shared), withRoutes(tlsRoutes), servedOverPlainHTTP())
	b := secure.device("127.0.0.1", "laptop")
	if r := b.post("/pay"); r.status != http.StatusUnauthorized || r.errCode() != "no_session" {
		t.Errorf("anonymous /pay over HTTPS: %d %v, want 401 no_session", r.status, r.body)
	}
	b.login("alice")
	if r := b.post("/pay"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("/pay over HTTPS: %d %v, want 200", r.status, r.body)
	}

	// The browser would not send Secure cookies over HTTP; someone replaying
	// them (or a misconfigured client) would.
	var cookies []string
	for _, c := range b.cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	overHTTP := plain.browser()
	if r := overHTTP.do(http.MethodGet, "/public", "Cookie", strings.Join(cookies, "; ")); r.user() != "alice" {
		t.Fatalf("the session should be valid on the plain-HTTP server's public route: %v", r.body)
	}
	if r := overHTTP.do(http.MethodPost, "/pay", "Cookie", strings.Join(cookies, "; ")); r.status != http.StatusForbidden || r.errCode() != "tls_required" {
		t.Errorf("/pay over plain HTTP with a valid session: %d %v, want 403 tls_required", r.status, r.body)
	}
	if r := overHTTP.post("/pay"); r.status != http.StatusForbidden || r.errCode() != "tls_required" {
		t.Errorf("anonymous /pay over plain HTTP: %d %v, want 403 tls_required", r.status, r.body)
	}
	expectSignedIn(t, b, "alice")
}

// TestTimedOutSessionsLeaveTheList: a device that went quiet past the idle
// timeout, or reached the absolute timeout however active, disappears from
// the user's list and cannot come back.
func TestTimedOutSessionsLeaveTheList(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		first, quiet := e.device("127.0.0.1", "first"), e.device("127.0.0.2", "quiet")
		t0 := e.clock.Now()
		first.login("alice")
		quiet.login("alice")
		for i := 0; i < 3; i++ {
			e.clock.Advance(10 * time.Minute)
			expectSignedIn(t, first, "alice")
		}
		// 30 minutes without a request: the quiet device is gone.
		if list := first.sessionsList(); len(list) != 1 || list[0].UserAgent != "first" {
			t.Errorf("list after the idle timeout: %+v, want only the active device", list)
		}
		expectNotSignedIn(t, quiet)

		// The first device, active all along, reaches the absolute timeout
		// 12 hours after its login; a device signed in since stays.
		var later *browser
		for e.clock.Now().Before(t0.Add(12 * time.Hour)) {
			if later == nil && e.clock.Now().After(t0.Add(6*time.Hour)) {
				later = e.device("127.0.0.3", "later")
				later.login("alice")
			}
			expectSignedIn(t, first, "alice")
			if later != nil {
				expectSignedIn(t, later, "alice")
			}
			e.clock.Advance(10 * time.Minute)
		}
		if list := later.sessionsList(); len(list) != 1 || list[0].UserAgent != "later" {
			t.Errorf("list after the absolute timeout: %+v, want only the later device", list)
		}
		expectNotSignedIn(t, first)
	})
}

// expectNotSignedIn checks that a device is refused on a protected route
// because its session timed out (idle_timeout or expired: both are
// timeouts, and which one the store still knows is its business).
func expectNotSignedIn(t *testing.T, b *browser) {
	t.Helper()
	r := b.get("/me")
	if r.status != http.StatusUnauthorized {
		t.Errorf("/me after a timeout: %d %v, want 401", r.status, r.body)
	}
	if code := r.errCode(); code != "idle_timeout" && code != "expired" {
		t.Errorf("/me after a timeout: %v, want idle_timeout or expired", r.body)
	}
}

// TestDeadSessionsDoNotAccumulate: sessions that signed out, were revoked
// or went idle leave the index and the store; the memory store sweeps them
// (gin-contrib's memstore never forgets anything, ginsecure's must), and
// every key ginsecure writes to Redis carries a TTL, so Redis forgets them
// by itself.
func TestDeadSessionsDoNotAccumulate(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		const users = 30
		for i := 0; i < users; i++ {
			b := e.device("127.0.0.1", "device")
			b.post("/cart?item=apple") // a pre-login session, so Login leaves a marker
			user := fmt.Sprintf("user%d", i)
			b.login(user)
			switch i % 3 {
			case 0:
				b.post("/logout")
			case 1:
				if _, err := e.guard.RevokeUser(context.Background(), user); err != nil {
					t.Fatal(err)
				}
			}
		}
		ctx := context.Background()
		if list, _ := e.guard.Sessions(ctx, "user2"); len(list) != 1 {
			t.Fatalf("an idle-to-be session should be listed before the timeout: %+v", list)
		}
		if list, _ := e.guard.Sessions(ctx, "user1"); len(list) != 0 {
			t.Errorf("a revoked session is listed: %+v", list)
		}

		if !isRedis(kind) {
			// Signed-out and revoked sessions left the index at once; the
			// revoked and idle records are still stored until they expire.
			if us, hs := ginsecure.MemoryStoreIndexSize(e.store); us != users/3 || hs != users/3 {
				t.Errorf("index holds %d users with %d handles, want the %d live sessions only", us, hs, users/3)
			}
			if recs, _ := ginsecure.MemoryStoreSize(e.store); recs < 2*users/3 {
				t.Fatalf("memory store holds %d records before the timeout, want at least %d", recs, 2*users/3)
			}
		}
		e.clock.Advance(ginsecure.DefaultIdleTimeout + time.Minute)
		for i := 0; i < users; i++ {
			if list, err := e.guard.Sessions(ctx, fmt.Sprintf("user%d", i)); err != nil || len(list) != 0 {
				t.Fatalf("user%d after the idle timeout: %+v, %v", i, list, err)
			}
		}
		// The store may keep a dead record a while to tell its holder why
		// it was signed out; half a day later it must be gone.
		e.clock.Advance(ginsecure.DefaultAbsoluteTimeout)
		newcomer := e.device("127.0.0.1", "newcomer")
		newcomer.post("/cart?item=pear")
		newcomer.login("newcomer")

		if isRedis(kind) {
			expectEveryKeyExpires(t, e)
			return
		}
		// The newcomer's login swept everything else away.
		if recs, marks := ginsecure.MemoryStoreSize(e.store); recs != 1 || marks > 1 {
			t.Errorf("memory store holds %d records and %d markers, want the newcomer's only", recs, marks)
		}
		if us, hs := ginsecure.MemoryStoreIndexSize(e.store); us != 1 || hs != 1 {
			t.Errorf("memory store index holds %d users with %d handles, want the newcomer's only", us, hs)
		}
	})
}

// expectEveryKeyExpires fails unless every key ginsecure keeps in Redis has
// a TTL, and none longer than a day (a session lives 12 hours at most).
func expectEveryKeyExpires(t *testing.T, e *env) {
	t.Helper()
	c := e.redis.Pool().Get()
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "gs:*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no ginsecure keys in Redis: wrong prefix?")
	}
	for _, k := range keys {
		// Kept without TTL on purpose, so that no eviction policy that
		// spares such keys can undo a revocation (redisstore,
		// revocation.go): the store's creation counter (one key) and the
		// revocation mark of a user (one key per user at most, replaced,
		// never added to: bounded by the user count, not the sessions).
		if k == "gs:seq" || strings.HasPrefix(k, "gs:x:") {
			continue
		}
		ttl, err := redis.Int64(c.Do("PTTL", k))
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || time.Duration(ttl)*time.Millisecond > 24*time.Hour {
			t.Errorf("Redis key %s has TTL %dms: it would never be forgotten", k, ttl)
		}
	}
}

// TestUserBindingScenarios is the table of user-to-session decisions: for
// each situation a device can be in, what the request under test gets
// (status, error code, user, reason), what happens to its token cookie,
// and which security events it causes.
func TestUserBindingScenarios(t *testing.T) {
	const (
		untouched = ""        // the response does not touch the token cookie
		set       = "set"     // the response sets a new token
		dropped   = "dropped" // the response expires the token cookie
	)
	type scenario struct {
		name string
		cfg  ginsecure.Config
		opts []envOption
		// setup signs devices in and ends sessions as the scenario needs;
		// it returns the device making the request under test and what
		// replaces {handle} in path.
		setup  func(t *testing.T, e *env) (*browser, string)
		method string
		path   string
		header []string

		status int
		code   string // the "error" of the response, "" when served
		user   string // the user served, "" when anonymous or refused
		reason string // FailureReason's code on a served anonymous request
		token  string
		events map[ginsecure.EventKind]int // of the request under test; unlisted kinds: none
	}
	signedIn := func(t *testing.T, e *env) (*browser, string) {
		b := e.device("127.0.0.1", "phone")
		b.login("alice")
		return b, ""
	}
	twoDevices := func(t *testing.T, e *env) (phone, laptop *browser) {
		phone, laptop = e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
		phone.login("alice")
		e.clock.Advance(time.Minute)
		laptop.login("alice")
		return phone, laptop
	}
	withBasicAuth := ginsecure.Config{Identity: identityFromBasicAuth}
	max2 := ginsecure.Config{MaxSessionsPerUser: 2}
	max2Reject := ginsecure.Config{MaxSessionsPerUser: 2, RejectExtraLogins: true}
	ev := func(kv ...any) map[ginsecure.EventKind]int {
		m := map[ginsecure.EventKind]int{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(ginsecure.EventKind)] = kv[i+1].(int)
		}
		return m
	}

	scenarios := []scenario{
		{
			name: "anonymous on a protected route", method: "GET", path: "/me",
			setup:  func(t *testing.T, e *env) (*browser, string) { return e.browser(), "" },
			status: 401, code: "no_session",
		},
		{
			name: "own session on a protected route", method: "GET", path: "/me",
			setup:  signedIn,
			status: 200, user: "alice",
		},
		{
			name: "session revoked from another device, protected route", method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				phone, laptop := twoDevices(t, e)
				laptop.post("/me/sessions/" + phone.ownHandle() + "/revoke")
				return phone, ""
			},
			status: 401, code: "revoked",
		},
		{
			name: "session revoked from another device, public route", method: "GET", path: "/public",
			setup: func(t *testing.T, e *env) (*browser, string) {
				phone, laptop := twoDevices(t, e)
				laptop.post("/me/sessions/" + phone.ownHandle() + "/revoke")
				return phone, ""
			},
			status: 200, reason: "revoked",
		},
		{
			name: "revoking one of one's own sessions", method: "POST", path: "/me/sessions/{handle}/revoke",
			setup: func(t *testing.T, e *env) (*browser, string) {
				phone, laptop := twoDevices(t, e)
				return laptop, phone.ownHandle()
			},
			status: 200, user: "", events: ev(ginsecure.EventRevoke, 1),
		},
		{
			name: "revoking another user's session", method: "POST", path: "/me/sessions/{handle}/revoke",
			setup: func(t *testing.T, e *env) (*browser, string) {
				victim, _ := signedIn(t, e)
				mallory := e.device("127.0.0.2", "mallory")
				mallory.login("mallory")
				return mallory, victim.ownHandle()
			},
			status: 404, code: "not_found",
		},
		{
			name: "session ended by RevokeOthers after a password change", method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				phone, laptop := twoDevices(t, e)
				laptop.post("/me/revoke-others")
				return phone, ""
			},
			status: 401, code: "revoked",
		},
		{
			name: "the device that ran RevokeOthers", method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				_, laptop := twoDevices(t, e)
				laptop.post("/me/revoke-others")
				return laptop, ""
			},
			status: 200, user: "alice",
		},
		{
			name: "session ended by RevokeUser (account disabled)", method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				b, _ := signedIn(t, e)
				if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
					t.Fatal(err)
				}
				return b, ""
			},
			status: 401, code: "revoked",
		},
		{
			// A session counts from its first request: the login alone
			// signs nobody out (its response may never reach a browser).
			name: "login over the limit signs out nobody yet", cfg: max2,
			method: "POST", path: "/login?user=alice",
			setup: func(t *testing.T, e *env) (*browser, string) {
				twoDevices(t, e)
				return e.device("127.0.0.3", "third"), ""
			},
			status: 200, user: "alice", token: set, events: ev(ginsecure.EventLogin, 1),
		},
		{
			name: "first request of a login over the limit signs out the least recently active", cfg: max2,
			method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				twoDevices(t, e)
				third := e.device("127.0.0.3", "third")
				third.signIn("alice")
				return third, ""
			},
			status: 200, user: "alice", events: ev(ginsecure.EventLimit, 1),
		},
		{
			name: "session evicted by a newer login", cfg: max2, method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				phone, _ := twoDevices(t, e)
				e.device("127.0.0.3", "third").login("alice")
				return phone, ""
			},
			status: 401, code: "evicted",
		},
		{
			name: "login over the limit refused", cfg: max2Reject, method: "POST", path: "/login?user=alice",
			setup: func(t *testing.T, e *env) (*browser, string) {
				twoDevices(t, e)
				return e.device("127.0.0.3", "third"), ""
			},
			status: 403, code: "too_many_sessions", events: ev(ginsecure.EventLimit, 1),
		},
		{
			name: "existing session after a refused extra login", cfg: max2Reject, method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				phone, _ := twoDevices(t, e)
				e.device("127.0.0.3", "third").post("/login?user=alice")
				return phone, ""
			},
			status: 200, user: "alice",
		},
		{
			name: "identity layer names another user", cfg: withBasicAuth,
			method: "GET", path: "/basic/me", header: basicAuth("bob"),
			setup:  signedIn,
			status: 401, code: "identity_mismatch", events: ev(ginsecure.EventIdentityMismatch, 1),
		},
		{
			name: "session after an identity mismatch", cfg: withBasicAuth, method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				b, _ := signedIn(t, e)
				copied := b.clone()
				b.do("GET", "/basic/me", basicAuth("bob")...)
				return copied, ""
			},
			status: 401, code: "identity_mismatch",
		},
		{
			name: "identity layer names the session's user", cfg: withBasicAuth,
			method: "GET", path: "/basic/me", header: basicAuth("alice"),
			setup:  signedIn,
			status: 200, user: "alice",
		},
		{
			name: "no identity layer configured", method: "GET", path: "/basic/me", header: basicAuth("bob"),
			setup:  signedIn,
			status: 200, user: "alice",
		},
		{
			name: "login 9 minutes ago on a 10-minute step-up route", method: "GET", path: "/admin",
			setup: func(t *testing.T, e *env) (*browser, string) {
				b, _ := signedIn(t, e)
				e.clock.Advance(9 * time.Minute)
				return b, ""
			},
			status: 200, user: "alice",
		},
		{
			name: "login 11 minutes ago on a 10-minute step-up route", method: "GET", path: "/admin",
			setup: func(t *testing.T, e *env) (*browser, string) {
				b, _ := signedIn(t, e)
				e.clock.Advance(11 * time.Minute)
				return b, ""
			},
			status: 403, code: "reauth_required",
		},
		{
			name: "login 11 minutes ago on an ordinary route", method: "GET", path: "/me",
			setup: func(t *testing.T, e *env) (*browser, string) {
				b, _ := signedIn(t, e)
				e.clock.Advance(11 * time.Minute)
				return b, ""
			},
			status: 200, user: "alice",
		},
		{
			name: "Renew 1 minute ago after a login 11 minutes ago, step-up route", method: "GET", path: "/admin",
			setup: func(t *testing.T, e *env) (*browser, string) {
				b, _ := signedIn(t, e)
				e.clock.Advance(10 * time.Minute)
				b.post("/renew")
				e.clock.Advance(time.Minute)
				return b, ""
			},
			status: 200, user: "alice",
		},
		{
			name: "plain HTTP on an HTTPS-only route", opts: []envOption{servedOverPlainHTTP()},
			method: "POST", path: "/pay",
			setup:  func(t *testing.T, e *env) (*browser, string) { return e.browser(), "" },
			status: 403, code: "tls_required",
		},
	}

	// Every kind the request under test could cause; rotation and grace
	// are the grace period's table, not this one.
	kinds := []ginsecure.EventKind{
		ginsecure.EventLogin, ginsecure.EventLogout, ginsecure.EventReplay, ginsecure.EventIPMismatch,
		ginsecure.EventIdentityMismatch, ginsecure.EventTokenMismatch, ginsecure.EventRevoke,
		ginsecure.EventLimit, ginsecure.EventTimeout,
	}
	allRoutes := func(r *gin.Engine, g *ginsecure.Guard) {
		revokeRoutes(r, g)
		basicAuthRoutes(r, g)
		tlsRoutes(r, g)
	}
	forEachStore(t, func(t *testing.T, kind string) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				e := newEnv(t, kind, sc.cfg, append([]envOption{withRoutes(allRoutes)}, sc.opts...)...)
				b, handle := sc.setup(t, e)
				e.events.reset()
				r := b.do(sc.method, strings.ReplaceAll(sc.path, "{handle}", handle), sc.header...)

				if r.status != sc.status || r.errCode() != sc.code || r.user() != sc.user {
					t.Errorf("got %d %v, want %d error %q user %q", r.status, r.body, sc.status, sc.code, sc.user)
				}
				if reason, _ := r.body["reason"].(string); reason != sc.reason {
					t.Errorf("reason %q, want %q", reason, sc.reason)
				}
				var tok string
				for _, c := range r.cookies {
					if c.Name == ginsecure.DefaultCookieName {
						tok = set
						if c.MaxAge < 0 {
							tok = dropped
						}
					}
				}
				if tok != sc.token {
					t.Errorf("token cookie %q, want %q", tok, sc.token)
				}
				for _, k := range kinds {
					if got, want := e.events.count(k), sc.events[k]; got != want {
						t.Errorf("%d %s events, want %d", got, k, want)
					}
				}
			})
		}
	})
}

// TestParallelLoginsNeverExceedTheLimit: logins of one user racing on many
// devices at once (a credential-stuffing run, or one user's many tabs),
// then each device's first request, racing too, can never leave more than
// MaxSessionsPerUser sessions alive, because the store checks the limit
// and records the first presentation in one atomic step. A session counts
// from its first request: every login passes, and the limit decides at the
// first requests (evicting the least recently used other one, or with
// RejectExtraLogins refusing the request over the limit).
func TestParallelLoginsNeverExceedTheLimit(t *testing.T) {
	const devices = 8
	for _, reject := range []bool{true, false} {
		t.Run(fmt.Sprintf("reject=%v", reject), func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2, RejectExtraLogins: reject})
				bs := make([]*browser, devices)
				for i := range bs {
					bs[i] = e.device("127.0.0.1", fmt.Sprintf("device%d", i))
				}
				parallel := func(f func(b *browser) int) []int {
					statuses := make([]int, devices)
					var wg sync.WaitGroup
					for i, b := range bs {
						wg.Add(1)
						go func() {
							defer wg.Done()
							statuses[i] = f(b)
						}()
					}
					wg.Wait()
					return statuses
				}
				count := func(statuses []int, want int) int {
					n := 0
					for _, s := range statuses {
						if s == want {
							n++
						}
					}
					return n
				}
				logins := parallel(func(b *browser) int { return b.post("/login?user=alice").status })
				if n := count(logins, http.StatusOK); n != devices {
					t.Fatalf("%d of %d logins passed, want all (no session counts before its first request): %v", n, devices, logins)
				}
				first := parallel(func(b *browser) int { return b.get("/me").status })
				if ok := count(first, http.StatusOK); reject && (ok != 2 || count(first, http.StatusForbidden) != devices-2) {
					t.Errorf("rejecting: %d first requests passed, want 2 and %d refused: %v", ok, devices-2, first)
				}
				signedIn := count(parallel(func(b *browser) int { return b.get("/me").status }), http.StatusOK)
				list, err := e.guard.Sessions(context.Background(), "alice")
				if signedIn != 2 || err != nil || len(list) != 2 {
					t.Errorf("%d devices signed in and %d sessions listed (%v), want 2", signedIn, len(list), err)
				}
			})
		})
	}
}

// TestReloginDoesNotCountAgainstTheLimit: signing in again from the same
// browser replaces its session; with RejectExtraLogins and a limit of one
// it must not be refused as a second session.
func TestReloginDoesNotCountAgainstTheLimit(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1, RejectExtraLogins: true})
		b := e.browser()
		b.login("alice")
		if r := b.post("/login?user=alice"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("re-login from the same browser: %d %v", r.status, r.body)
		}
		expectSignedIn(t, b, "alice") // its first request: the new session holds the slot from here
		if r := e.browser().post("/login?user=alice"); r.status != http.StatusForbidden || r.errCode() != "too_many_sessions" {
			t.Fatalf("login from a second browser: %d %v", r.status, r.body)
		}
		if s, err := e.guard.Sessions(context.Background(), "alice"); err != nil || len(s) != 1 {
			t.Fatalf("sessions after re-login: %v %v", s, err)
		}
	})
}

// TestSessionInfoJSON: the sessions list marshals with snake_case names,
// for an API that returns it as it is.
func TestSessionInfoJSON(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	got, err := json.Marshal(ginsecure.SessionInfo{Handle: "h", Created: at, LastSeen: at, IP: "192.0.2.1", UserAgent: "ua", Current: true})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"handle":"h","created":"2026-11-21T12:00:00Z","last_seen":"2026-11-21T12:00:00Z","ip":"192.0.2.1","user_agent":"ua","current":true}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// heldRevokeOthers installs GET /hold/revoke-others?id=ID: a request of a
// signed-in user, verified by the middleware and then held inside its
// handler until the test frees it, that calls RevokeOthers only then (a
// slow "sign out my other devices" submit).
func heldRevokeOthers(e **env) envOption {
	return withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
		r.GET("/hold/revoke-others", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
			x := (*e).holds.get(c.Query("id"))
			close(x.entered)
			<-x.release
			n, err := g.RevokeOthers(c)
			if err != nil {
				c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
				return
			}
			c.JSON(http.StatusOK, gin.H{"revoked": n})
		})
	})
}

// TestRevokeOthersActsOnTheRecordAsItIsWhenItActs: RevokeOthers decides
// which session is the request's own when it acts, not when the request
// was verified (DESIGN.md, "Ordering principle"). A request verified
// before the same browser signed in again spares the newer login (the
// browser's session now), not the record that login replaced; a request
// whose record ended meanwhile (a thief's copy, signed out by the owner's
// password change) ends nothing: it cannot sign the owner out.
func TestRevokeOthersActsOnTheRecordAsItIsWhenItActs(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("relogin", func(t *testing.T) {
			var e *env
			e = newEnv(t, kind, ginsecure.Config{}, heldRevokeOthers(&e))
			laptop, phone := e.device("127.0.0.1", "laptop"), e.device("127.0.0.2", "phone")
			laptop.login("alice")
			phone.login("alice")
			release := e.holdAt(t, "/hold/revoke-others?id=r", "r", laptop.header())
			laptop.login("alice") // the same browser signs in again meanwhile
			r := release()
			if r.status != http.StatusOK || r.body["revoked"] != float64(1) {
				t.Errorf("held revoke-others: %d %v, want 200 revoked 1 (the phone)", r.status, r.body)
			}
			expectSignedIn(t, laptop, "alice")
			expectRefused(t, phone, "revoked")
		})
		t.Run("ended meanwhile", func(t *testing.T) {
			var e *env
			e = newEnv(t, kind, ginsecure.Config{}, heldRevokeOthers(&e))
			// (holdAt sends from 127.0.0.1: the thief shares the phone's network.)
			laptop, phone := e.device("127.0.0.2", "laptop"), e.device("127.0.0.1", "phone")
			laptop.login("alice")
			phone.login("alice")
			thief := phone.clone()
			release := e.holdAt(t, "/hold/revoke-others?id=t", "t", thief.header())
			if r := laptop.post("/me/revoke-others"); r.status != http.StatusOK || r.body["revoked"] != float64(1) {
				t.Fatalf("the owner's revoke-others: %d %v", r.status, r.body)
			}
			r := release()
			if r.status == http.StatusOK {
				t.Errorf("the thief's held revoke-others after the owner's: %d %v, want refused", r.status, r.body)
			}
			expectSignedIn(t, laptop, "alice")
		})
	})
}
