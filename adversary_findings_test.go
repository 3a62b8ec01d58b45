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
