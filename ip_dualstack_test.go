package ginsecure_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// dualStackBrowser is one browser on a dual-stack host: every request
// opens a new connection (as after a network change), from IPv4 loopback
// or IPv6 loopback as v6 says, to the same server.
func (e *env) dualStackBrowser(v6 *atomic.Bool) *browser {
	b := e.browser()
	tr := b.client.Transport.(*http.Transport)
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	tr.DisableKeepAlives = true
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test server's own certificate
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := &net.Dialer{Timeout: 5 * time.Second}
		if v6.Load() {
			return d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", port))
		}
		return d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", port))
	}
	return b
}

// TestIPFamilyChangeRefusesButKeepsTheSession: a laptop on a dual-stack
// network moves between IPv4 and IPv6 (Happy Eyeballs). The request from
// the other family is refused (ip_mismatch: no prefix compares across
// families), but the session is not revoked, even with the default
// KeepSessionOnIPMismatch false: back on the family it signed in from,
// the browser is still signed in. A different address of the same family
// still revokes, as before.
func TestIPFamilyChangeRefusesButKeepsTheSession(t *testing.T) {
	ln, err := net.Listen("tcp", "[::]:0") // dual stack: IPv4 and IPv6 clients
	if err != nil {
		t.Skipf("no dual-stack listener: %v", err)
	}
	if c, err := net.DialTimeout("tcp6", net.JoinHostPort("::1", portOf(ln)), time.Second); err != nil {
		ln.Close()
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	e := newEnv(t, "memstore", ginsecure.Config{}, func(o *envOpts) { o.listener = ln })
	for _, start := range []struct {
		name     string
		v6       bool
		boundIP  string
		switchTo string
	}{
		{"signed in on IPv4, request over IPv6", false, "127.0.0.1", "::1"},
		{"signed in on IPv6, request over IPv4", true, "::1", "127.0.0.1"},
	} {
		t.Run(start.name, func(t *testing.T) {
			e.events.reset()
			var v6 atomic.Bool
			v6.Store(start.v6)
			laptop := e.dualStackBrowser(&v6)
			if r := laptop.login("alice"); r.status != http.StatusOK {
				t.Fatalf("login: %d %v", r.status, r.body)
			}
			handle := loginHandle(t, e)
			if ip := boundIP(t, laptop); ip != start.boundIP {
				t.Fatalf("bound to %q, want %s", ip, start.boundIP)
			}
			v6.Store(!start.v6)
			wantIPRefusal(t, "the same laptop over the other family", laptop.get("/me"))
			ev := ipMismatchEvent(t, e)
			if ev.IP != start.switchTo || ev.BoundIP != start.boundIP || !strings.Contains(ev.Detail, "address family") || !strings.Contains(ev.Detail, "session kept") {
				t.Errorf("event: IP %q, bound %q, detail %q", ev.IP, ev.BoundIP, ev.Detail)
			}
			if rec, err := e.store.Get(context.Background(), handle); err != nil || rec.Revoked != "" {
				t.Fatalf("after a family change the record is revoked %q (err %v): want it kept", rec.Revoked, err)
			}
			v6.Store(start.v6)
			wantUser(t, "back on the family of the login", laptop.get("/me"), "alice")
			laptop.post("/logout")
		})
	}
	t.Run("another address of the same family still revokes", func(t *testing.T) {
		var v6 atomic.Bool
		laptop := e.dualStackBrowser(&v6)
		laptop.login("bob")
		thief := e.browserFrom("127.0.0.2")
		thief.jar = laptop.jar
		thief.client.Jar = laptop.jar
		thief.client.Transport.(*http.Transport).DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
			return d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", portOf(ln)))
		}
		wantIPRefusal(t, "stolen cookies from 127.0.0.2", thief.get("/me"))
		if r := laptop.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("after a same-family mismatch: %d %v, want the session revoked", r.status, r.body)
		}
	})
}

func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestIPFamilyChangeThroughTheEngine is the same rule for addresses the
// loopback cannot be dialled from (documentation networks), with and
// without KeepSessionOnIPMismatch, and with a prefix policy: only a change
// of family is spared the revocation.
func TestIPFamilyChangeThroughTheEngine(t *testing.T) {
	cases := []struct {
		name, login, from string
		revoked           bool
	}{
		{"IPv4 to IPv6", "192.0.2.10:1000", "[2001:db8::10]:1000", false},
		{"IPv6 to IPv4", "[2001:db8::10]:1000", "192.0.2.10:1000", false},
		{"IPv4-mapped IPv6 is IPv4", "192.0.2.10:1000", "[::ffff:198.51.100.1]:1000", true},
		{"IPv6 to another /64", "[2001:db8::10]:1000", "[2001:db8:1::10]:1000", true},
		{"IPv4 to another IPv4", "192.0.2.10:1000", "198.51.100.1:1000", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "cookie", ginsecure.Config{})
			cookies := e.ipLogin(t, tc.login, "alice")
			handle := loginHandle(t, e)
			if r := e.ipServe(tc.from, cookies, http.MethodGet, "/me"); r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
				t.Fatalf("from %s: %d %v, want 401 ip_mismatch", tc.from, r.status, r.body)
			}
			rec, err := e.store.Get(context.Background(), handle)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.Revoked != ""; got != tc.revoked {
				t.Fatalf("revoked %q, want revoked=%v", rec.Revoked, tc.revoked)
			}
			if !tc.revoked {
				if r := e.ipServe(tc.login, cookies, http.MethodGet, "/me"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("back from %s: %d %v", tc.login, r.status, r.body)
				}
			}
		})
	}
}

// dualStackListener listens on IPv4 and IPv6 loopback at once, or skips
// the test where the machine cannot.
func dualStackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no dual-stack listener: %v", err)
	}
	c, err := net.DialTimeout("tcp6", net.JoinHostPort("::1", portOf(ln)), time.Second)
	if err != nil {
		ln.Close()
		t.Skipf("no IPv6 loopback: %v", err)
	}
	c.Close()
	return ln
}

// TestIPFamilyChangeNeverBlocksSigningIn: signed in over IPv4, the
// laptop's next connections go over IPv6. A public page is served
// anonymous (reason ip_mismatch, none of the session's data), a route
// that requires a user answers 401 ip_mismatch, and POST /login signs in
// afresh over IPv6, replacing the IPv4 session.
func TestIPFamilyChangeNeverBlocksSigningIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ln := dualStackListener(t)
		e := newEnv(t, kind, ginsecure.Config{}, func(o *envOpts) { o.listener = ln })
		var v6 atomic.Bool
		laptop := e.dualStackBrowser(&v6)
		laptop.login("alice")
		laptop.post("/cart?item=alice-card")
		v6.Store(true)
		if r := laptop.get("/cart"); r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "ip_mismatch" || r.body["cart"] != nil {
			t.Fatalf("GET /cart over IPv6: %d %v, want 200 anonymous, reason ip_mismatch, no cart", r.status, r.body)
		}
		wantIPRefusal(t, "/me over IPv6", laptop.get("/me"))
		if r := laptop.post("/login?user=alice"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("POST /login over IPv6: %d %v, want 200 alice", r.status, r.body)
		}
		wantUser(t, "/me over IPv6 after signing in again", laptop.get("/me"), "alice")
		if ip := boundIP(t, laptop); ip != "::1" {
			t.Errorf("new session bound to %q, want ::1", ip)
		}
		if n := len(e.sessions(t, "alice")); n != 1 {
			t.Errorf("alice has %d sessions, want 1 (the IPv4 one replaced)", n)
		}
	})
}
