package ginsecure_test

import (
	"net/http"
	"testing"
	"time"
)

// TestReplayOfAReplacedRecordEndsNothing: a thief's copy rotates the
// record (a periodic rotation) while the browser's login, verified with
// the token before it, is held; the login then replaces the record. The
// browser's own older token, back after its window, is a replay, but the
// record it names is replaced already: it is refused and ends nothing
// (DESIGN.md, "Outcomes", the replaced rows). The successor lives: the
// browser signed in by its login's response stays signed in, and the
// thief's presented rotation token, within the login's window, is
// forwarded to the successor ("Superseded credentials", a periodic
// rotation's token that a login of the same browser replaced).
func TestReplayOfAReplacedRecordEndsNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		var e *env
		e = newEnv(t, kind, graceConfig(graceWindow), withHeldLogin(&e))
		b := e.browser()
		b.login("alice")
		e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
		login := holdLogin(t, e, "l", "alice", b.header())
		thief := b.clone()
		if r := thief.get("/me"); r.status != http.StatusOK || r.user() != "alice" || !hasCookie(r.cookies, graceTokenCookie) {
			t.Fatalf("the thief's periodic rotation: %d %v", r.status, r.body)
		}
		if r := thief.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the thief on its rotated token: %d %v", r.status, r.body)
		}
		e.clock.Advance(time.Minute) // the browser's token is past its window
		lr := login()
		if lr.status != http.StatusOK {
			t.Fatalf("held login: %d %v", lr.status, lr.body)
		}
		// The login's answer is still on its way: the browser presents its
		// older token, a replay of the replaced record.
		if r := b.get("/cart"); r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "replay" {
			t.Fatalf("the browser's older token after its window: %d %v; want anonymous, reason replay", r.status, r.body)
		}
		if r := thief.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("the thief's rotation token within the login's window: %d %v; want forwarded to the successor", r.status, r.body)
		}
		b.apply(lr)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("the browser on its login's token after the replay: %d %v; want alice (the replay ended nothing)", r.status, r.body)
		}
	})
}
