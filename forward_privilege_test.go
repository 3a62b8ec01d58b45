package ginsecure_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestForwardedRenewAnswerKeepsItsOwnAuthentication: a Renew's answer
// that the browser applies only after a later Renew and a re-login of the
// same user replaced the record is forwarded to the login's record at the
// first Renew's own authentication, not the later ones': a MaxAuthAge
// route refuses it (DESIGN.md, "Superseded credentials": a late response
// is served at the lower of its privilege and the current one). Found by
// the simulation (memstore/1 seed 2058831404683920047).
func TestForwardedRenewAnswerKeepsItsOwnAuthentication(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("bob")
		late := e.send(http.MethodPost, "/renew", b.header()) // its answer is held back
		if late.status != http.StatusOK {
			t.Fatalf("POST /renew: %d %v", late.status, late.body)
		}
		e.clock.Advance(16 * time.Minute)
		if r := b.post("/renew"); r.status != http.StatusOK || r.user() != "bob" {
			t.Fatalf("second POST /renew: %d %v", r.status, r.body)
		}
		b.login("bob")
		if r := b.get("/admin"); r.status != http.StatusOK {
			t.Fatalf("/admin right after the re-login: %d %v; want 200", r.status, r.body)
		}
		b.apply(late) // the first Renew's answer lands last
		if r := b.get("/admin"); r.status == http.StatusOK {
			t.Errorf("/admin with the first Renew's token, authenticated 16 minutes ago (MaxAuthAge 10m): 200 %v; want a refusal", r.body)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "bob" {
			t.Errorf("/me after the late answer: %d %v; want bob, still signed in", r.status, r.body)
		}
	})
}
