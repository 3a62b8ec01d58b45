package ginsecure_test

import (
	"net/http"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/ginsecure/ginsecure"
)

// opaqueSessionStore is a session store ginsecure does not know: a
// gin-contrib store behind a type of the application's own (a wrapper
// that adds metrics, say), whose cookie codecs ginsecure cannot reach.
type opaqueSessionStore struct{ sessions.Store }

// TestLoginFromAGuestSessionOnAStoreItCannotLoadByID: a guest with a
// cart signs in, on a session store ginsecure cannot load by ID (its
// codecs out of reach: a store of the application's own type, or Redis
// sessions beside the memory records store, which does not know them).
// The login carries the guest's cart from the request's own session, as
// it loaded it (DESIGN.md, "Carry-over"); it is never refused.
// Red without the request's-own-session fallback in loadByID: the login
// answered 401 unauthorized ("no codecs to load a session by ID").
func TestLoginFromAGuestSessionOnAStoreItCannotLoadByID(t *testing.T) {
	for _, kind := range []string{"memstore-opaque", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{Store: ginsecure.NewMemoryStore()})
			b := e.browser()
			b.post("/cart?item=guest")
			if r := b.post("/login?user=alice"); r.status != http.StatusOK {
				t.Fatalf("login from a guest session: %d %v; want 200", r.status, r.body)
			}
			if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "guest" {
				t.Errorf("after the login: %d %v; want alice with the guest's cart", r.status, r.body)
			}
			if r := b.post("/logout"); r.status != http.StatusOK {
				t.Errorf("logout: %d %v", r.status, r.body)
			}
			if r := b.get("/cart"); r.user() != "" || r.body["cart"] != nil {
				t.Errorf("after the logout: %v; want anonymous, no cart", r.body)
			}
		})
	}
}
