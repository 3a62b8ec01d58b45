package ginsecure

// Fuzz targets for the parsers of outside IP input: address strings, and
// the whole decision on arbitrary peer addresses and forwarding headers.
// The seed corpora run in every `go test`; explore with
//
//	go test -run '^$' -fuzz FuzzParseIP -fuzztime 30s
//	go test -run '^$' -fuzz FuzzIPDecision -fuzztime 30s

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
)

var fuzzAddrSeeds = []string{
	"192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "fe80::1%eth0", "::1", "0.0.0.0", "::",
	"", " ", "invalid IP", "192.0.2.1:80", "[2001:db8::1]:80", "192.0.2.256", "1.2.3", "01.2.3.4",
	"::ffff:1.2.3.4%x", "2001:db8::1%", "%", "::ffff:", "1.2.3.4/8", "[::1]", "\x00", "٣.٣.٣.٣",
	strings.Repeat("1", 100), "2001:0db8:0000:0000:0000:ff00:0042:8329",
}

// FuzzParseIP: any string yields an invalid address or a valid one that is
// unmapped, zoneless, and stable under a round trip through its text form
// (the form the record stores and parses again at every request).
func FuzzParseIP(f *testing.F) {
	for _, s := range fuzzAddrSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := parseIP(s)
		if !a.IsValid() {
			if p := parseIP(a.String()); p.IsValid() {
				t.Fatalf("the invalid address's stored form %q parses as %v", a.String(), p)
			}
			return
		}
		if a.Is4In6() || a.Zone() != "" {
			t.Fatalf("parseIP(%q) = %v: still mapped or zoned", s, a)
		}
		if again := parseIP(a.String()); again != a {
			t.Fatalf("parseIP(%q) = %v, but its text form parses as %v", s, a, again)
		}
		if raw, err := netip.ParseAddr(s); err == nil && raw.Unmap().WithZone("") != a {
			t.Fatalf("parseIP(%q) = %v, netip says %v", s, a, raw)
		}
		// However the policy is built, deciding about it never panics and
		// an address always matches itself.
		for _, p := range []IPPolicy{IPExact(), IPPrefix(32, 64), IPPrefix(0, 0), IPPrefix(7, 13), IPAllow("10.0.0.0/8", "::/0")} {
			if !p.permits(a, a) {
				t.Fatalf("%v refuses %v its own address", p, a)
			}
		}
	})
}

// fuzzApp is an engine with the guard (IPExact) behind a cookie store,
// answering /login and a protected /me; it trusts 127.0.0.1 and ::1 as
// proxies.
type fuzzApp struct {
	engine *gin.Engine
	trust  bool
}

func newFuzzApp(tb testing.TB, trustHeaders bool) *fuzzApp {
	gin.SetMode(gin.TestMode)
	g, err := New(Config{
		IPBinding:         IPExact(),
		TrustProxyHeaders: trustHeaders,
		// Each iteration signs alice in again; the limit keeps the memory
		// store from growing with the run.
		MaxSessionsPerUser: 1,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	r := gin.New()
	if err := r.SetTrustedProxies([]string{"127.0.0.1", "::1"}); err != nil {
		tb.Fatal(err)
	}
	r.Use(sessions.Sessions("app", cookie.NewStore([]byte("0123456789abcdef0123456789abcdef"))), g.Middleware())
	r.POST("/login", func(c *gin.Context) {
		if err := Login(c, "alice"); err != nil {
			c.JSON(ErrorStatus(err), gin.H{"error": ErrorCode(err)})
			return
		}
		c.Status(http.StatusOK)
	})
	r.GET("/me", g.Require(Policy{Authenticated: true}), func(c *gin.Context) { c.Status(http.StatusOK) })
	return &fuzzApp{engine: r, trust: trustHeaders}
}

func (a *fuzzApp) serve(method, path, remoteAddr, xff, xri string, cookies []*http.Cookie) *http.Response {
	req := httptest.NewRequest(method, "https://example.test"+path, nil)
	req.RemoteAddr = remoteAddr
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	if xri != "" {
		req.Header.Set("X-Real-IP", xri)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	a.engine.ServeHTTP(w, req)
	return w.Result()
}

// clientOf is the client address a request would be judged by: the peer,
// or with trusted headers what gin's ClientIP makes of them.
func (a *fuzzApp) clientOf(remoteAddr, xff, xri string) netip.Addr {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remoteAddr
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	if xri != "" {
		req.Header.Set("X-Real-IP", xri)
	}
	c := gin.CreateTestContextOnly(httptest.NewRecorder(), a.engine)
	c.Request = req
	if a.trust {
		return parseIP(c.ClientIP())
	}
	return parseIP(c.RemoteIP())
}

// FuzzIPDecision drives the whole decision (login, then a request with the
// login's cookies, with and without the headers) on arbitrary peer
// addresses and forwarding headers. It must never panic or answer 5xx, and
// a request is served exactly when its client address is the login's
// (IPExact). The client address of the oracle is the peer's unless
// TrustProxyHeaders is on, so without it the headers can change nothing;
// with it, gin's ClientIP under the trusted proxies decides.
func FuzzIPDecision(f *testing.F) {
	seeds := [][5]string{
		// login peer, request peer, X-Forwarded-For, X-Real-IP, flags
		{"192.0.2.1:1", "192.0.2.1:2", "", "", ""},
		{"192.0.2.1:1", "192.0.2.2:1", "192.0.2.1", "192.0.2.1", ""},
		{"192.0.2.1:1", "192.0.2.2:1", "192.0.2.1", "192.0.2.1", "trust"},
		{"127.0.0.1:1", "127.0.0.1:2", "198.51.100.7", "", "trust"},
		{"127.0.0.1:1", "127.0.0.1:2", "198.51.100.7, 127.0.0.1", "x", "trust"},
		{"[::1]:1", "[::1]:2", "2001:db8::1, ::ffff:10.0.0.1", "", "trust"},
		{"[::ffff:192.0.2.1]:1", "192.0.2.1:9", "", "", ""},
		{"[2001:db8::1]:1", "[2001:db8::1%eth0]:1", "", "", ""},
		{"", "", "", "", ""},
		{"garbage", "garbage", "\x00,,,", "[::1]", "trust"},
		{" 192.0.2.1:1 ", "192.0.2.1:1", strings.Repeat("1.1.1.1,", 200), "", "trust"},
		{"192.0.2.1", "192.0.2.1", "unknown", "::", "trust"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4] == "trust")
	}
	apps := map[bool]*fuzzApp{false: newFuzzApp(f, false), true: newFuzzApp(f, true)}
	f.Fuzz(func(t *testing.T, loginAddr, reqAddr, xff, xri string, trust bool) {
		app := apps[trust]
		login := app.serve(http.MethodPost, "/login", loginAddr, xff, xri, nil)
		if login.StatusCode != http.StatusOK {
			t.Fatalf("login from %q: %d", loginAddr, login.StatusCode)
		}
		cookies := login.Cookies()
		bound := app.clientOf(loginAddr, xff, xri)

		for _, h := range [][2]string{{xff, xri}, {"", ""}} {
			resp := app.serve(http.MethodGet, "/me", reqAddr, h[0], h[1], cookies)
			if resp.StatusCode >= 500 {
				t.Fatalf("5xx: %d", resp.StatusCode)
			}
			client := app.clientOf(reqAddr, h[0], h[1])
			want := bound == client // IPExact; both unknown is the login's situation
			if got := resp.StatusCode == http.StatusOK; got != want {
				t.Fatalf("login as %v from %q, request as %v from %q (xff %q, xri %q, trust %v): status %d, want served=%v",
					bound, loginAddr, client, reqAddr, h[0], h[1], trust, resp.StatusCode, want)
			}
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if !want {
				// A mismatch revoked the session: start again.
				login = app.serve(http.MethodPost, "/login", loginAddr, xff, xri, nil)
				cookies = login.Cookies()
			}
		}
	})
}

// FuzzPeerIs: the IP check's fast path says "the peer is the bound
// address" only where net.SplitHostPort, which gin's RemoteIP uses, reads
// exactly that host from the same RemoteAddr.
func FuzzPeerIs(f *testing.F) {
	for _, s := range [][2]string{
		{"192.0.2.1:1234", "192.0.2.1"}, {"192.0.2.10:1", "192.0.2.1"}, {"192.0.2.1:1:2", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"}, {"2001:db8::1:443", "2001:db8::1"}, {"[2001:db8::1]]:1", "2001:db8::1"},
		{"192.0.2.1:", "192.0.2.1"}, {" 192.0.2.1:1", "192.0.2.1"}, {"[::1]:[1]", "::1"}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, addr, ip string) {
		if !peerIs(addr, ip) {
			return
		}
		host, _, err := net.SplitHostPort(strings.TrimSpace(addr))
		if err != nil || host != ip {
			t.Fatalf("peerIs(%q, %q) but SplitHostPort gives %q, %v", addr, ip, host, err)
		}
	})
}
