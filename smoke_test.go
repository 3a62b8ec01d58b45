package ginsecure_test

import (
	"net/http"
	"testing"
)

func TestSmoke(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecureConfig())
		b := e.browser()
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("anon /me: %d %v", r.status, r.body)
		}
		b.post("/cart?item=apple")
		b.login("alice")
		r := b.get("/me")
		if r.status != 200 || r.user() != "alice" {
			t.Fatalf("/me after login: %d %v", r.status, r.body)
		}
		if r := b.get("/cart"); r.body["cart"] != "apple" {
			t.Fatalf("cart not carried over: %v", r.body)
		}
		if r := b.post("/logout"); r.status != 200 {
			t.Fatalf("logout %d %v", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("after logout /me: %d %v", r.status, r.body)
		}
	})
}
