package ginsecure_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// TestRequireTLSBehindProxy: X-Forwarded-Proto counts only from a proxy the
// engine trusts, and only with TrustProxyHeaders; anyone else's header is
// ignored.
func TestRequireTLSBehindProxy(t *testing.T) {
	build := func(trust bool) *gin.Engine {
		g, err := ginsecure.New(ginsecure.Config{TrustProxyHeaders: trust, Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		r := gin.New()
		if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		r.Use(sessions.Sessions("app", cookie.NewStore(sessionSecret)), g.Middleware())
		r.GET("/pay", g.Require(ginsecure.Policy{RequireTLS: true}), func(c *gin.Context) { c.String(200, "ok") })
		return r
	}
	cases := []struct {
		name   string
		trust  bool
		peer   string
		proto  string
		status int
	}{
		{"trusted proxy says https", true, "10.0.0.1:5000", "https", 200},
		{"trusted proxy says http", true, "10.0.0.1:5000", "http", 403},
		{"untrusted peer says https", true, "198.51.100.9:5000", "https", 403},
		{"headers not trusted", false, "10.0.0.1:5000", "https", 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/pay", nil)
			req.RemoteAddr = c.peer
			req.Header.Set("X-Forwarded-For", "203.0.113.5")
			req.Header.Set("X-Forwarded-Proto", c.proto)
			w := httptest.NewRecorder()
			build(c.trust).ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
		})
	}
}

// TestRequireTLSTrustsThePeerNotTheClientIP: X-Forwarded-Proto counts when
// the TCP peer is a proxy the engine trusts, whatever gin's ClientIP says:
// a TrustedPlatform header makes ClientIP differ from the peer for any
// client, and a trusted proxy need not send X-Forwarded-For.
func TestRequireTLSTrustsThePeerNotTheClientIP(t *testing.T) {
	g, err := ginsecure.New(ginsecure.Config{TrustProxyHeaders: true, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	r.TrustedPlatform = gin.PlatformCloudflare
	r.Use(sessions.Sessions("app", cookie.NewStore(sessionSecret)), g.Middleware())
	r.GET("/pay", g.Require(ginsecure.Policy{RequireTLS: true}), func(c *gin.Context) { c.String(200, "ok") })
	cases := []struct {
		name   string
		peer   string
		hdr    []string
		status int
	}{
		{"direct client with a platform header", "198.51.100.9:5000", []string{"CF-Connecting-IP", "203.0.113.5"}, 403},
		{"direct client with a platform header and XFF", "198.51.100.9:5000", []string{"CF-Connecting-IP", "203.0.113.5", "X-Forwarded-For", "203.0.113.5"}, 403},
		{"trusted proxy without X-Forwarded-For", "10.0.0.1:5000", nil, 200},
		{"trusted proxy with a platform header", "10.0.0.1:5000", []string{"CF-Connecting-IP", "203.0.113.5"}, 200},
		{"trusted proxy naming itself", "10.0.0.1:5000", []string{"X-Forwarded-For", "10.0.0.1"}, 200},
		{"unparsable peer", "@", []string{"CF-Connecting-IP", "203.0.113.5"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/pay", nil)
			req.RemoteAddr = c.peer
			req.Header.Set("X-Forwarded-Proto", "https")
			for i := 0; i+1 < len(c.hdr); i += 2 {
				req.Header.Set(c.hdr[i], c.hdr[i+1])
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
		})
	}
}

// TestRequireTLSBelievesTheNearestProxy: a proxy that appends to
// X-Forwarded-Proto (a line of its own, or a comma and its value) puts its
// scheme after whatever the client wrote. Only the last value, across all
// lines, is the trusted proxy's; a client that came over plain HTTP and
// wrote "https" itself is refused. From an untrusted peer no value counts.
func TestRequireTLSBelievesTheNearestProxy(t *testing.T) {
	g, err := ginsecure.New(ginsecure.Config{TrustProxyHeaders: true, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	r.Use(sessions.Sessions("app", cookie.NewStore(sessionSecret)), g.Middleware())
	r.GET("/pay", g.Require(ginsecure.Policy{RequireTLS: true}), func(c *gin.Context) { c.String(200, "ok") })
	const proxy, direct = "10.0.0.1:5000", "198.51.100.9:5000"
	cases := []struct {
		name   string
		peer   string
		lines  []string // X-Forwarded-Proto lines, in order
		status int
	}{
		{"client wrote https, proxy appended a line with http", proxy, []string{"https", "http"}, 403},
		{"client wrote https, proxy appended http after a comma", proxy, []string{"https, http"}, 403},
		{"client wrote http, proxy appended a line with https", proxy, []string{"http", "https"}, 200},
		{"client wrote http, proxy appended https after a comma", proxy, []string{"http,https"}, 200},
		{"three values over two lines, the last https", proxy, []string{"http, http", " HTTPS "}, 200},
		{"trailing empty value", proxy, []string{"https,"}, 403},
		{"untrusted peer, last value https", direct, []string{"http", "https"}, 403},
		{"untrusted peer, one value https", direct, []string{"https"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/pay", nil)
			req.RemoteAddr = c.peer
			for _, v := range c.lines {
				req.Header.Add("X-Forwarded-Proto", v)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
		})
	}
}
