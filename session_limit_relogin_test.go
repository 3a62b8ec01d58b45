package ginsecure_test

// A browser that signs in again replaces its own session rather than
// counting twice under MaxSessionsPerUser (DESIGN.md, "User-to-session
// binding"): from a stale tab whose form posts the browser's current
// cookies minutes later, and from a second submit sent with the pre-login
// cookies that arrives 20 s after the first login (joined). The phone is
// never evicted.

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

func TestSignInAgainNeverEvictsAnotherDevice(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, how := range []string{"stale tab, current cookies, 5 min later", "pre-login cookies, 20 s later"} {
			t.Run(how, func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
				phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
				phone.login("alice")
				e.clock.Advance(2 * time.Minute)
				laptop.post("/cart?item=guest")
				hdr := laptop.header()
				laptop.login("alice")
				if how == "pre-login cookies, 20 s later" {
					e.clock.Advance(20 * time.Second)
				} else {
					e.clock.Advance(5 * time.Minute)
					hdr = laptop.header()
				}
				r := laptop.sendFrom(t, "POST", "/login?user=alice", hdr)
				if r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("signing in again: %d %v", r.status, r.body)
				}
				laptop.apply(r)
				expectSignedIn(t, laptop, "alice")
				expectSignedIn(t, phone, "alice")
				if n := e.events.count(ginsecure.EventLimit); n != 0 {
					t.Errorf("%d limit events; want none", n)
				}
				if n := len(e.sessions(t, "alice")); n != 2 {
					t.Errorf("alice has %d sessions; want 2 (phone and laptop)", n)
				}
			})
		}
	})
}
