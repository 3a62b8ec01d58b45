package ginsecure

// Sentinel errors, their codes and HTTP statuses.

import (
	"errors"
	"net/http"
)

// secError is a sentinel error with its JSON code and HTTP status.
type secError struct {
	code   string
	msg    string
	status int
	parent error // errors.Is(e, parent) holds: ErrEvicted is an ErrExpired
}

func (e *secError) Error() string        { return "ginsecure: " + e.msg }
func (e *secError) Is(target error) bool { return e.parent != nil && target == e.parent }

// Code is the short machine-readable code the default error handler sends
// as {"error": code}.
func (e *secError) Code() string { return e.code }

// The sentinel errors. Test with errors.Is; read the reason for a refusal
// or an anonymous request with FailureReason.
var (
	ErrNoSession        error = &secError{code: "no_session", msg: "no authenticated session", status: http.StatusUnauthorized}
	ErrTokenMismatch    error = &secError{code: "token_mismatch", msg: "token does not match the session", status: http.StatusUnauthorized}
	ErrReplay           error = &secError{code: "replay", msg: "rotated credentials replayed after the grace period", status: http.StatusUnauthorized}
	ErrIPMismatch       error = &secError{code: "ip_mismatch", msg: "session used from a network it is not bound to", status: http.StatusUnauthorized}
	ErrIdentityMismatch error = &secError{code: "identity_mismatch", msg: "session belongs to another user", status: http.StatusUnauthorized}
	ErrIdleTimeout      error = &secError{code: "idle_timeout", msg: "session idle for too long", status: http.StatusUnauthorized}
	ErrExpired          error = &secError{code: "expired", msg: "session expired", status: http.StatusUnauthorized}
	ErrReauthRequired   error = &secError{code: "reauth_required", msg: "a more recent login is required", status: http.StatusForbidden}
	ErrTooManySessions  error = &secError{code: "too_many_sessions", msg: "too many sessions for this user", status: http.StatusForbidden}
	ErrStoreUnavailable error = &secError{code: "store_unavailable", msg: "session store unavailable", status: http.StatusServiceUnavailable}
	ErrTLSRequired      error = &secError{code: "tls_required", msg: "this route requires HTTPS", status: http.StatusForbidden}

	// ErrStaleCredentials: Save of a session that a login or Renew retired
	// after the request was verified (the write is undone), or Renew on a
	// request that carried the credentials from before a rotation. The
	// browser already holds newer credentials and should retry.
	ErrStaleCredentials error = &secError{code: "stale_credentials", msg: "request carried credentials from before a rotation; retry", status: http.StatusConflict}

	// ErrForeignSession: Save of a session cookie that does not belong to
	// the request's token (planted, or tossed in front of the real one by a
	// sibling subdomain), or of a signed-in session presented without its
	// token. Nothing was written.
	ErrForeignSession error = &secError{code: "foreign_session", msg: "session cookie belongs to another session", status: http.StatusUnauthorized}

	// ErrSessionTooLarge: Login, Renew or Save could not save the session
	// because it does not fit the cookie (4096 bytes encoded) or the
	// store's limit. Login and Renew leave nothing behind.
	ErrSessionTooLarge error = &secError{code: "session_too_large", msg: "session too large to save", status: http.StatusRequestEntityTooLarge}

	// ErrSessionNotPersisted: Login on gin-contrib's Redis store whose
	// MaxAge is 0 or less: boj/redistore deletes every session saved so.
	// Set sessions.Options{MaxAge: ...} (seconds).
	ErrSessionNotPersisted error = &secError{code: "session_not_persisted", msg: "the Redis session store deletes sessions saved with MaxAge <= 0; set a MaxAge", status: http.StatusInternalServerError}

	// ErrEvicted: signed out because a newer login exceeded
	// MaxSessionsPerUser. errors.Is(ErrEvicted, ErrExpired) holds.
	ErrEvicted error = &secError{code: "evicted", msg: "signed out by a newer login", status: http.StatusUnauthorized, parent: ErrExpired}
	// ErrRevoked: signed out by RevokeSession, RevokeUser or RevokeOthers.
	// errors.Is(ErrRevoked, ErrExpired) holds.
	ErrRevoked error = &secError{code: "revoked", msg: "session revoked", status: http.StatusUnauthorized, parent: ErrExpired}
	// ErrNoMiddleware: Login, Logout or Renew ran without Middleware (or
	// without sessions.Sessions before it).
	ErrNoMiddleware = errors.New("ginsecure: Middleware and sessions.Sessions must run before this handler")
)

// storeErr wraps a store failure so that errors.Is(err, ErrStoreUnavailable)
// holds and the cause stays readable.
func storeErr(err error) error {
	if err == nil || errors.Is(err, ErrStoreUnavailable) {
		return err
	}
	return &wrapped{sentinel: ErrStoreUnavailable, cause: err}
}

type wrapped struct{ sentinel, cause error }

func (w *wrapped) Error() string   { return w.sentinel.Error() + ": " + w.cause.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.sentinel, w.cause} }

// ErrorCode returns the short code of a ginsecure error ("replay",
// "ip_mismatch", ...), or "unauthorized" for any other error.
func ErrorCode(err error) string {
	var se *secError
	if errors.As(err, &se) {
		return se.code
	}
	return "unauthorized"
}

// ErrorStatus returns the HTTP status the default handler sends for err.
func ErrorStatus(err error) int {
	var se *secError
	if errors.As(err, &se) {
		return se.status
	}
	return http.StatusUnauthorized
}
