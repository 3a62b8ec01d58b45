package ginsecure_test

// Findings of an adversarial pass: end-to-end cases that vary the named
// examples of each rule and that the library does not meet yet. Each is
// skipped unless -adversary.findings is given, so the suite stays green
// while the fault is open; run them with
//
//	go test -run 'Finding' -adversary.findings -count=1 .

import (
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

var adversaryFindings = flag.Bool("adversary.findings", false, "run the adversarial findings (library faults not fixed yet)")

// TestFindingWriteInFlightAcrossARevocationWithTheRecordStoreDown: alice's
// write is verified, RevokeUser ends her record, the browser's next
// request empties the ended session, and the record store (Redis, the
// session store being gin-contrib's memstore) is unreachable at the
// moment the held write saves. The write is verified before the ending
// and saved after it: it must be refused (ErrStaleCredentials) or fail
// closed (ErrStoreUnavailable), and in no case be served afterwards to
// the ended browser or a copy of its cookies. Observed: Save returns nil
// (the handler answers 200), and the write is then hidden: acknowledged
// and lost (DESIGN.md, "Writes": Save never reports success for a write
// that is then lost) (DESIGN.md, "Endings": no
// request ever saves an ended session's data; "Errors and events": a
// store that cannot be reached fails closed).
// Chosen as a limit: DESIGN.md, "Writes" (the third exception) and README
// "Known limits"; the test stays to show it.
func TestFindingWriteInFlightAcrossARevocationWithTheRecordStoreDown(t *testing.T) {
	if !*adversaryFindings {
		t.Skip("known finding: a write verified before RevokeUser and saved while the record store is down is acknowledged (200) and then never served: a silent loss")
	}
	for _, kind := range []string{"memstore", "cookie", "redis"} {
		t.Run(kind, func(t *testing.T) {
			held, b, thief, _ := revokedThenStoreDown(t, kind, true)
			if held.status == http.StatusOK {
				t.Errorf("the held write, saved after RevokeUser with the record store down: %d %v; want 409 stale_credentials or 503 store_unavailable", held.status, held.body)
			}
			b.apply(held)
			for who, x := range map[string]*browser{"ended browser": b, "copy": thief} {
				if r := x.get("/cart"); r.user() != "" || r.body["cart"] == "held" {
					t.Errorf("%s after the held write: %d %v; want anonymous, none of the late signed-in write", who, r.status, r.body)
				}
			}
		})
	}
}

// TestFindingCookielessDoubleSubmitBothPresentedEvictsThePhone: with
// MaxSessionsPerUser 2 alice is signed in on her phone; her laptop, with
// no cookies, submits the sign-in form twice (a fetch-based form, a
// retry). The first response lands and the laptop makes a request with it
// (the first record's first presentation); a second later the second
// response lands and the laptop makes a request with that. DESIGN.md,
// "Cookieless sign-in": the double submit evicts none of the user's other
// devices, and the browser is signed in whichever response lands last.
// Observed on every store: the second record's first presentation
// enforces the limit against the phone (least recently used) and the
// first record, which no browser holds any more: the phone is evicted
// (401 evicted, one EventLimit), and alice's two live sessions are both
// the laptop's. (The same section's "evicting the least recently used
// other one" at a first presentation is what picks the phone; the two
// sentences disagree in this order of responses.) Chosen as a limit:
// DESIGN.md, "Cookieless sign-in" and README "Known limits" say so, and
// PrepareSignIn avoids it; the test stays to show the limit.
func TestFindingCookielessDoubleSubmitBothPresentedEvictsThePhone(t *testing.T) {
	if !*adversaryFindings {
		t.Skip("known finding: a cookieless double submit whose first response is presented before the second lands evicts the phone under MaxSessionsPerUser 2")
	}
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
		phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
		phone.login("alice")
		e.clock.Advance(time.Minute)
		subs := cookielessSubmits(t, laptop, 2, "alice")
		laptop.apply(subs[0])
		expectSignedIn(t, laptop, "alice")
		e.clock.Advance(time.Second)
		laptop.apply(subs[1])
		expectSignedIn(t, laptop, "alice")
		if r := phone.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("the phone after the laptop's double submit: %d %v; want alice (evict none of the user's other devices)", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventLimit); n != 0 {
			t.Errorf("%d limit events; want none", n)
		}
	})
}
