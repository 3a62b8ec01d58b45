package ginsecure_test

// Foundation: fixation, logout, the token cookie, bad input, timeouts,
// configuration, error handling, and a store that is down.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
)

const tokCookieName = ginsecure.DefaultCookieName

// sessionID decodes the gin-contrib session ID from a session cookie of
// the memstore or Redis store ("" for the cookie store, which has none).
func sessionID(t *testing.T, kind, value string) string {
	t.Helper()
	if kind == "cookie" {
		return ""
	}
	var id string
	if err := securecookie.DecodeMulti("app", value, &id, securecookie.CodecsFromPairs(sessionSecret)...); err != nil {
		t.Fatalf("decode session cookie: %v", err)
	}
	return id
}

// TestSessionFixation: every cookie an attacker planted before the victim's
// login is worth nothing after it.
func TestSessionFixation(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()

		// The attacker gets a session of its own (anonymous, with a cart)
		// and plants its cookie in the victim's browser.
		attacker.post("/cart?item=planted")
		planted := attacker.cookie("app")
		if planted == "" {
			t.Fatal("attacker got no session cookie")
		}
		attacker.copyTo(victim)
		victim.login("alice")
		victim.post("/cart?item=alice-secret")

		if got := victim.cookie("app"); got == planted {
			t.Fatal("session cookie unchanged by login")
		}
		if kind != "cookie" {
			if sessionID(t, kind, victim.cookie("app")) == sessionID(t, kind, planted) {
				t.Fatal("gin-contrib session ID not regenerated on login")
			}
		}
		r := attacker.get("/me")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("planted session after victim's login: /me %d %v", r.status, r.body)
		}
		r = attacker.get("/cart")
		if r.status != http.StatusOK || r.user() != "" {
			t.Fatalf("planted session should be plain anonymous, got %d %v", r.status, r.body)
		}
		switch kind {
		case "cookie":
			// The cookie store's session is the cookie: the attacker keeps
			// only what it planted.
			if r.body["cart"] != "planted" {
				t.Fatalf("cart: %v", r.body)
			}
		default:
			// The data moved to the new ID; the planted ID holds nothing.
			if r.body["cart"] != nil {
				t.Fatalf("planted session ID still holds data after login: %v", r.body)
			}
		}
		if r := victim.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-secret" {
			t.Fatalf("victim: %v", r.body)
		}
	})
}

// TestSessionFixationWithPlantedLogin: the attacker signs in as itself and
// plants both cookies; after the victim's own login neither the attacker's
// identity nor the victim's is reachable with the planted copies.
func TestSessionFixationWithPlantedLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		attacker.copyTo(victim)
		victim.login("alice")
		e.clock.Advance(5 * time.Second) // past the grace window
		for _, path := range []string{"/me", "/public"} {
			r := attacker.get(path)
			if u := r.user(); u == "alice" || u == "mallory" {
				t.Fatalf("%s with planted cookies answered as %q", path, u)
			}
		}
		if r := victim.get("/me"); r.status != 200 || r.user() != "alice" {
			t.Fatalf("victim: %d %v", r.status, r.body)
		}
	})
}

// TestLogoutKillsCopiedCookies: cookies copied before logout are refused
// right after it, on every store (the record decides, not the cookie).
func TestLogoutKillsCopiedCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, thief := e.browser(), e.browser()
		victim.login("alice")
		victim.copyTo(thief)
		if r := thief.get("/me"); r.status != 200 {
			t.Fatalf("copy before logout: %d", r.status)
		}
		r := victim.post("/logout")
		if r.status != 200 {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
		for _, name := range []string{"app", tokCookieName} {
			if !expires(r.cookies, name) {
				t.Errorf("logout response does not expire %s: %v", name, r.header["Set-Cookie"])
			}
		}
		if r := thief.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("copied cookies after logout: /me %d %v", r.status, r.body)
		}
		if r := thief.get("/public"); r.user() != "" {
			t.Fatalf("copied cookies after logout: /public as %q", r.user())
		}
		if r := victim.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("victim after logout: %d", r.status)
		}
	})
}

func expires(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// TestTokenCookieAttributes: __Host- prefix, Secure, HttpOnly, Lax, Path=/,
// no Domain, 32 random bytes; the store keeps only the token's hash.
func TestTokenCookieAttributes(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		r := e.browser().login("alice")
		var tok *http.Cookie
		for _, c := range r.cookies {
			if c.Name == tokCookieName {
				tok = c
			}
		}
		if tok == nil {
			t.Fatal("no token cookie on login")
		}
		if !tok.Secure || !tok.HttpOnly || tok.SameSite != http.SameSiteLaxMode || tok.Path != "/" || tok.Domain != "" {
			t.Fatalf("weak token cookie: %+v", tok)
		}
		// "1." (the format version), the record's handle, ".", the secret.
		parts := strings.Split(tok.Value, ".")
		if len(parts) != 3 || parts[0] != "1" || len(parts[1]) != 22 {
			t.Fatalf("token is not version 1, handle, secret: %q", tok.Value)
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(raw) != 32 {
			t.Fatalf("token secret is not 32 bytes of base64url: %q", tok.Value)
		}
		recs, err := e.store.List(context.Background(), "alice")
		if err != nil || len(recs) != 1 {
			t.Fatalf("records: %v %v", recs, err)
		}
		if recs[0].Handle != parts[1] || recs[0].TokenHash != sha256.Sum256(raw) {
			t.Fatal("stored token hash is not SHA-256 of the token")
		}
		needles := [][]byte{[]byte(tok.Value), raw, []byte(hex.EncodeToString(raw))}
		for _, n := range needles {
			if bytes.Contains([]byte(fmtRecord(recs[0])), n) {
				t.Fatal("record holds the raw token")
			}
		}
		if kind == "redis" {
			assertRedisHasNo(t, e, needles)
		}
	})
}

func fmtRecord(r ginsecure.Record) string {
	return strings.Join([]string{r.Handle, r.UserID, string(r.TokenHash[:]), string(r.PrevHash[:]), r.IP, r.UserAgent, r.Revoked}, "|")
}

// assertRedisHasNo reads every value in Redis and checks none holds a needle.
func assertRedisHasNo(t *testing.T, e *env, needles [][]byte) {
	t.Helper()
	c, err := redis.Dial("unix", e.redis.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		typ, _ := redis.String(c.Do("TYPE", k))
		var vals [][]byte
		switch typ {
		case "string":
			v, _ := redis.Bytes(c.Do("GET", k))
			vals = append(vals, v)
		case "zset":
			vs, _ := redis.ByteSlices(c.Do("ZRANGE", k, 0, -1))
			vals = append(vals, vs...)
		}
		for _, v := range vals {
			for _, n := range needles {
				if bytes.Contains(v, n) {
					t.Fatalf("redis key %s holds the raw token", k)
				}
			}
		}
	}
}

// TestWithoutMiddleware: the getters never panic and Login says what is missing.
func TestWithoutMiddleware(t *testing.T) {
	r := gin.New()
	var loginErr error
	r.GET("/", func(c *gin.Context) {
		u, ok := ginsecure.UserID(c)
		if u != "" || ok || ginsecure.FailureReason(c) != nil {
			t.Errorf("UserID without middleware: %q %v", u, ok)
		}
		loginErr = ginsecure.Login(c, "alice")
		c.String(200, "ok")
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 || !errors.Is(loginErr, ginsecure.ErrNoMiddleware) {
		t.Fatalf("status %d, Login error %v", w.Code, loginErr)
	}
	if u, ok := ginsecure.UserID(nil); u != "" || ok {
		t.Fatal("UserID(nil)")
	}
}

// TestBadCookies: malformed, truncated, oversized and forged cookies give an
// anonymous request or a 401, never a 5xx or a panic, and never change the
// victim's session.
func TestBadCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim := e.browser()
		victim.login("alice")
		goodTok, goodSess := victim.cookie(tokCookieName), victim.cookie("app")
		// The victim's handle with a secret of the forger's choosing.
		forged := goodTok[:25] + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		other := e.browser()
		other.login("bob")

		tokens := map[string]string{
			"empty": "", "short": "abc", "truncated": goodTok[:len(goodTok)-1], "one-too-long": goodTok + "A",
			"padded": goodTok + "=", "non-base64": goodTok[:25] + strings.Repeat("!", 43), "non-canonical": goodTok[:len(goodTok)-1] + "B",
			"version-2": "2" + goodTok[1:], "no-handle": goodTok[25:],
			"oversized": strings.Repeat("A", 8000), "forged": forged, "bobs-token": other.cookie(tokCookieName),
			"nul-bytes": strings.Repeat("\x00", 43), "unicode": strings.Repeat("é", 21) + "A",
		}
		sessionVals := map[string]string{
			"victims": goodSess, "truncated": goodSess[:len(goodSess)/2], "garbage": "%%%garbage%%%",
			"oversized": strings.Repeat("B", 3500), "bobs": other.cookie("app"), "none": "",
		}
		for tn, tv := range tokens {
			for sn, sv := range sessionVals {
				b := e.browser()
				if sv != "" {
					b.setCookie("app", sv)
				}
				b.setCookie(tokCookieName, tv)
				for _, path := range []string{"/public", "/me", "/cart"} {
					r := b.get(path)
					if r.status >= 500 {
						t.Fatalf("token %s, session %s: %s answered %d %v", tn, sn, path, r.status, r.body)
					}
					if r.status == 200 && r.user() != "" && !(sn == "bobs" && tn == "bobs-token") {
						t.Fatalf("token %s, session %s: %s authenticated as %q", tn, sn, path, r.user())
					}
				}
			}
		}
		if r := victim.get("/me"); r.status != 200 || r.user() != "alice" {
			t.Fatalf("victim's session changed by bad cookies: %d %v", r.status, r.body)
		}
		if r := other.get("/me"); r.status != 200 || r.user() != "bob" {
			t.Fatalf("bob's session changed by bad cookies: %d %v", r.status, r.body)
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

// TestTimeouts: idle and absolute timeouts with a moved clock; activity is
// written at most once per TouchInterval.
func TestTimeouts(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{RotateEvery: -1})
		b := e.browser()
		b.login("alice")
		start := e.clock.Now()

		e.clock.Advance(30 * time.Second)
		b.get("/me")
		if seen := lastSeen(t, e, "alice"); !seen.Equal(start) {
			t.Fatalf("last-seen written before TouchInterval: %v", seen.Sub(start))
		}
		e.clock.Advance(31 * time.Second)
		b.get("/me")
		if seen := lastSeen(t, e, "alice"); !seen.Equal(start.Add(61 * time.Second)) {
			t.Fatalf("last-seen not written after TouchInterval: %v", seen.Sub(start))
		}

		// Idle: 29 minutes pass, still signed in; 31 more, signed out.
		e.clock.Advance(29 * time.Minute)
		if r := b.get("/me"); r.status != 200 {
			t.Fatalf("after 29m idle: %d %v", r.status, r.body)
		}
		e.clock.Advance(31 * time.Minute)
		if r := b.get("/me"); r.status != 401 || r.errCode() != "idle_timeout" {
			t.Fatalf("after 31m idle: %d %v", r.status, r.body)
		}
		if r := b.get("/public"); r.user() != "" {
			t.Fatal("idle session still authenticated on a public route")
		}

		// Absolute: active every 20 minutes, out after 12 hours.
		b2 := e.browser()
		b2.login("bob")
		for i := 0; i < 35; i++ { // 35 × 20m = 11h40m
			e.clock.Advance(20 * time.Minute)
			if r := b2.get("/me"); r.status != 200 {
				t.Fatalf("active session refused after %v: %d %v", time.Duration(i+1)*20*time.Minute, r.status, r.body)
			}
		}
		e.clock.Advance(21 * time.Minute)
		if r := b2.get("/me"); r.status != 401 || r.errCode() != "expired" {
			t.Fatalf("after 12h: %d %v", r.status, r.body)
		}
	})
}

func lastSeen(t *testing.T, e *env, user string) time.Time {
	t.Helper()
	recs, err := e.store.List(context.Background(), user)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records of %s: %v %v", user, recs, err)
	}
	return recs[0].LastSeen
}

// TestConfigValidation: New names the wrong field.
func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name  string
		cfg   ginsecure.Config
		field string
	}{
		{"bad cookie name", ginsecure.Config{CookieName: "a b"}, "CookieName"},
		{"negative idle", ginsecure.Config{IdleTimeout: -time.Second}, "IdleTimeout"},
		{"touch not shorter than idle", ginsecure.Config{TouchInterval: time.Hour}, "TouchInterval"},
		{"idle over absolute", ginsecure.Config{IdleTimeout: 13 * time.Hour}, "IdleTimeout"},
		{"grace not shorter than rotation", ginsecure.Config{GracePeriod: 20 * time.Second, RotateEvery: 10 * time.Second}, "GracePeriod"},
		{"grace over a minute", ginsecure.Config{GracePeriod: 2 * time.Minute, RotateEvery: -1}, "GracePeriod"},
		{"negative limit", ginsecure.Config{MaxSessionsPerUser: -1}, "MaxSessionsPerUser"},
		{"reject without limit", ginsecure.Config{RejectExtraLogins: true}, "RejectExtraLogins"},
		{"bad CIDR", ginsecure.Config{IPBinding: ginsecure.IPAllow("10.0.0.0/33")}, "IPBinding"},
		{"bad prefix bits", ginsecure.Config{IPBinding: ginsecure.IPPrefix(33, 64)}, "IPBinding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ginsecure.New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), "Config."+c.field) {
				t.Fatalf("want an error naming Config.%s, got %v", c.field, err)
			}
		})
	}
	if _, err := ginsecure.New(ginsecure.Config{}); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
}

// TestCustomErrorHandlerCannotLetRequestThrough: a custom handler that
// forgets to abort still stops the protected handler.
func TestCustomErrorHandlerCannotLetRequestThrough(t *testing.T) {
	var ran bool
	var got error
	e := newEnv(t, "memstore", ginsecure.Config{ErrorHandler: func(c *gin.Context, err error) { got = err }},
		withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.GET("/secret", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) { ran = true })
		}))
	e.browser().get("/secret")
	if ran {
		t.Fatal("protected handler ran after a refusal")
	}
	if !errors.Is(got, ginsecure.ErrNoSession) {
		t.Fatalf("handler got %v", got)
	}
}

// TestDefaultErrorResponse: JSON {"error": code} with the documented statuses.
func TestDefaultErrorResponse(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{})
	r := e.browser().get("/me")
	if r.status != 401 || r.errCode() != "no_session" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %v %v", r.status, r.body, r.header)
	}
	for _, c := range []struct {
		err    error
		status int
	}{
		{ginsecure.ErrReauthRequired, 403}, {ginsecure.ErrTLSRequired, 403}, {ginsecure.ErrTooManySessions, 403},
		{ginsecure.ErrStoreUnavailable, 503}, {ginsecure.ErrReplay, 401}, {ginsecure.ErrIPMismatch, 401},
	} {
		if got := ginsecure.ErrorStatus(c.err); got != c.status {
			t.Errorf("%v: status %d, want %d", c.err, got, c.status)
		}
	}
	if !errors.Is(ginsecure.ErrEvicted, ginsecure.ErrExpired) || !errors.Is(ginsecure.ErrRevoked, ginsecure.ErrExpired) {
		t.Error("evicted and revoked must be ErrExpired-family errors")
	}
}

// flakyStore fails every call while down is set.
type flakyStore struct {
	ginsecure.Store
	mu   sync.Mutex
	down bool
}

var errDown = errors.New("connection refused")

// UseClock passes the Guard's clock on to the wrapped store.
func (f *flakyStore) UseClock(now func() time.Time) {
	if cu, ok := f.Store.(ginsecure.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (f *flakyStore) isDown() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.down }
func (f *flakyStore) set(d bool)   { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *flakyStore) Get(ctx context.Context, h string) (ginsecure.Record, error) {
	if f.isDown() {
		return ginsecure.Record{}, errDown
	}
	return f.Store.Get(ctx, h)
}
func (f *flakyStore) Create(ctx context.Context, r ginsecure.Record, l ginsecure.Limit) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.Create(ctx, r, l)
}
func (f *flakyStore) Trim(ctx context.Context, u string, max int) ([]string, error) {
	if f.isDown() {
		return nil, errDown
	}
	return f.Store.Trim(ctx, u, max)
}
func (f *flakyStore) DeleteMarker(ctx context.Context, k, h string) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.DeleteMarker(ctx, k, h)
}
func (f *flakyStore) Update(ctx context.Context, h string, fn func(*ginsecure.Record) error) (ginsecure.Record, error) {
	if f.isDown() {
		return ginsecure.Record{}, errDown
	}
	return f.Store.Update(ctx, h, fn)
}
func (f *flakyStore) Delete(ctx context.Context, h string) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.Delete(ctx, h)
}
func (f *flakyStore) List(ctx context.Context, u string) ([]ginsecure.Record, error) {
	if f.isDown() {
		return nil, errDown
	}
	return f.Store.List(ctx, u)
}
func (f *flakyStore) SetMarker(ctx context.Context, k string, m ginsecure.Marker) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.SetMarker(ctx, k, m)
}
func (f *flakyStore) GetMarker(ctx context.Context, k string) (ginsecure.Marker, error) {
	if f.isDown() {
		return ginsecure.Marker{}, errDown
	}
	return f.Store.GetMarker(ctx, k)
}

// TestStoreDownFailsClosed: with the store unreachable a signed-in browser
// gets 503 (retry), never 500, never anonymous on a protected route, and
// its session survives the outage.
func TestStoreDownFailsClosed(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			fs := &flakyStore{Store: ginsecure.NewMemoryStore()}
			e := newEnv(t, kind, ginsecure.Config{}, withStore(fs))
			b := e.browser()
			b.login("alice")
			fs.set(true)
			for _, path := range []string{"/me", "/public", "/admin"} {
				r := b.get(path)
				if r.status != 503 || r.errCode() != "store_unavailable" {
					t.Fatalf("%s with store down: %d %v", path, r.status, r.body)
				}
				if hasCookie(r.cookies, tokCookieName) || hasCookie(r.cookies, "app") {
					t.Fatalf("%s: a 503 must not touch the cookies: %v", path, r.header["Set-Cookie"])
				}
			}
			anon := e.browser()
			if r := anon.post("/login?user=bob"); r.status != 503 {
				t.Fatalf("login with store down: %d %v", r.status, r.body)
			}
			if r := anon.get("/public"); r.status != 200 {
				t.Fatalf("anonymous public page with store down: %d", r.status)
			}
			fs.set(false)
			if r := b.get("/me"); r.status != 200 || r.user() != "alice" {
				t.Fatalf("after recovery: %d %v", r.status, r.body)
			}
		})
	}
}

// TestEventsReachLoggerAndCallback: security events go to slog and OnEvent.
func TestEventsReachLoggerAndCallback(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, "memstore", ginsecure.Config{Logger: logger})
	b := e.browser()
	b.login("alice")
	b.post("/logout")
	if e.events.count(ginsecure.EventLogin) != 1 || e.events.count(ginsecure.EventLogout) != 1 {
		t.Fatalf("events: %+v", e.events.ev)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "ginsecure: login") || !strings.Contains(out, "user=alice") {
		t.Fatalf("log: %s", out)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestWeakSessionCookieWarning: weak gin-contrib cookie options are reported.
func TestWeakSessionCookieWarning(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	g, err := ginsecure.New(ginsecure.Config{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	st := cookie.NewStore(sessionSecret)
	st.Options(sessions.Options{Path: "/", Domain: "example.com"})
	r := gin.New()
	r.Use(sessions.Sessions("app", st), g.Middleware())
	r.GET("/", func(c *gin.Context) { c.String(200, "ok") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"Secure is off", "HttpOnly is off", "Domain is set"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("warning lacks %q: %s", want, buf.String())
		}
	}
}
