package ginsecure

// Device-bound sessions in the lifecycle (DESIGN.md, "Device-bound
// sessions"): which tokens of a bound record still work, how long its
// token cookie lives, and that only the device's proof rotates it.

import (
	"time"

	"github.com/ginsecure/ginsecure/storeext"
)

// boundRefused decides a token of a bound record that the rules for
// ordinary records would serve, send a newer token, reissue or call a
// replay (v): on a bound record the current token lives
// DeviceBinding.CookieLifetime from its issue, and a superseded one that
// would be reissued or is past its window is a copy used without the
// device's key. Either is refused with ErrDeviceBindingRequired as the
// FailureReason (anonymous; 403 on routes that need a user), an event,
// and no revocation: the device holding the key keeps its session, and a
// thief's stale copy cannot end it (the exception to the replay rule,
// DESIGN.md "Superseded credentials").
//
// issued is when the presented token was minted (tokenIssuedAt): a
// superseded token past its own life is refused like the current one, or
// a copy would outlive its life while the device's refresh is unconfirmed
// or within the window it opens.
func (g *Guard) boundRefused(st *reqState, rec *storeext.Record, v supVerdict, issued, now time.Time) bool {
	if !g.rotatesByProof(rec) {
		return false
	}
	detail := "bound token past its life"
	switch v {
	case supReissue, supReplay:
		detail = "superseded bound token past its window"
	default:
		if !atLeast(now, issued, g.device.lifetime) {
			return false // within its life: current, within its window, or a late response the device never presented
		}
	}
	// Nothing of the record is the request's: not even Logout acts on it
	// (logout.go, signingOut), or a stale copy could end the device's
	// session.
	st.failure, st.tokRec = ErrDeviceBindingRequired, nil
	st.note(Event{Kind: EventDeviceTokenRefused, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
	return true
}

// rotatesByProof reports whether rec is device-bound while device binding
// is on: its token then changes only at a refresh the device signed, and
// lives DeviceBinding.CookieLifetime. With device binding turned off a
// bound record is served as any other.
func (g *Guard) rotatesByProof(rec *storeext.Record) bool {
	return g.device != nil && rec.Device.Bound()
}

// boundTokenMaxAge caps a bound record's token cookie at what is left of
// its life, so that the browser refreshes it in time: a browser-session
// cookie (0) or a longer lifetime becomes what is left.
func (g *Guard) boundTokenMaxAge(unbound int, rec *storeext.Record) int {
	left := g.boundMaxAge(rec, g.now())
	if unbound > 0 && unbound < left {
		return unbound
	}
	return left
}

// tokenIssuedAt is when the token rec.History[i] was minted: by the
// rotation that superseded the entry after it (History is newest first);
// the oldest entry kept was minted at the record's creation at the
// earliest, which is taken (a bound token's life is never counted longer
// than it was).
func tokenIssuedAt(rec *storeext.Record, i int) time.Time {
	if i+1 < len(rec.History) {
		return rec.History[i+1].At
	}
	return rec.CreatedAt
}
