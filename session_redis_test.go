package ginsecure_test

// Sessions read and saved together with the records (session_redis.go):
// whatever the fast path does gives what the sequential order gives.

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-contrib/sessions"
	gredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
)

// A Guard shared by an engine with Redis sessions and one without any
// sessions middleware (or with gin-contrib's SessionsMany, whose context
// value is not one session): once the Guard has learned the Redis
// sessions, a request with a token cookie on the other engine is served
// as it would be without them, never a panic.
func TestRedisSessionsLearnedServeAnEngineWithoutSessions(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st, err := gredis.NewStoreWithPool(pool, sessionSecret)
	if err != nil {
		t.Fatal(err)
	}
	st.Options(sessions.Options{Path: "/", MaxAge: 86400})
	g, err := ginsecure.New(ginsecure.Config{Store: redisstore.New(pool, redisstore.WithPrefix("sr:")), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	withSessions := gin.New()
	withSessions.Use(sessions.Sessions("app", st), g.Middleware())
	installRoutes(withSessions, g)
	signedIn := cookieHeader("", serveOnce(withSessions, benchReq(http.MethodPost, "/login?user=alice", "")))
	if w := serveOnce(withSessions, benchReq(http.MethodGet, "/me", signedIn)); w.Code != http.StatusOK {
		t.Fatalf("/me: %d %s", w.Code, w.Body)
	}
	for name, mw := range map[string][]gin.HandlerFunc{
		"no sessions":  {g.Middleware()},
		"SessionsMany": {sessions.SessionsMany([]string{"app", "other"}, st), g.Middleware()},
	} {
		t.Run(name, func(t *testing.T) {
			r := gin.New()
			r.Use(mw...)
			r.GET("/public", func(c *gin.Context) {
				u, _ := ginsecure.UserID(c)
				c.String(http.StatusOK, "user=%s", u)
			})
			var w *httptest.ResponseRecorder
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				w = serveOnce(r, benchReq(http.MethodGet, "/public", signedIn))
			}()
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "user=") {
				t.Fatalf("/public: %d %s", w.Code, w.Body)
			}
		})
	}
}
