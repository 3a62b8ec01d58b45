package ginsecure_test

// Black-box tests of two seams between endings, sign-in and writes: a
// sign-in verified before its session ended, and two parallel writes of
// one session.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestBlackboxLoginInFlightCarriesNoEndedSession: alice's browser
// posts a same-user login (a second sign-in form, a password re-entry)
// that is verified while her session is live; before the handler calls
// Login, the session ends (RevokeUser by an admin, a Logout or the
// logout idiom from a copy, an eviction, a lost session cookie). The
// new session must start empty: an ended session's data is never carried
// into a login (DESIGN.md, "Endings", "Carry-over").
func TestBlackboxLoginInFlightCarriesNoEndedSession(t *testing.T) {
	bbShareRedis(t)
	ends := []struct {
		name string
		end  func(t *testing.T, e *bbEnv, b *bbBrowser)
	}{
		{"RevokeUser", func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if _, err := e.guard.RevokeUser(t.Context(), "alice", ginsecure.ReasonAdmin); err != nil {
				t.Fatal(err)
			}
		}},
		{"Logout by a copy", func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.clone().post("/logout"); r.status != http.StatusOK {
				t.Fatalf("logout: %s", r)
			}
		}},
		{"logout idiom by a copy", func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.clone().post("/idiom"); r.status != http.StatusOK {
				t.Fatalf("idiom: %s", r)
			}
		}},
		{"evicted by another device", func(t *testing.T, e *bbEnv, b *bbBrowser) {
			e.clock.Advance(time.Minute)
			e.browser("10.0.0.7").login(t, "alice")
		}},
		{"lost session cookie on a copy", func(t *testing.T, e *bbEnv, b *bbBrowser) {
			c := b.clone()
			c.drop(bbSessName)
			c.get("/pub")
		}},
	}
	for _, end := range ends {
		t.Run(end.name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{MaxSessionsPerUser: 1})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ENDEDCART")
				release := e.start(b, "POST", "op=login&user=alice")
				end.end(t, e, b)
				r := release()
				if r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("the login in flight: %s", r)
				}
				b.apply(r)
				got := b.get("/me")
				if got.status != http.StatusOK || got.user() != "alice" {
					t.Fatalf("after the login: %s", got)
				}
				if strings.Contains(r.raw+got.raw, "ENDEDCART") {
					t.Errorf("a login verified before the ending carried the ended session's data: login %s, then GET /me %s; want an empty session", r, got)
				}
			})
		})
	}
}

// TestBlackboxParallelWritesKeepTheOneSavedLast: two requests of one
// signed-in session, held in their handlers, write different keys (cart,
// note); both Saves return nil. gin-contrib saves a session whole, so the
// store holds the write saved last, whatever order the responses land in
// (README, "Known limits"; DESIGN.md, "Writes"): applying the responses in
// reverse order changes nothing, and neither write's response puts back
// the other's session.
func TestBlackboxParallelWritesKeepTheOneSavedLast(t *testing.T) {
	bbShareRedis(t)
	for _, kind := range []string{"memstore", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := bbNew(t, kind, ginsecure.Config{})
			b := e.browser("10.0.0.1")
			b.login(t, "alice")
			first := e.start(b, "POST", "op=write&cart=CART1")
			second := e.start(b, "POST", "op=write&note=NOTE2")
			w1 := first()
			w2 := second()
			if w1.status != http.StatusOK || w2.status != http.StatusOK {
				t.Fatalf("a write was refused: %s / %s", w1, w2)
			}
			b.apply(w2)
			b.apply(w1)
			got := b.get("/me")
			if got.user() != "alice" || got.str("note") != "NOTE2" || got.str("cart") != "" {
				t.Errorf("writes saved cart then note, responses applied note then cart: GET /me %s; want alice with the note saved last (and not the cart it overwrote)", got)
			}
		})
	}
}
