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
// or an anonymous request with FailureReason; ErrorCode and ErrorStatus
// give the code and the HTTP status the default error handler answers.
//
// A refusal leaves the session alive; after an ending the session is over
// and the browser must sign in again; endingAs(parent, ...) is an ending
// for which errors.Is(err, parent) holds as well.
var (
	// ErrNoSession: the route requires a signed-in session and the request
	// has none.
	ErrNoSession = refusal("no_session", http.StatusUnauthorized, "no authenticated session")
	// ErrTokenMismatch: the token cookie does not open the session's record.
	ErrTokenMismatch = refusal("token_mismatch", http.StatusUnauthorized, "token does not match the session")
	// ErrReplay: credentials replaced by a rotation were presented again
	// after the grace window; two parties hold them, the session is revoked.
	ErrReplay = ending("replay", http.StatusUnauthorized, "rotated credentials replayed after the grace period")
	// ErrIPMismatch: the session was used from a network it is not bound to.
	ErrIPMismatch = ending("ip_mismatch", http.StatusUnauthorized, "session used from a network it is not bound to")
	// ErrIdentityMismatch: Config.Identity named another user than the
	// session's.
	ErrIdentityMismatch = ending("identity_mismatch", http.StatusUnauthorized, "session belongs to another user")
	// ErrIdleTimeout: no request for longer than Config.IdleTimeout.
	ErrIdleTimeout = ending("idle_timeout", http.StatusUnauthorized, "session idle for too long")
	// ErrExpired: the session is older than Config.AbsoluteTimeout, or was
	// ended (see ErrEvicted and ErrRevoked).
	ErrExpired = ending("expired", http.StatusUnauthorized, "session expired")
	// ErrReauthRequired: the route's Policy.MaxAuthAge wants a more recent
	// login; Renew after re-entering the password satisfies it.
	ErrReauthRequired = refusal("reauth_required", http.StatusForbidden, "a more recent login is required")
	// ErrTooManySessions: Login refused over Config.MaxSessionsPerUser with
	// Config.RejectExtraLogins.
	ErrTooManySessions = refusal("too_many_sessions", http.StatusForbidden, "too many sessions for this user")
	// ErrStoreUnavailable: the store could not be reached. Nothing was
	// signed out; the client should retry.
	ErrStoreUnavailable = refusal("store_unavailable", http.StatusServiceUnavailable, "session store unavailable")
	// ErrDeviceBindingRequired: the route's Policy.DeviceBound and a
	// session that is not device-bound; also the FailureReason of a bound
	// session's token that expired (DeviceBinding.CookieLifetime) or was
	// superseded past its grace window: the request is anonymous, nothing
	// is revoked (DESIGN.md, "Device-bound sessions").
	ErrDeviceBindingRequired = refusal("device_binding_required", http.StatusForbidden, "this route requires a device-bound session")
	// ErrTLSRequired: the route's Policy.RequireTLS and a plain-HTTP request.
	ErrTLSRequired = refusal("tls_required", http.StatusForbidden, "this route requires HTTPS")
	// ErrStaleCredentials: Save of a session that a login or Renew retired
	// after the request was verified (the write is undone), or Renew on a
	// request that carried the credentials from before a rotation. The
	// browser already holds newer credentials and should retry.
	ErrStaleCredentials = refusal("stale_credentials", http.StatusConflict, "request carried credentials from before a rotation; retry")
	// ErrForeignSession: the session cookie does not belong to the
	// request's token (planted, or tossed in front of the real one by a
	// sibling subdomain), or is a signed-in session presented without its
	// token, or the request's network or identity did not match its
	// session (ErrIPMismatch, ErrIdentityMismatch): the request is
	// anonymous and Save writes nothing.
	ErrForeignSession = refusal("foreign_session", http.StatusUnauthorized, "session cookie belongs to another session")
	// ErrSessionTooLarge: Login, Renew or Save could not save the session:
	// it does not fit the cookie (4096 bytes encoded) or the store's limit.
	// Login and Renew leave nothing behind.
	ErrSessionTooLarge = refusal("session_too_large", http.StatusRequestEntityTooLarge, "session too large to save")
	// ErrSessionNotPersisted: Login on gin-contrib's Redis store with a
	// MaxAge of 0 or less, or a signed-in Save there with MaxAge 0, which
	// boj/redistore deletes instead of saving (the Save deletes nothing).
	// Set sessions.Options{MaxAge: ...} (seconds).
	ErrSessionNotPersisted = refusal("session_not_persisted", http.StatusInternalServerError, "the Redis session store deletes sessions saved with MaxAge <= 0; set a MaxAge")
	// ErrEvicted: signed out because a newer login exceeded
	// MaxSessionsPerUser. errors.Is(ErrEvicted, ErrExpired) holds.
	ErrEvicted = endingAs(ErrExpired, "evicted", http.StatusUnauthorized, "signed out by a newer login")
	// ErrRevoked: signed out by RevokeSession, RevokeUser or RevokeOthers.
	// errors.Is(ErrRevoked, ErrExpired) holds. Where the revoke call was
	// given a RevokeReason, the error FailureReason returns carries it
	// (RevokeReasonOf) and errors.Is(err, ErrRevoked) holds.
	ErrRevoked = endingAs(ErrExpired, "revoked", http.StatusUnauthorized, "session revoked")
	// ErrMisconfigured: ginsecure is not set up on the route, a
	// programming error rather than the visitor's: code "misconfigured",
	// 500. Login, Logout, Renew and Require return one of the errors below
	// that name the mistake; errors.Is(err, ErrMisconfigured) holds for
	// each.
	ErrMisconfigured = refusal("misconfigured", http.StatusInternalServerError, "ginsecure is not set up on this route")
	// ErrNoMiddleware: Login, Logout, Renew or Require ran on a request
	// Middleware had not seen: it is missing, registered after the route
	// (gin's Use applies only to routes registered after it), or placed
	// after the handler in the chain. errors.Is(ErrNoMiddleware,
	// ErrMisconfigured) holds.
	ErrNoMiddleware = misconfiguration("Middleware did not run before this handler: register r.Use(sessions.Sessions(name, store), sec.Middleware()) before the routes")
	// ErrNoSessionsMiddleware: Middleware found no session of
	// gin-contrib's sessions.Sessions in the context, which must run
	// before it. errors.Is(ErrNoSessionsMiddleware, ErrMisconfigured)
	// holds.
	ErrNoSessionsMiddleware = misconfiguration("no gin-contrib session: put sessions.Sessions(name, store) before Middleware")
	// ErrSessionsMany: the application registered sessions.SessionsMany;
	// ginsecure guards the one session of sessions.Sessions(name, store).
	// errors.Is(ErrSessionsMany, ErrMisconfigured) holds.
	ErrSessionsMany = misconfiguration("sessions.SessionsMany is not supported: ginsecure guards the one session of sessions.Sessions(name, store)")
)

// refusal, ending and endingAs build the sentinels above; they return
// error so that go doc shows each sentinel's code, status and message
// rather than a struct literal.
func refusal(code string, status int, msg string) error {
	return &secError{code: code, msg: msg, status: status}
}

func ending(code string, status int, msg string) error {
	return &secError{code: code, msg: msg, status: status}
}

func endingAs(parent error, code string, status int, msg string) error {
	return &secError{code: code, msg: msg, status: status, parent: parent}
}

// misconfiguration is an ErrMisconfigured that names the mistake.
func misconfiguration(msg string) error {
	return &secError{code: "misconfigured", msg: msg, status: http.StatusInternalServerError, parent: ErrMisconfigured}
}

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
// "ip_mismatch", ...), "" for a nil error (so that logging the code of a
// call that succeeded prints nothing), or "unauthorized" for any other
// error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var se *secError
	if errors.As(err, &se) {
		return se.code
	}
	return "unauthorized"
}

// ErrorStatus returns the HTTP status the default handler sends for err:
// http.StatusOK for a nil error, 401 for an error that is not ginsecure's.
func ErrorStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var se *secError
	if errors.As(err, &se) {
		return se.status
	}
	return http.StatusUnauthorized
}
