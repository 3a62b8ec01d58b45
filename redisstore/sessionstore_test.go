package redisstore_test

import (
	"errors"
	"strings"
	"testing"

	ginredis "github.com/gin-contrib/sessions/redis"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	gsessions "github.com/gorilla/sessions"
)

// The records store knows a session store NewSessionStore made on its
// pool in full (Shared: its prefix, serializer and size limit), any other
// boj/redistore store by its type alone (not Shared), and nothing else.
func TestSharedSessionsKnowsTheStoresItMade(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	recs := redisstore.New(pool)
	key := []byte("0123456789abcdef0123456789abcdef")
	made, err := redisstore.NewSessionStore(pool, [][]byte{key}, redisstore.WithSessionPrefix("ss_"), redisstore.WithSessionMaxLength(200))
	if err != nil {
		t.Fatal(err)
	}
	own, err := ginredis.NewStoreWithPool(pool, key)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := redisstore.NewSessionStore(srv.Pool(), [][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	gorillaOf := func(s ginredis.Store) gsessions.Store {
		rs, err := ginredis.GetRedisStore(s)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	k := recs.SharedSessions(gorillaOf(made))
	if k == nil || !k.Shared() || k.SessionKey("x") != "ss_x" {
		t.Fatalf("NewSessionStore's store on the records' pool: %v", k)
	}
	if k := recs.SharedSessions(gorillaOf(own)); k == nil || k.Shared() {
		t.Fatalf("gin-contrib's own store: known %v, want known by type, not shared", k)
	}
	if k := recs.SharedSessions(gorillaOf(elsewhere)); k == nil || k.Shared() {
		t.Fatalf("a store made on another pool: known %v, want not shared", k)
	}
	if k := recs.SharedSessions(gsessions.NewCookieStore(key)); k != nil {
		t.Fatalf("the cookie store: known %v", k)
	}
	gs, _ := k.Load("app", "id", nil)
	gs.Values["big"] = strings.Repeat("x", 400)
	if _, err := k.Encode(gs); !errors.Is(err, ginsecure.ErrSessionTooLarge) {
		t.Fatalf("a session over WithSessionMaxLength: %v, want ErrSessionTooLarge", err)
	}
	gs.Values["big"] = "small"
	b, err := k.Encode(gs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := k.Load("app", "id", b)
	if err != nil || back.IsNew || back.Values["big"] != "small" {
		t.Fatalf("Load of what Encode wrote: %v %v", back.Values, err)
	}
	if k.Persists(&gsessions.Options{MaxAge: 0}) || !k.Persists(&gsessions.Options{MaxAge: 60}) {
		t.Fatal("Persists: boj/redistore deletes a session saved with MaxAge <= 0")
	}
}
