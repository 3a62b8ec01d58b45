package ginsecure_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/boj/redistore"
	"github.com/ginsecure/ginsecure"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// TestForeignTextsStillMatch pins the only error texts of other libraries
// that ginsecure matches (foreign_text.go): each library is made to
// produce its error, so that a release that rewords it fails here rather
// than turning ErrSessionTooLarge into a bare error.
func TestForeignTextsStillMatch(t *testing.T) {
	t.Run("gorilla/securecookie over its MaxLength", func(t *testing.T) {
		sc := securecookie.New([]byte("0123456789abcdef0123456789abcdef"), nil)
		sc.MaxLength(64)
		_, err := sc.Encode("app", strings.Repeat("x", 200))
		if err == nil || !ginsecure.TooLargeText(err) {
			t.Fatalf("securecookie's refusal %v is not matched", err)
		}
		// The cookie store's Save wraps it once more.
		cs := gsessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef"))
		gs := gsessions.NewSession(cs, "app")
		gs.Values["big"] = strings.Repeat("x", 5000)
		gs.Options = &gsessions.Options{Path: "/", MaxAge: 60}
		err = cs.Save(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder(), gs)
		if err == nil || !ginsecure.TooLargeText(err) {
			t.Fatalf("the cookie store's refusal %v is not matched", err)
		}
	})
	t.Run("boj/redistore over its size limit", func(t *testing.T) {
		// The size check comes before any command: a pool that cannot dial
		// is enough (the constructor's PING fails, the store is made).
		pool := &redis.Pool{Dial: func() (redis.Conn, error) { return nil, http.ErrServerClosed }}
		rs, _ := redistore.NewRediStoreWithPool(pool, []byte("0123456789abcdef0123456789abcdef"))
		rs.SetMaxLength(64)
		gs := gsessions.NewSession(rs, "app")
		gs.Values["big"] = strings.Repeat("x", 200)
		gs.Options = &gsessions.Options{Path: "/", MaxAge: 60}
		err := rs.Save(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder(), gs)
		if err == nil || !ginsecure.TooLargeText(err) {
			t.Fatalf("boj/redistore's refusal %v is not matched", err)
		}
	})
	if ginsecure.TooLargeText(http.ErrServerClosed) {
		t.Fatal("an unrelated error matched")
	}
}
