package ginsecure_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
)

// TestTokenlessSessionOfAForgottenRecordIsTheBrowsers: a request without
// a token whose session cookie names a record the store has forgotten
// (timed out, and past storeext.RetainExpired) is an ordinary anonymous
// request on an emptied session: it sees none of the record's data and
// its write is kept (DESIGN.md, "Endings"). Such a request reads the
// clock only where its session names a record (guardAnonymous): without
// that read the embedded memory store judges the record's age at the
// zero time, still returns it, and the session is hidden as a signed-in
// user's (its write refused, foreign_session). The stores whose records
// live in the embedded memory store only: Redis forgets by its own clock.
func TestTokenlessSessionOfAForgottenRecordIsTheBrowsers(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) { tokenlessSessionOfAForgottenRecord(t, kind) })
	}
}

func tokenlessSessionOfAForgottenRecord(t *testing.T, kind string) {
	e := newEnv(t, kind, ginsecure.Config{})
	b := e.browser()
	b.login("alice")
	b.post("/cart?item=alice-card-4111")
	other := e.browser()
	other.setCookie("app", b.cookie("app"))                  // the session cookie alone, no token
	e.clock.Advance(31*time.Minute + storeext.RetainExpired) // past the idle timeout (30 min) and the store's retention
	if r := other.post("/cart?item=guest"); r.status != http.StatusOK || r.user() != "" {
		t.Fatalf("a write with the timed-out record's session cookie alone: %d %v; want 200, anonymous", r.status, r.body)
	}
	if r := other.get("/cart"); r.body["cart"] != "guest" {
		t.Errorf("after the write: %v; want the guest's cart, none of alice's", r.body)
	}
}
