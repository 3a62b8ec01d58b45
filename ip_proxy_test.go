package ginsecure_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// sessionsIP is the bound address the "where you're signed in" list shows,
// asked as remoteAddr with cookies.
func (e *env) sessionsIP(t *testing.T, remoteAddr string, cookies []*http.Cookie, hdr ...string) string {
	t.Helper()
	r := e.ipServe(remoteAddr, cookies, http.MethodGet, "/me/sessions", hdr...)
	list, _ := r.body["sessions"].([]any)
	if r.status != http.StatusOK || len(list) != 1 {
		t.Fatalf("/me/sessions from %s: %d %v", remoteAddr, r.status, r.body)
	}
	ip, _ := list[0].(map[string]any)["ip"].(string)
	return ip
}

// TestIPTrustedPlatformHeaderOnlyFromTrustedProxies: gin's ClientIP
// returns the engine's TrustedPlatform header (Cloudflare's
// CF-Connecting-IP, or any name the app sets) from any peer, before it
// checks the peer. With TrustProxyHeaders, ginsecure believes it only from
// a peer in the engine's trusted proxies: a direct client naming the
// victim's address in it is bound to, and judged by, its own address.
func TestIPTrustedPlatformHeaderOnlyFromTrustedProxies(t *testing.T) {
	for _, platform := range []string{gin.PlatformCloudflare, "X-Client-Addr"} {
		t.Run(platform, func(t *testing.T) {
			cfg := ginsecure.Config{TrustProxyHeaders: true, KeepSessionOnIPMismatch: true}
			e := newEnv(t, "cookie", cfg, withEngine(func(r *gin.Engine) {
				if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
					t.Fatal(err)
				}
				r.TrustedPlatform = platform
			}))
			const proxy, victimIP, direct, thief = "10.0.0.1:4000", "203.0.113.5", "198.51.100.9:5000", "198.51.100.66:5000"

			r := e.ipServe(proxy, nil, http.MethodPost, "/login?user=alice", platform, victimIP)
			if r.status != http.StatusOK {
				t.Fatalf("login through the platform's proxy: %d %v", r.status, r.body)
			}
			victim := r.cookies
			if ip := e.sessionsIP(t, proxy, victim, platform, victimIP); ip != victimIP {
				t.Fatalf("through the trusted proxy: bound to %q, want %s", ip, victimIP)
			}
			// A direct client that names the victim's address in the
			// platform header is the address it connects from.
			if r := e.ipServe(thief, victim, http.MethodGet, "/me", platform, victimIP); r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
				t.Fatalf("stolen cookies from a direct peer naming the victim: %d %v, want 401 ip_mismatch", r.status, r.body)
			}
			r = e.ipServe(direct, nil, http.MethodPost, "/login?user=mallory", platform, victimIP)
			if r.status != http.StatusOK {
				t.Fatalf("direct login: %d %v", r.status, r.body)
			}
			if ip := e.sessionsIP(t, direct, r.cookies, platform, victimIP); ip != "198.51.100.9" {
				t.Fatalf("direct login naming %s in %s: bound to %q, want its peer 198.51.100.9", victimIP, platform, ip)
			}
			// X-Forwarded-For next to it from the direct peer counts no more.
			if ip := e.sessionsIP(t, direct, r.cookies, platform, victimIP, "X-Forwarded-For", victimIP); ip != "198.51.100.9" {
				t.Fatalf("bound %q", ip)
			}
		})
	}
}

// TestIPTrustedPlatformWarnsOnce: an engine with a TrustedPlatform header
// lets a direct client choose the address gin's ClientIP reports; with
// TrustProxyHeaders the first request says so, once.
func TestIPTrustedPlatformWarnsOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		platform string
		warn     bool
	}{
		{"Cloudflare", gin.PlatformCloudflare, true},
		{"Fly.io", gin.PlatformFlyIO, true},
		{"none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			cfg := ginsecure.Config{TrustProxyHeaders: true, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
			e := newEnv(t, "cookie", cfg, withEngine(func(r *gin.Engine) {
				if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
					t.Fatal(err)
				}
				r.TrustedPlatform = tc.platform
			}))
			b := e.browserFrom("127.0.0.1")
			b.login("alice")
			b.get("/me")
			n := strings.Count(buf.String(), "(TrustedPlatform)")
			if tc.warn && (n != 1 || !strings.Contains(strings.ToLower(buf.String()), strings.ToLower(tc.platform))) || !tc.warn && n != 0 {
				t.Fatalf("%d warnings, want warn=%v:\n%s", n, tc.warn, buf.String())
			}
		})
	}
}

// unixEnv starts the test app on a unix socket listener, with a browser
// that reaches it there.
func unixEnv(t *testing.T, cfg ginsecure.Config) (*env, *browser) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets: %v", err)
	}
	e := newEnv(t, "memstore", cfg, func(o *envOpts) { o.listener = ln })
	e.srv.URL = "https://app.test"
	b := e.browser()
	tr := b.client.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test server's own certificate
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		d := &net.Dialer{Timeout: 5 * time.Second}
		return d.DialContext(ctx, "unix", sock)
	}
	return e, b
}

// TestIPUnixSocketListenerBindsNoAddress: on a unix socket listener the
// peer has no IP address. Login binds none (the sessions list shows no
// address) and is not refused; requests on the socket are served; the
// session's cookies used from any IP peer are refused, since "no address"
// at login is not "any address"; the first request warns that IP binding
// protects nothing there. Behind a proxy on the socket, TrustProxyHeaders
// binds the address the proxy reports (gin trusts a unix socket peer).
func TestIPUnixSocketListenerBindsNoAddress(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		var buf lockedBuffer
		e, b := unixEnv(t, ginsecure.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		if r := b.login("alice"); r.status != http.StatusOK {
			t.Fatalf("login on a unix socket: %d %v", r.status, r.body)
		}
		if ip := boundIP(t, b); ip != "" {
			t.Fatalf("bound to %q, want no address", ip)
		}
		wantUser(t, "on the socket", b.get("/me"), "alice")
		wantUser(t, "on the socket, naming an address", b.do(http.MethodGet, "/me", "X-Forwarded-For", "203.0.113.5"), "alice")
		if r := e.ipServe("198.51.100.7:4000", b.cookies(), http.MethodGet, "/me"); r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
			t.Fatalf("the session's cookies from an IP peer: %d %v, want 401 ip_mismatch", r.status, r.body)
		}
		if n := strings.Count(buf.String(), "no IP address"); n != 1 {
			t.Fatalf("%d warnings about the peer, want 1:\n%s", n, buf.String())
		}
	})
	t.Run("proxy on the socket", func(t *testing.T) {
		_, b := unixEnv(t, ginsecure.Config{TrustProxyHeaders: true})
		if r := b.do(http.MethodPost, "/login?user=alice", "X-Forwarded-For", "203.0.113.5"); r.status != http.StatusOK {
			t.Fatalf("login: %d %v", r.status, r.body)
		}
		if ip := boundIP(t, b, "X-Forwarded-For", "203.0.113.5"); ip != "203.0.113.5" {
			t.Fatalf("bound to %q, want the proxy's client", ip)
		}
		wantIPRefusal(t, "another client behind the socket proxy", b.do(http.MethodGet, "/me", "X-Forwarded-For", "203.0.113.99"))
	})
}

// TestIPProxyHeadersWithoutTrustWarnOnce: behind a reverse proxy with the
// default Config every session is bound to the proxy's address, the same
// for every user, and IP binding protects nothing. A login that arrives
// with a header naming the client (X-Forwarded-For, X-Real-IP, a
// platform's, the engine's TrustedPlatform header) while TrustProxyHeaders
// is off warns once per Guard, naming the fix; without such a header, or
// with TrustProxyHeaders on, nothing is said.
func TestIPProxyHeadersWithoutTrustWarnOnce(t *testing.T) {
	const proxy = "10.0.0.1:4000"
	cases := []struct {
		name     string
		trust    bool
		platform string // the engine's TrustedPlatform
		hdr      []string
		warn     bool
	}{
		{"X-Forwarded-For", false, "", []string{"X-Forwarded-For", "203.0.113.5"}, true},
		{"X-Real-IP", false, "", []string{"X-Real-IP", "203.0.113.5"}, true},
		{"Cloudflare's header", false, "", []string{"CF-Connecting-IP", "203.0.113.5"}, true},
		{"the engine's TrustedPlatform header", false, "X-Client-Addr", []string{"X-Client-Addr", "203.0.113.5"}, true},
		{"no header", false, "", nil, false},
		{"an unrelated header", false, "", []string{"X-Client-Addr", "203.0.113.5"}, false},
		{"TrustProxyHeaders on", true, "", []string{"X-Forwarded-For", "203.0.113.5"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			cfg := ginsecure.Config{TrustProxyHeaders: tc.trust, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
			e := newEnv(t, "memstore", cfg, withEngine(func(r *gin.Engine) {
				if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
					t.Fatal(err)
				}
				r.TrustedPlatform = tc.platform
			}))
			for _, user := range []string{"alice", "bob", "alice"} {
				if r := e.ipServe(proxy, nil, http.MethodPost, "/login?user="+user, tc.hdr...); r.status != http.StatusOK {
					t.Fatalf("login %s: %d %v", user, r.status, r.body)
				}
			}
			e.ipServe(proxy, nil, http.MethodGet, "/public", tc.hdr...)
			out := buf.String()
			n := strings.Count(out, "TrustProxyHeaders is off")
			switch {
			case !tc.warn && n != 0:
				t.Fatalf("unexpected warning:\n%s", out)
			case tc.warn && n != 1:
				t.Fatalf("%d warnings, want one per Guard:\n%s", n, out)
			case tc.warn && (!strings.Contains(out, "level=WARN") || !strings.Contains(out, "Config.TrustProxyHeaders") || !strings.Contains(out, "SetTrustedProxies") || !strings.Contains(strings.ToLower(out), strings.ToLower(tc.hdr[0]))):
				t.Fatalf("the warning is not a WARN naming the header and the fix:\n%s", out)
			}
		})
	}
}
