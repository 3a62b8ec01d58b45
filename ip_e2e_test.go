package ginsecure_test

// IP binding end to end. Real peers: browsers dial the TLS test server
// from different loopback addresses (all of 127.0.0.0/8 is local on Linux),
// so the address the guard sees is the kernel's, not a field a test set;
// IPv6 too where the machine has a second IPv6 address. The networks no
// local address belongs to (other IPv6 /64s, private ranges, IPv4-mapped
// forms, unparsable peers) go through the same engine with a crafted
// RemoteAddr (ipServe).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
)

// ipMismatchEvent returns the only ip_mismatch event, failing otherwise.
func ipMismatchEvent(t *testing.T, e *env) ginsecure.Event {
	t.Helper()
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	var found []ginsecure.Event
	for _, ev := range e.events.ev {
		if ev.Kind == ginsecure.EventIPMismatch {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one ip_mismatch event, got %d: %+v", len(found), found)
	}
	return found[0]
}

// loginHandle is the handle of the only login so far.
func loginHandle(t *testing.T, e *env) string {
	t.Helper()
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	for _, ev := range e.events.ev {
		if ev.Kind == ginsecure.EventLogin {
			return ev.Handle
		}
	}
	t.Fatal("no login event")
	return ""
}

// wantIPRefusal checks a refused request: 401 {"error":"ip_mismatch"}.
func wantIPRefusal(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
		t.Fatalf("%s: got %d %v, want 401 ip_mismatch", what, r.status, r.body)
	}
}

func wantUser(t *testing.T, what string, r reply, user string) {
	t.Helper()
	if r.status != http.StatusOK || r.user() != user {
		t.Fatalf("%s: got %d %v, want 200 as %q", what, r.status, r.body, user)
	}
}

// boundIP is the address the session was bound to, as the user's own
// "where you're signed in" list shows it.
func boundIP(t *testing.T, b *browser, hdr ...string) string {
	t.Helper()
	r := b.do(http.MethodGet, "/me/sessions", hdr...)
	list, _ := r.body["sessions"].([]any)
	if r.status != http.StatusOK || len(list) != 1 {
		t.Fatalf("/me/sessions: %d %v", r.status, r.body)
	}
	ip, _ := list[0].(map[string]any)["ip"].(string)
	return ip
}

func TestIPBindingRevokesSessionUsedFromAnotherPeer(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim := e.browserFrom("127.0.0.1")
		victim.login("alice")
		wantUser(t, "victim, own peer", victim.get("/me"), "alice")
		if ip := boundIP(t, victim); ip != "127.0.0.1" {
			t.Fatalf("session bound to %q, want the login's peer 127.0.0.1", ip)
		}

		thief := e.browserFrom("127.0.0.2")
		victim.copyTo(thief)
		wantIPRefusal(t, "stolen cookies from 127.0.0.2", thief.get("/me"))
		ev := ipMismatchEvent(t, e)
		if ev.IP != "127.0.0.2" || ev.BoundIP != "127.0.0.1" || ev.UserID != "alice" {
			t.Errorf("event names %q (bound %q) user %q, want 127.0.0.2, bound 127.0.0.1, alice", ev.IP, ev.BoundIP, ev.UserID)
		}

		// Two parties hold the credentials: the session is over for both,
		// on the victim's own network too, with the reason readable.
		r := victim.get("/me")
		if r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
			t.Fatalf("victim after the theft: %d %v, want 401 ip_mismatch (revoked)", r.status, r.body)
		}
		victim.copyTo(thief)
		if r := thief.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("thief after the revocation: %d %v", r.status, r.body)
		}
	})
}

// TestIPMismatchOnlyRefusesWhenKeepSessionOnIPMismatch: configured to keep
// the session, a refusal changes nothing the victim owns: neither the
// record nor the shared session data.
func TestIPMismatchOnlyRefusesWhenKeepSessionOnIPMismatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true})
		victim := e.browserFrom("127.0.0.1")
		victim.login("alice")
		victim.post("/cart?item=apple")
		thief := e.browserFrom("127.0.0.2")
		for i := range 2 {
			// The refusal expires the thief's cookies; a real thief keeps a copy.
			victim.copyTo(thief)
			wantIPRefusal(t, "stolen cookies from 127.0.0.2", thief.get("/me"))
			if i == 0 {
				if ev := ipMismatchEvent(t, e); ev.IP != "127.0.0.2" || ev.BoundIP != "127.0.0.1" {
					t.Errorf("event names %q, bound %q", ev.IP, ev.BoundIP)
				}
			}
			r := victim.get("/cart")
			if r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "apple" {
				t.Fatalf("victim after the refusal: %d %v, want alice with her cart", r.status, r.body)
			}
		}
		if n := e.events.count(ginsecure.EventRevoke); n != 0 {
			t.Errorf("%d revoke events with KeepSessionOnIPMismatch", n)
		}
	})
}

// TestIPPrefixPolicyOnRealPeers: under IPPrefix(24, 64) a session follows
// its user inside the login's /24 and nowhere else. 127.0.0.2 shares
// 127.0.0.1's /24; 127.0.1.1, also a local address, does not.
func TestIPPrefixPolicyOnRealPeers(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{IPBinding: ginsecure.IPPrefix(24, 64)})
	victim := e.browserFrom("127.0.0.1")
	victim.login("alice")

	neighbour := e.browserFrom("127.0.0.2")
	victim.copyTo(neighbour)
	wantUser(t, "same /24 (127.0.0.2)", neighbour.get("/me"), "alice")

	outsider := e.browserFrom("127.0.1.1")
	victim.copyTo(outsider)
	wantIPRefusal(t, "other /24 (127.0.1.1)", outsider.get("/me"))
	if ev := ipMismatchEvent(t, e); ev.IP != "127.0.1.1" || ev.BoundIP != "127.0.0.1" {
		t.Errorf("event names %q, bound %q", ev.IP, ev.BoundIP)
	}
	if r := victim.get("/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("victim after use from another /24: %d %v, want revoked", r.status, r.body)
	}
}

// TestIPRouteGroupStricterThanGlobal: the app allows the login's /24, but
// /admin demands the exact address (Policy.IPBinding: IPExact()).
func TestIPRouteGroupStricterThanGlobal(t *testing.T) {
	cfg := ginsecure.Config{IPBinding: ginsecure.IPPrefix(24, 64), KeepSessionOnIPMismatch: true}
	e := newEnv(t, "memstore", cfg)
	user := e.browserFrom("127.0.0.1")
	user.login("alice")
	wantUser(t, "/admin from the login's address", user.get("/admin"), "alice")

	moved := e.browserFrom("127.0.0.2")
	user.copyTo(moved)
	wantUser(t, "/me from the same /24", moved.get("/me"), "alice")
	wantIPRefusal(t, "/admin from the same /24", moved.get("/admin"))
	if ev := ipMismatchEvent(t, e); ev.IP != "127.0.0.2" || ev.BoundIP != "127.0.0.1" || !strings.Contains(ev.Detail, "exact") {
		t.Errorf("event names %q, bound %q, detail %q: want the route's exact policy", ev.IP, ev.BoundIP, ev.Detail)
	}
	wantUser(t, "/me from the same /24 after the /admin refusal", moved.get("/me"), "alice")
	wantUser(t, "/admin from the login's address after", user.get("/admin"), "alice")
}

// TestIPRouteGroupMismatchOnlyRefuses: a stricter group's mismatch refuses
// the request but keeps the session, and the browser keeps its cookies: the
// global policy accepted the network, the route only wants it closer.
func TestIPRouteGroupMismatchOnlyRefuses(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{IPBinding: ginsecure.IPPrefix(24, 64)})
	user := e.browserFrom("127.0.0.1")
	user.login("alice")
	moved := e.browserFrom("127.0.0.2")
	user.copyTo(moved)
	r := moved.get("/admin")
	wantIPRefusal(t, "/admin from the same /24", r)
	if len(r.cookies) != 0 {
		t.Fatalf("a route-policy refusal expired cookies: %v", r.header["Set-Cookie"])
	}
	wantUser(t, "/me from the same /24 after the /admin refusal", moved.get("/me"), "alice")
	wantUser(t, "/admin from the login's address after", user.get("/admin"), "alice")
	if n := e.events.count(ginsecure.EventRevoke); n != 0 {
		t.Fatalf("%d revoke events for a route-policy refusal", n)
	}
}

// TestKeepSessionOnIPMismatchKeepsTheCookies: with KeepSessionOnIPMismatch
// the refused browser is not told to drop its cookies.
func TestKeepSessionOnIPMismatchKeepsTheCookies(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{KeepSessionOnIPMismatch: true})
	user := e.browserFrom("127.0.0.1")
	user.login("alice")
	other := e.browserFrom("127.0.0.2")
	user.copyTo(other)
	r := other.get("/me")
	wantIPRefusal(t, "/me from another address", r)
	if len(r.cookies) != 0 {
		t.Fatalf("KeepSessionOnIPMismatch refusal expired cookies: %v", r.header["Set-Cookie"])
	}
	wantUser(t, "the login's address", user.get("/me"), "alice")
}

func TestIPOffServesAnyPeer(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{IPBinding: ginsecure.IPOff()})
	a := e.browserFrom("127.0.0.1")
	a.login("alice")
	b := e.browserFrom("127.0.1.1")
	a.copyTo(b)
	wantUser(t, "IPOff, another network", b.get("/me"), "alice")
	if n := e.events.count(ginsecure.EventIPMismatch); n != 0 {
		t.Errorf("%d ip_mismatch events with IPOff", n)
	}
}

// TestIPAllowListedPeerSkipsTheCheck: a VPN egress (here 127.0.0.3) may
// use a session bound elsewhere; its neighbours may not.
func TestIPAllowListedPeerSkipsTheCheck(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{IPBinding: ginsecure.IPExact().Allow("127.0.0.3/32")})
	a := e.browserFrom("127.0.0.1")
	a.login("alice")
	vpn := e.browserFrom("127.0.0.3")
	a.copyTo(vpn)
	wantUser(t, "allow-listed 127.0.0.3", vpn.get("/me"), "alice")
	other := e.browserFrom("127.0.0.2")
	a.copyTo(other)
	wantIPRefusal(t, "not allow-listed 127.0.0.2", other.get("/me"))
}

// ipServe sends one request through the app's engine as if its TCP peer
// were remoteAddr, with the given cookies: the way to reach IPv6 and
// private peers that the loopback listener cannot be dialled from.
func (e *env) ipServe(remoteAddr string, cookies []*http.Cookie, method, path string, hdr ...string) reply {
	e.t.Helper()
	req := httptest.NewRequest(method, "https://example.test"+path, nil)
	req.RemoteAddr = remoteAddr
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.engine.ServeHTTP(w, req)
	resp := w.Result()
	out := reply{status: resp.StatusCode, cookies: resp.Cookies(), header: resp.Header, body: map[string]any{}}
	_ = json.Unmarshal(w.Body.Bytes(), &out.body)
	return out
}

// ipLogin signs user in from remoteAddr and returns the session's cookies.
func (e *env) ipLogin(t *testing.T, remoteAddr, user string) []*http.Cookie {
	t.Helper()
	r := e.ipServe(remoteAddr, nil, http.MethodPost, "/login?user="+user)
	if r.status != http.StatusOK || r.user() != user || len(r.cookies) < 2 {
		t.Fatalf("login from %s: %d %v %v", remoteAddr, r.status, r.body, r.cookies)
	}
	return r.cookies
}

// TestIPDecisionsThroughTheEngine is the decision table end to end, for
// the addresses a loopback listener cannot be dialled from: IPv6 networks,
// IPv4-mapped IPv6, private networks, unparsable peers.
func TestIPDecisionsThroughTheEngine(t *testing.T) {
	cases := []struct {
		name        string
		policy      ginsecure.IPPolicy
		login, from string
		path        string
		want        int
	}{
		{"same IPv4 address", ginsecure.IPPolicy{}, "203.0.113.7:4000", "203.0.113.7:4001", "/me", 200},
		{"other IPv4 address", ginsecure.IPPolicy{}, "203.0.113.7:4000", "203.0.113.8:4000", "/me", 401},
		{"same /24 under prefix 24", ginsecure.IPPrefix(24, 64), "203.0.113.7:4000", "203.0.113.99:4000", "/me", 200},
		{"other /24 under prefix 24", ginsecure.IPPrefix(24, 64), "203.0.113.7:4000", "203.0.112.7:4000", "/me", 401},
		{"same IPv6 /64 (privacy address)", ginsecure.IPPolicy{}, "[2001:db8:1:2::10]:4000", "[2001:db8:1:2:9c3e:11ff:fe00:1]:4000", "/me", 200},
		{"other IPv6 /64", ginsecure.IPPolicy{}, "[2001:db8:1:2::10]:4000", "[2001:db8:1:3::10]:4000", "/me", 401},
		{"IPv4-mapped IPv6 is its IPv4", ginsecure.IPPolicy{}, "192.0.2.10:4000", "[::ffff:192.0.2.10]:4000", "/me", 200},
		{"IPv4-mapped IPv6 is its IPv4 on /admin (exact)", ginsecure.IPPolicy{}, "[::ffff:192.0.2.10]:4000", "192.0.2.10:4000", "/admin", 200},
		{"IPv4-mapped other address", ginsecure.IPPolicy{}, "192.0.2.10:4000", "[::ffff:192.0.2.11]:4000", "/me", 401},
		{"IPv6 zone is not part of the client", ginsecure.IPExact(), "[fe80::1%eth0]:4000", "[fe80::1%eth1]:4000", "/me", 200},
		{"IPv4 login, IPv6 request", ginsecure.IPPrefix(0, 0), "192.0.2.10:4000", "[2001:db8::1]:4000", "/me", 401},
		{"allow-listed IPv6 network", ginsecure.IPAllow("2001:db8:ffff::/48"), "192.0.2.10:4000", "[2001:db8:ffff:7::1]:4000", "/me", 200},
		{"/admin stricter than prefix 24", ginsecure.IPPrefix(24, 64), "203.0.113.7:4000", "203.0.113.8:4000", "/admin", 401},
		{"/admin exact inside the IPv6 /64", ginsecure.IPPolicy{}, "[2001:db8:1:2::10]:4000", "[2001:db8:1:2::11]:4000", "/admin", 401},
		{"IPOff, another network", ginsecure.IPOff(), "203.0.113.7:4000", "[2001:db8::1]:4000", "/me", 200},
		{"unparsable peer", ginsecure.IPPolicy{}, "203.0.113.7:4000", "not-an-address", "/me", 401},
		{"empty peer", ginsecure.IPPolicy{}, "203.0.113.7:4000", "", "/me", 401},
		{"peer without port", ginsecure.IPPolicy{}, "203.0.113.7:4000", "203.0.113.7", "/me", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "cookie", ginsecure.Config{IPBinding: tc.policy})
			cookies := e.ipLogin(t, tc.login, "alice")
			r := e.ipServe(tc.from, cookies, http.MethodGet, tc.path)
			if r.status != tc.want {
				t.Fatalf("%s from %q after login from %q: %d %v, want %d", tc.path, tc.from, tc.login, r.status, r.body, tc.want)
			}
			if tc.want == 200 && r.user() != "alice" {
				t.Fatalf("served as %q", r.user())
			}
			if tc.want == 401 && r.errCode() != "ip_mismatch" {
				t.Fatalf("refused with %v, want ip_mismatch", r.body)
			}
		})
	}
}

// TestIPMismatchEventHintsAtProxyForPrivatePeers: a private peer that is
// not the login's is most often a proxy the app does not know about; the
// event says how to fix it, and says nothing of the kind for a public peer.
func TestIPMismatchEventHintsAtProxyForPrivatePeers(t *testing.T) {
	for _, tc := range []struct {
		from string
		hint bool
	}{
		{"10.0.0.5:4000", true},
		{"[fd00::5]:4000", true},
		{"198.51.100.5:4000", false},
	} {
		e := newEnv(t, "cookie", ginsecure.Config{})
		cookies := e.ipLogin(t, "203.0.113.7:4000", "alice")
		wantIPRefusal(t, "from "+tc.from, e.ipServe(tc.from, cookies, http.MethodGet, "/me"))
		ev := ipMismatchEvent(t, e)
		if got := strings.Contains(ev.Detail, "TrustProxyHeaders"); got != tc.hint {
			t.Errorf("from %s: detail %q, want TrustProxyHeaders hint: %v", tc.from, ev.Detail, tc.hint)
		}
		if ev.BoundIP != "203.0.113.7" {
			t.Errorf("from %s: bound %q", tc.from, ev.BoundIP)
		}
	}
}

// spoofHeaders name addr in every header a proxy or platform might use.
func spoofHeaders(addr string) []string {
	return []string{
		"X-Forwarded-For", addr, "X-Real-IP", addr, "Forwarded", "for=" + addr,
		"CF-Connecting-IP", addr, "True-Client-IP", addr, "X-Appengine-Remote-Addr", addr,
	}
}

// TestIPSpoofedHeadersIgnoredByDefault: without TrustProxyHeaders the
// client IP is the TCP peer, so a thief cannot claim the victim's address
// with a header, even when the engine itself would believe the header.
func TestIPSpoofedHeadersIgnoredByDefault(t *testing.T) {
	engines := []struct {
		name  string
		setup func(r *gin.Engine)
	}{
		{"gin defaults (every proxy trusted)", func(*gin.Engine) {}},
		{"engine trusts a platform header", func(r *gin.Engine) { r.TrustedPlatform = gin.PlatformCloudflare }},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			e := newEnv(t, "memstore", ginsecure.Config{}, withEngine(eng.setup))
			victim := e.browserFrom("127.0.0.1")
			victim.login("alice")

			thief := e.browserFrom("127.0.0.2")
			victim.copyTo(thief)
			wantIPRefusal(t, "stolen cookies with headers naming 127.0.0.1", thief.do(http.MethodGet, "/me", spoofHeaders("127.0.0.1")...))
			if ev := ipMismatchEvent(t, e); ev.IP != "127.0.0.2" {
				t.Errorf("event names %q, want the real peer 127.0.0.2", ev.IP)
			}

			// Nor can a header choose the address a login binds to.
			mallory := e.browserFrom("127.0.0.2")
			if r := mallory.do(http.MethodPost, "/login?user=mallory", spoofHeaders("127.0.0.1")...); r.status != http.StatusOK {
				t.Fatalf("login: %d %v", r.status, r.body)
			}
			if ip := boundIP(t, mallory); ip != "127.0.0.2" {
				t.Fatalf("login with spoofed headers bound to %q, want the peer 127.0.0.2", ip)
			}
		})
	}
}

// TestIPTrustedProxyHeaderNamesTheClient: behind a configured proxy the
// client is the address the proxy reports, and a header from any other
// peer is ignored.
func TestIPTrustedProxyHeaderNamesTheClient(t *testing.T) {
	cfg := ginsecure.Config{TrustProxyHeaders: true, KeepSessionOnIPMismatch: true}
	e := newEnv(t, "memstore", cfg, withEngine(func(r *gin.Engine) {
		if err := r.SetTrustedProxies([]string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}))
	const victimIP, thiefIP = "198.51.100.7", "198.51.100.66"
	// The proxy (127.0.0.1) forwards the victim's browser.
	victim := e.browserFrom("127.0.0.1")
	if r := victim.do(http.MethodPost, "/login?user=alice", "X-Forwarded-For", victimIP); r.status != http.StatusOK {
		t.Fatalf("login through the proxy: %d %v", r.status, r.body)
	}
	if ip := boundIP(t, victim, "X-Forwarded-For", victimIP); ip != victimIP {
		t.Fatalf("bound to %q, want the proxy's client %s", ip, victimIP)
	}
	wantUser(t, "victim through the proxy", victim.do(http.MethodGet, "/me", "X-Forwarded-For", victimIP), "alice")

	thief := e.browserFrom("127.0.0.1")
	t.Run("another client behind the proxy", func(t *testing.T) {
		e.events.reset()
		victim.copyTo(thief)
		wantIPRefusal(t, "thief through the proxy", thief.do(http.MethodGet, "/me", "X-Forwarded-For", thiefIP))
		if ev := ipMismatchEvent(t, e); ev.IP != thiefIP || ev.BoundIP != victimIP {
			t.Errorf("event names %q, bound %q", ev.IP, ev.BoundIP)
		}
	})
	t.Run("client-written header before the proxy's", func(t *testing.T) {
		// The thief writes the victim's address; the proxy appends the
		// thief's real one. The rightmost untrusted hop is the client.
		victim.copyTo(thief)
		wantIPRefusal(t, "thief prepending the victim's IP", thief.do(http.MethodGet, "/me", "X-Forwarded-For", victimIP+", "+thiefIP))
	})
	t.Run("header from an untrusted peer", func(t *testing.T) {
		e.events.reset()
		direct := e.browserFrom("127.0.0.2")
		victim.copyTo(direct)
		wantIPRefusal(t, "127.0.0.2 naming the victim", direct.do(http.MethodGet, "/me", spoofHeaders(victimIP)...))
		if ev := ipMismatchEvent(t, e); ev.IP != "127.0.0.2" {
			t.Errorf("event names %q, want the real peer 127.0.0.2", ev.IP)
		}
		mallory := e.browserFrom("127.0.0.2")
		if r := mallory.do(http.MethodPost, "/login?user=mallory", spoofHeaders(victimIP)...); r.status != http.StatusOK {
			t.Fatalf("login: %d %v", r.status, r.body)
		}
		if ip := boundIP(t, mallory); ip != "127.0.0.2" {
			t.Fatalf("login from an untrusted peer bound to %q, want 127.0.0.2", ip)
		}
	})
	wantUser(t, "victim after all that", victim.do(http.MethodGet, "/me", "X-Forwarded-For", victimIP), "alice")
}

// lockedBuffer is a log sink that requests may write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestIPTrustProxyHeadersWarnsWhenEngineTrustsAll: trusting headers while
// gin trusts every peer (its default) lets any client pick its IP; the
// guard says so once, at error level, and stays quiet when proxies are
// configured or headers are not trusted.
func TestIPTrustProxyHeadersWarnsWhenEngineTrustsAll(t *testing.T) {
	trust := func(cidrs ...string) func(r *gin.Engine) {
		return func(r *gin.Engine) {
			if err := r.SetTrustedProxies(cidrs); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name         string
		trustHeaders bool
		engine       func(r *gin.Engine)
		warn         bool
	}{
		{"gin default trusts every proxy", true, func(*gin.Engine) {}, true},
		{"explicitly trusts every network", true, trust("0.0.0.0/0", "::/0"), true},
		{"one trusted proxy", true, trust("127.0.0.1"), false},
		{"no trusted proxy", true, trust(), false},
		{"headers not trusted", false, func(*gin.Engine) {}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			cfg := ginsecure.Config{TrustProxyHeaders: tc.trustHeaders, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
			e := newEnv(t, "cookie", cfg, withEngine(tc.engine))
			b := e.browserFrom("127.0.0.1")
			b.login("alice")
			b.get("/me")
			b.get("/public")
			out := buf.String()
			n := strings.Count(out, "trusts every proxy")
			switch {
			case tc.warn && n != 1:
				t.Fatalf("want one warning, got %d in log:\n%s", n, out)
			case tc.warn && !strings.Contains(out, "level=ERROR") || tc.warn && !strings.Contains(out, "SetTrustedProxies"):
				t.Fatalf("the warning is not loud or does not say how to fix it:\n%s", out)
			case !tc.warn && n != 0:
				t.Fatalf("unexpected warning:\n%s", out)
			}
		})
	}
}

// TestIPThiefNeverServedWhileVictimIsActive races a thief's requests from
// another peer against the victim's own: whatever the interleaving, no
// thief request is served, and the session ends for both.
func TestIPThiefNeverServedWhileVictimIsActive(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim := e.browserFrom("127.0.0.1")
		victim.login("alice")
		handle := loginHandle(t, e)
		const n = 16
		thieves := make([]*browser, n)
		for i := range thieves {
			thieves[i] = e.browserFrom("127.0.0.2")
			victim.copyTo(thieves[i])
		}
		var wg sync.WaitGroup
		served := make(chan string, 2*n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				victim.do(http.MethodPost, "/me/write")
			}()
			go func() {
				defer wg.Done()
				r := thieves[i].do(http.MethodPost, "/me/write")
				if r.status != http.StatusUnauthorized || r.user() != "" {
					served <- r.user()
				}
			}()
		}
		wg.Wait()
		close(served)
		for u := range served {
			t.Errorf("a thief request was answered as %q", u)
		}
		if r := victim.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("victim after the race: %d %v, want signed out", r.status, r.body)
		}
		// Which code the victim sees depends on the interleaving: once the
		// record is revoked, any holder's request (the thief's too) drops
		// the handle from the shared session, and later ones are plain
		// no_session. The record says why, whatever the victim was told.
		rec, err := e.store.Get(context.Background(), handle)
		if err != nil || rec.Revoked != storeext.RevokedIP {
			t.Fatalf("record after the race: revoked %q, err %v; want %q", rec.Revoked, err, storeext.RevokedIP)
		}
	})
}

// TestIPGraceWindowDoesNotExemptAnotherPeer: old credentials inside the
// grace window are still credentials: from another network they are
// refused like current ones, never served as a straggler.
func TestIPGraceWindowDoesNotExemptAnotherPeer(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim := e.browserFrom("127.0.0.1")
		victim.login("alice")
		thief := e.browserFrom("127.0.0.2")
		victim.copyTo(thief)
		if r := victim.post("/renew"); r.status != http.StatusOK {
			t.Fatalf("renew: %d %v", r.status, r.body)
		}
		r := thief.get("/me")
		if r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
			t.Fatalf("pre-renew copy from another peer inside the grace window: %d %v, want 401 ip_mismatch", r.status, r.body)
		}
	})
}

// otherLocalIPv6 is a local IPv6 address outside ::1's /64, or "".
func otherLocalIPv6() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := pfx.Addr()
		if ip.Is6() && !ip.Is4In6() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			return ip.String()
		}
	}
	return ""
}

// TestIPBindingOnRealIPv6Peers: the same decision with the kernel's IPv6
// peers, where the machine has a second IPv6 address to dial from.
func TestIPBindingOnRealIPv6Peers(t *testing.T) {
	other := otherLocalIPv6()
	if other == "" {
		t.Skip("no local IPv6 address besides ::1 to dial from")
	}
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	e := newEnv(t, "memstore", ginsecure.Config{}, func(o *envOpts) { o.listener = ln })
	victim := e.browserFrom("::1")
	victim.login("alice")
	if ip := boundIP(t, victim); ip != "::1" {
		t.Fatalf("bound to %q, want ::1", ip)
	}
	thief := e.browserFrom(other)
	victim.copyTo(thief)
	wantIPRefusal(t, "stolen cookies from "+other, thief.get("/me"))
	if ev := ipMismatchEvent(t, e); ev.IP != other || ev.BoundIP != "::1" {
		t.Errorf("event names %q, bound %q", ev.IP, ev.BoundIP)
	}
}

// TestIPMismatchNeverBlocksSigningIn: a browser whose network changed (its
// cookies now come from 127.0.0.2) is anonymous there, revoked or not: a
// public page is served with an empty stand-in (reason ip_mismatch, none
// of the session's data, no cookie written, a write refused), a route
// that requires a user answers 401 ip_mismatch, and signing in again
// works, binding the new session to the new network and replacing the
// refused one (the same user).
func TestIPMismatchNeverBlocksSigningIn(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepSessionOnIPMismatch=%v", keep), func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: keep})
				home := e.browserFrom("127.0.0.1")
				home.login("alice")
				if r := home.post("/cart?item=alice-card"); r.status != http.StatusOK {
					t.Fatalf("alice's cart: %d %v", r.status, r.body)
				}
				moved := e.browserFrom("127.0.0.2")
				home.copyTo(moved)
				r := moved.get("/cart")
				if r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "ip_mismatch" || r.body["cart"] != nil {
					t.Fatalf("GET /cart from the new network: %d %v, want 200 anonymous, reason ip_mismatch, no cart", r.status, r.body)
				}
				if got := graceCookies(r.cookies); got != "" {
					t.Errorf("GET /cart from the new network sets %q; want no cookie of ours", got)
				}
				w := moved.post("/cart?item=planted")
				switch {
				case keep && (w.status != http.StatusConflict || w.errCode() != "foreign_session"):
					t.Errorf("POST /cart from the new network: %d %v, want 409 foreign_session (the stand-in writes nothing)", w.status, w.body)
				case !keep && (w.status != http.StatusOK || w.user() != ""):
					// The first request ended the record (revoked): this one
					// is an ordinary anonymous visitor's on the emptied
					// session (DESIGN.md, "Endings"), whose writes a login
					// never carries ("Carry-over").
					t.Errorf("POST /cart after the revocation: %d %v, want 200 anonymous", w.status, w.body)
				}
				wantIPRefusal(t, "/me from the new network", moved.get("/me"))
				if r := moved.post("/login?user=alice"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("POST /login from the new network: %d %v, want 200 alice", r.status, r.body)
				}
				wantUser(t, "/me after signing in again", moved.get("/me"), "alice")
				if r := moved.get("/cart"); r.body["cart"] != nil {
					t.Errorf("the new session carries the refused session's cart %v", r.body["cart"])
				}
				if ip := boundIP(t, moved); ip != "127.0.0.2" {
					t.Errorf("new session bound to %q, want 127.0.0.2", ip)
				}
				// The refused session was replaced: its cookies open nothing.
				if r := home.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("the refused session's cookies on their own network after the new login: %d %v, want 401", r.status, r.body)
				}
				if n := len(e.sessions(t, "alice")); n != 1 {
					t.Errorf("alice has %d sessions, want 1 (the refused one replaced)", n)
				}
			})
		})
	}
}

// TestIPLoginNeverJoinsALoginBoundToAnotherNetwork: two logins of one
// user from one pre-login session join one record, but only from the
// network that record is bound to. A login from another network (the
// browser moved between its submits, or signed in again after an IP
// refusal) binds its own address: joined, the browser would be refused at
// its very next request.
func TestIPLoginNeverJoinsALoginBoundToAnotherNetwork(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		home := e.browserFrom("127.0.0.1")
		if r := home.post("/cart?item=before"); r.status != http.StatusOK {
			t.Fatalf("anonymous cart: %d %v", r.status, r.body)
		}
		moved := e.browserFrom("127.0.0.2")
		home.copyTo(moved) // the same pre-login session, now on another network
		home.signIn("alice")
		if r := moved.post("/login?user=alice"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("POST /login from the other network: %d %v, want 200 alice", r.status, r.body)
		}
		wantUser(t, "/me from the network it signed in from", moved.get("/me"), "alice")
		if ip := boundIP(t, moved); ip != "127.0.0.2" {
			t.Errorf("the second login's session is bound to %q, want 127.0.0.2", ip)
		}
		wantUser(t, "/me of the first login, at home", home.get("/me"), "alice")
	})
}

// TestIPMismatchLoginOfAnotherUserLeavesTheRefusedSession: a thief on
// another network with a copy of alice's cookies signs in to an account of
// its own. Where the mismatch kept alice's session (KeepSessionOnIPMismatch,
// or only the address family changed), the thief's login creates its own
// session and leaves alice's alone: a stolen copy cannot end the owner's
// session that way.
func TestIPMismatchLoginOfAnotherUserLeavesTheRefusedSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("KeepSessionOnIPMismatch", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true})
			owner := e.browserFrom("127.0.0.1")
			owner.login("alice")
			owner.post("/cart?item=alice-card")
			thief := e.browserFrom("127.0.0.2")
			owner.copyTo(thief)
			if r := thief.post("/login?user=mallory"); r.status != http.StatusOK || r.user() != "mallory" {
				t.Fatalf("thief's login to its own account: %d %v", r.status, r.body)
			}
			wantUser(t, "thief after its login", thief.get("/me"), "mallory")
			if r := owner.get("/cart"); r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "alice-card" {
				t.Fatalf("owner after the thief's login: %d %v, want alice with her cart", r.status, r.body)
			}
			if n := len(e.sessions(t, "alice")); n != 1 {
				t.Errorf("alice has %d sessions, want 1", n)
			}
		})
		t.Run("address family changed", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			cookies := e.ipLogin(t, "192.0.2.10:1000", "alice")
			handle := loginHandle(t, e)
			r := e.ipServe("[2001:db8::66]:1000", cookies, http.MethodPost, "/login?user=mallory")
			if r.status != http.StatusOK || r.user() != "mallory" {
				t.Fatalf("login to another account over the other family: %d %v", r.status, r.body)
			}
			if rec, err := e.store.Get(context.Background(), handle); err != nil || rec.Revoked != "" {
				t.Fatalf("alice's record after mallory's login: revoked %q, err %v; want it live", rec.Revoked, err)
			}
			if r := e.ipServe("192.0.2.10:1000", cookies, http.MethodGet, "/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("alice from her own network after mallory's login: %d %v", r.status, r.body)
			}
		})
	})
}

// TestIPMismatchEventOncePerNetworkAndWindow: a thief hammering with a kept
// session's copy from one network is reported once per TouchInterval,
// while a mismatch from a network not seen yet is reported at once.
func TestIPMismatchEventOncePerNetworkAndWindow(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true})
		owner := e.browserFrom("127.0.0.1")
		owner.login("alice")
		thief := e.browserFrom("127.0.0.2")
		owner.copyTo(thief)
		count := func() int { return e.events.count(ginsecure.EventIPMismatch) }
		for range 10 {
			thief.get("/public")
			wantIPRefusal(t, "thief on /me", thief.get("/me"))
		}
		if n := count(); n != 1 {
			t.Fatalf("%d ip_mismatch events for 20 requests from one network, want 1", n)
		}
		other := e.browserFrom("127.0.1.1")
		owner.copyTo(other)
		other.get("/public")
		if n := count(); n != 2 {
			t.Fatalf("%d ip_mismatch events after a request from a second network, want 2", n)
		}
		e.clock.Advance(ginsecure.DefaultTouchInterval - time.Second)
		thief.get("/public")
		if n := count(); n != 2 {
			t.Fatalf("%d ip_mismatch events inside the window, want 2", n)
		}
		e.clock.Advance(time.Second)
		thief.get("/public")
		if n := count(); n != 3 {
			t.Fatalf("%d ip_mismatch events after the window, want 3", n)
		}
		wantUser(t, "owner", owner.get("/me"), "alice")
	})
}
