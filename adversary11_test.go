package ginsecure_test

// Adversary 11, black-box: a request without a token reads the clock only
// where its session names a record (verify's zero `now`).

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestAdversary11AnonymousNamingARecordAcrossTime: alice's session
// cookie presented without her token (a copied cookie jar) shows none of
// her values and gets no token cookie, before her record times out, after
// it did, and after the store forgot it; a write there keeps nothing of
// hers, and her own token, later, is anonymous too (timed out).
func TestAdversary11AnonymousNamingARecordAcrossTime(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			e := bbNew(t, kind, ginsecure.Config{})
			alice := e.browser("192.0.2.1")
			alice.get("/signin")
			if r := alice.do("POST", "/login?user=alice"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("login: %v", r)
			}
			if r := alice.do("POST", "/write?cart=alice-cart"); r.status != http.StatusOK || r.str("cart") != "alice-cart" {
				t.Fatalf("write: %v", r)
			}
			steps := []time.Duration{0, time.Minute, 13 * time.Hour, 25 * time.Hour, 48 * time.Hour}
			for _, d := range steps {
				e.clock.Advance(d)
				anon := alice.clone()
				anon.drop(ginsecure.DefaultCookieName)
				r := anon.do("GET", "/pub")
				if r.user() != "" || r.str("cart") != "" || r.setsToken() {
					t.Fatalf("+%v: a request without alice's token got %v", d, r)
				}
				w := anon.do("POST", "/write?note=stranger")
				if w.user() != "" || w.str("cart") != "" || w.setsToken() {
					t.Fatalf("+%v: a write without alice's token got %v", d, w)
				}
			}
			r := alice.get("/pub")
			// The ended record's session is nobody's (DESIGN.md, "Endings"):
			// the copied jar's anonymous write may show here; alice's own
			// values and her sign-in may not.
			if r.user() != "" || r.str("cart") != "" || r.setsToken() {
				t.Fatalf("alice after the timeouts: %v", r)
			}
		})
	}
}
