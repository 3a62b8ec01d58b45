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
