package ginsecure

// Revocation reasons: who signed a session out through RevokeSession,
// RevokeUser or RevokeOthers, kept in the record's ending and told to the
// browser that held the session at its next request.

import (
	"errors"
	"github.com/ginsecure/ginsecure/storeext"
	"net/http"
	"strings"
)

// RevokeReason says who or why a session was signed out through
// RevokeSession, RevokeUser or RevokeOthers, which take it as an optional
// last argument. It is kept in the revoked record (storeext.Record.Revoked
// is "revoked:" and the reason), so the browser that held the session
// learns it at its next request, on any server: FailureReason's error
// carries it (RevokeReasonOf reads it back), the default error handler
// answers {"error":"revoked","reason":"<reason>"}, and EventRevoke carries
// it in Event.Reason. A revoke call without a reason stores "revoked"
// alone and answers {"error":"revoked"}, as before reasons existed.
//
// The constants below name the usual cases; an application may use its
// own ("account_locked"): 1 to 32 bytes of a-z, 0-9 and '_', else the
// revoke call returns ErrInvalidRevokeReason and ends nothing.
type RevokeReason string

// Revocation reasons for the usual cases.
const (
	// ReasonOtherDevice: the user signed this session out from another of
	// their own sessions (a "your sessions" page: RevokeSession, or
	// RevokeOthers from the device that stays).
	ReasonOtherDevice RevokeReason = "other_device"
	// ReasonAdmin: an administrator signed the session out (RevokeUser of
	// a locked account, RevokeSession from a console).
	ReasonAdmin RevokeReason = "admin"
	// ReasonSelf: the user signed out every session, the one asking
	// included ("sign out everywhere": RevokeUser from the user's own
	// request).
	ReasonSelf RevokeReason = "self"
	// ReasonPasswordChange: the account's password changed
	// (RevokeOthers after the change, or RevokeUser after a reset).
	ReasonPasswordChange RevokeReason = "password_changed"
)

// maxReasonLen is the longest RevokeReason, in bytes.
const maxReasonLen = 32

// ErrInvalidRevokeReason is returned by RevokeSession, RevokeUser and
// RevokeOthers, which end nothing, for a RevokeReason that is not 1 to 32
// bytes of a-z, 0-9 and '_', or for more than one reason. A programming
// error of the caller: code "invalid_revoke_reason", 400.
var ErrInvalidRevokeReason = refusal("invalid_revoke_reason", http.StatusBadRequest, "a revoke reason is 1 to 32 bytes of a-z, 0-9 and _, at most one per call")

// revokedAs is the Record.Revoked value of a revoke call given reasons:
// RevokedByUser alone without one, else RevokedByUser:reason.
func revokedAs(reasons []RevokeReason) (string, error) {
	switch {
	case len(reasons) == 0:
		return storeext.RevokedByUser, nil
	case len(reasons) > 1 || !validReason(reasons[0]):
		return "", ErrInvalidRevokeReason
	}
	return storeext.RevokedByUser + ":" + string(reasons[0]), nil
}

func validReason(r RevokeReason) bool {
	if r == "" || len(r) > maxReasonLen {
		return false
	}
	for _, b := range []byte(r) {
		if (b < 'a' || b > 'z') && (b < '0' || b > '9') && b != '_' {
			return false
		}
	}
	return true
}

// reasonOfRecord is the RevokeReason a revoke call stored in
// Record.Revoked, or "" (none given, or another ending).
func reasonOfRecord(revoked string) RevokeReason {
	r, ok := strings.CutPrefix(revoked, storeext.RevokedByUser+":")
	if !ok || !validReason(RevokeReason(r)) {
		return ""
	}
	return RevokeReason(r)
}

// revokedError is ErrRevoked with the reason its revoke call was given.
type revokedError struct{ reason RevokeReason }

func (e *revokedError) Error() string { return ErrRevoked.Error() + ": " + string(e.reason) }
func (e *revokedError) Unwrap() error { return ErrRevoked }

// revokedWith is ErrRevoked, carrying the reason when the record has one.
func revokedWith(revoked string) error {
	if r := reasonOfRecord(revoked); r != "" {
		return &revokedError{reason: r}
	}
	return ErrRevoked
}

// RevokeReasonOf returns the RevokeReason of err, an ErrRevoked that
// FailureReason or a refusal gave, or "" when err is no revocation or its
// revoke call was given no reason.
func RevokeReasonOf(err error) RevokeReason {
	var re *revokedError
	if errors.As(err, &re) {
		return re.reason
	}
	return ""
}
