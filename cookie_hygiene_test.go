package ginsecure_test

// Weak gin-contrib session cookie options are reported when the
// middleware first runs.

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

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
