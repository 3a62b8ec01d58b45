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

// FuzzRequestCookies sends arbitrary session and token cookie values
// through a real engine: never a panic, never a 5xx, never authenticated.
func FuzzRequestCookies(f *testing.F) {
	g, err := ginsecure.New(ginsecure.Config{Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", cookie.NewStore(sessionSecret)), g.Middleware())
	r.GET("/me", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) { c.String(200, "in") })
	r.GET("/public", func(c *gin.Context) {
		if _, ok := ginsecure.UserID(c); ok {
			c.String(299, "authenticated")
			return
		}
		c.String(200, "anon")
	})
	for _, seed := range [][2]string{
		{"", ""}, {"x", "y"}, {"MTYz|garbage|sig", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{string(make([]byte, 5000)), "%00%ff"}, {"\"quoted\"", "a;b=c"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, sess, tok string) {
		for _, path := range []string{"/me", "/public"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.AddCookie(&http.Cookie{Name: "app", Value: sanitize(sess)})
			req.AddCookie(&http.Cookie{Name: ginsecure.DefaultCookieName, Value: sanitize(tok)})
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code >= 500 || w.Code == 299 || (path == "/me" && w.Code == 200) {
				t.Fatalf("%s with cookies %q / %q: %d %s", path, sess, tok, w.Code, w.Body.String())
			}
		}
	})
}

// sanitize keeps the bytes net/http would send in a cookie; the rest is
// dropped by the client anyway.
func sanitize(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\' && c != ',' {
			b = append(b, c)
		}
	}
	return string(b)
}
