package ginsecure_test

// Login is all-or-nothing (DESIGN.md, "Bad input"): a login that fails
// leaves the visitor's session as it was.

import (
	"net/http"
	"testing"
	"time"
)

// TestLoginFailedLeavesTheVisitorsSessionDespiteAParallelWrite: a visitor
// with a cart signs in while another tab saves the cart. The login sets
// its marker first, so the parallel write finds it, takes the session for
// retired and deletes it; then the login fails (RejectExtraLogins, the
// user is signed in elsewhere) and removes its marker. The visitor's
// session must be as it was: the cart is still there.
func TestLoginFailedLeavesTheVisitorsSessionDespiteAParallelWrite(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		cfg := graceConfig(graceWindow)
		cfg.MaxSessionsPerUser, cfg.RejectExtraLogins = 1, true
		e, gate := gatedEnv(t, kind, cfg)
		e.browser().login("alice") // holds alice's one slot

		b := e.browser()
		if r := b.post("/cart?item=keep"); r.status != http.StatusOK {
			t.Fatalf("anonymous POST /cart: %d %v", r.status, r.body)
		}
		pre := b.header()
		gate.arm("Create")
		done := make(chan reply, 1)
		go func() {
			r, err := e.trySend("POST", "/login?user=alice", pre)
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		select {
		case <-gate.entered:
		case <-time.After(holdTimeout):
			t.Fatal("the login never reached Create")
		}
		w := e.send("POST", "/cart?item=keep", pre) // another tab, same cookies
		close(gate.open)
		login := <-done
		if login.status == http.StatusOK {
			t.Fatalf("login over the limit succeeded: %v", login.body)
		}
		t.Logf("parallel write: %d %v; failed login: %d %v", w.status, w.body, login.status, login.body)
		b.apply(w)
		b.apply(login)
		if r := b.get("/cart"); r.body["cart"] != "keep" {
			t.Errorf("after a failed login, GET /cart: %d %v; want the visitor's cart \"keep\" (the session as it was)", r.status, r.body)
		}
	})
}
