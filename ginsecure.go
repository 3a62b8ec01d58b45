// Package ginsecure hardens the sessions of github.com/gin-contrib/sessions
// the way enterprise application servers harden theirs: the session ID is
// regenerated on login (fixation), every session is bound to the network it
// was signed in from and to one user, credentials rotate with a grace window
// that parallel requests can neither be refused by nor log the user out
// through, and a user's sessions can be listed, limited and revoked on every
// server sharing the store.
//
// One line after the sessions middleware turns it on:
//
//	sec, err := ginsecure.New(ginsecure.Config{})
//	r.Use(sessions.Sessions("app", store), sec.Middleware())
//
// Then call Login after checking a password, Logout to sign out, and guard
// route groups with sec.Require(ginsecure.Policy{Authenticated: true}).
//
// DESIGN.md, at the root of the repository, is the design: the two cookies
// and the security record, the states a session goes through, what every
// request is served as, and why.
package ginsecure

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// DefaultCookieName is the token cookie's name. The __Host- prefix makes
// browsers refuse the cookie unless it is Secure, has Path=/ and no Domain,
// so a sibling subdomain cannot plant or overwrite it.
const DefaultCookieName = "__Host-ginsecure"

// Defaults of the zero Config.
const (
	DefaultGracePeriod     = 2 * time.Second // SAP NetWeaver's default
	DefaultRotateEvery     = 15 * time.Minute
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultTouchInterval   = time.Minute
)

// Config configures a Guard. The zero value is valid and safe: every zero
// field takes the default its comment names.
type Config struct {
	// Store keeps the security records (the contract is storeext.Store's).
	// Default: NewMemoryStore(), which is for one server; use
	// redisstore.New for several.
	Store storeext.Store

	// CookieName names the token cookie. Default "__Host-ginsecure". Give
	// each app on one host its own name; keep the __Host- prefix.
	CookieName string

	// GracePeriod is how long, after credentials rotate, requests that still
	// present the old ones are served (with at most their old privilege)
	// instead of refused. Default 2s; negative disables the window, so every
	// old credential is a replay at once.
	GracePeriod time.Duration

	// RotateEvery rotates the token of an authenticated session on ordinary
	// traffic this often. Default 15m; negative disables periodic rotation.
	RotateEvery time.Duration

	// IdleTimeout signs a session out after this long without requests.
	// Default 30m. Activity is recorded at most once per TouchInterval, so
	// a session may end up to TouchInterval early, never late.
	IdleTimeout time.Duration

	// AbsoluteTimeout signs a session out this long after login, however
	// active. Default 12h.
	AbsoluteTimeout time.Duration

	// TouchInterval is the most often last-seen is written to the store for
	// one session. Default 1m.
	TouchInterval time.Duration

	// IPBinding decides from which addresses a session may be used. The
	// zero value is IPPrefix(32, 64): the login's IPv4 address, or its IPv6
	// /64 (privacy addresses change inside it). IPOff() disables binding.
	IPBinding IPPolicy

	// KeepSessionOnIPMismatch keeps the session when a request comes from
	// the wrong network, instead of revoking it (the default). Either way
	// that request is anonymous: served with an empty stand-in session, or
	// answered 401 ErrIPMismatch on routes that Require authentication;
	// a login from it works.
	KeepSessionOnIPMismatch bool

	// TrustProxyHeaders takes the client IP from X-Forwarded-For and
	// friends through gin's c.ClientIP(), which honours the engine's
	// SetTrustedProxies. Off by default: gin trusts every peer's headers
	// unless told otherwise, and any client could then pick its IP. The
	// engine's TrustedPlatform header, which gin believes from any peer,
	// counts here only from a trusted proxy; so does X-Forwarded-Proto
	// for Policy.RequireTLS. Off, a login that arrives with such a header
	// (the app is behind a proxy) logs a warning once.
	TrustProxyHeaders bool

	// MaxSessionsPerUser limits a user's concurrent sessions; 0 means no
	// limit. A session counts from its first presentation (the first
	// request that presents its token, UnpresentedAge): by default that
	// request, over the limit, signs out the user's least recently used
	// other session. A login whose response no request follows (the
	// dropped response of a double submit) counts toward nothing and ends
	// after UnpresentedAge (DESIGN.md, "Cookieless sign-in").
	MaxSessionsPerUser int

	// RejectExtraLogins makes a login fail with ErrTooManySessions when
	// the user has MaxSessionsPerUser sessions (presented ones) instead of
	// signing out the least recently used. Where two logins raced for the
	// last slot, the later first request is refused (ErrTooManySessions,
	// anonymous with an empty stand-in) and its sign-in ended.
	RejectExtraLogins bool

	// Identity connects another authentication layer (Basic auth, a JWT, an
	// SSO header). When it names a user who is not the session's user, the
	// session is revoked and the request is anonymous (ErrIdentityMismatch:
	// 401 on routes that Require authentication).
	// With gin.BasicAuth: func(c *gin.Context) (string, bool) {
	// return c.GetString(gin.AuthUserKey), c.GetString(gin.AuthUserKey) != "" }.
	// It is asked in Middleware and again in every Require: an auth layer
	// that runs per route group (gin.BasicAuth on a group) is only seen by
	// a Require placed after it in that group. Feed it only credentials a
	// cross-site request cannot choose (not a query parameter): a mismatch
	// revokes the session.
	Identity func(c *gin.Context) (userID string, ok bool)

	// ErrorHandler answers refused requests. Default: JSON
	// {"error": "<code>"} with 401, 403 for policy refusals, 500
	// (ErrMisconfigured) where ginsecure is not set up on the route, 503
	// (with Retry-After) when the store is unreachable. No cookie is
	// expired on a refusal (DESIGN.md, "Cookie writes"). The Guard calls
	// c.Abort() after it in every case.
	ErrorHandler func(c *gin.Context, err error)

	// CarryOver decides which values of an anonymous session a login
	// replaces are carried into the new session (and, on the cookie store,
	// which values of a healed anonymous predecessor are adopted). Default
	// nil: every value, as HCL Commerce migrates a guest's cart. Return
	// false for values an attacker who planted the pre-login session could
	// have chosen and the signed-in session must not trust, such as a CSRF
	// secret. It is not asked about other sessions: a login over the same
	// user's own session carries all of it, and a login over a session that
	// belonged to another user (signed in, ended, revoked or replaced)
	// starts empty (DESIGN.md, "Carry-over").
	CarryOver func(key, value any) bool

	// DeviceBinding binds sessions to a key on the device, in browsers that
	// support W3C Device Bound Session Credentials (DBSC). Off by default;
	// see DeviceBinding.
	DeviceBinding DeviceBinding

	// OnEvent receives every security event, after it is logged.
	OnEvent func(Event)

	// Logger receives security events. Default slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default time.Now; tests move it.
	Now func() time.Time
}

// Guard is the configured middleware. Create it with New; it is safe for
// concurrent use.
type Guard struct {
	cfg   Config
	store storeext.Store
	// shared is the store when it hands out records without a copy (the
	// embedded memory store: sharedReader), read so on the hot path (see
	// view); nil for any other store.
	shared sharedReader
	now    func() time.Time
	log    *slog.Logger

	proxyCheck  sync.Once
	cookieCheck sync.Once
	peerCheck   sync.Once // the warning for a listener whose peers have no IP (unix socket)

	mismatches mismatchLog // when a mismatch event last fired, per record and network

	// proxyHint is how far the warning about proxy headers while
	// TrustProxyHeaders is off has got: a proxyHint (ipguard.go).
	proxyHint atomic.Uint32

	// The error logs for a route where ginsecure is not set up (setup.go):
	// Middleware without a session of sessions.Sessions, Require without
	// Middleware.
	sessionsCheck, requireCheck sync.Once

	// Sessions read and saved together with the records (session_shared.go):
	// decided at the first session loaded.
	redisLearned  atomic.Bool
	redisSessions atomic.Pointer[sharedSessions]

	// The first session store the Guard saw: where an ending without a
	// request (RevokeUser) deletes the session's data (binding.go).
	sessionsSeen atomic.Pointer[sessionRef]

	// device is the device binding (dbsc.go); nil while it is off.
	device *deviceBinder

	// keys is the curve of new tokens' keys (tokenkey.go, keysFor).
	keys *tokenCurve
}

// New validates cfg, fills in its defaults and returns a Guard. The error
// names the field that is wrong.
func New(cfg Config) (*Guard, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if !cfg.IPBinding.set {
		cfg.IPBinding = IPPrefix(32, 64)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cu, ok := cfg.Store.(storeext.ClockUser); ok {
		cu.UseClock(cfg.Now)
	}
	handLogger(cfg.Store, cfg.Logger) // store_logger.go
	g := &Guard{cfg: cfg, store: cfg.Store, now: cfg.Now, log: cfg.Logger}
	g.shared, _ = cfg.Store.(sharedReader)
	g.device = newDeviceBinder(&g.cfg)
	g.keys = keysFor(cfg.Store)
	return g, nil
}

// fillDefaults puts the default in every zero field that has one and that
// validate checks.
func (cfg *Config) fillDefaults() {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.RotateEvery == 0 {
		cfg.RotateEvery = DefaultRotateEvery
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = DefaultTouchInterval
	}
	cfg.DeviceBinding.fillDefaults(cfg.Store) // dbsc_config.go
}

// validate names the first field of cfg (its defaults filled in) that is
// wrong.
func (cfg *Config) validate() error {
	if err := validCookieName(cfg.CookieName); err != nil {
		return fmt.Errorf("ginsecure: Config.CookieName: %w", err)
	}
	switch {
	case cfg.IdleTimeout < 0:
		return errors.New("ginsecure: Config.IdleTimeout: must not be negative")
	case cfg.AbsoluteTimeout < 0:
		return errors.New("ginsecure: Config.AbsoluteTimeout: must not be negative")
	case cfg.TouchInterval < 0:
		return errors.New("ginsecure: Config.TouchInterval: must not be negative")
	case cfg.TouchInterval >= cfg.IdleTimeout:
		return fmt.Errorf("ginsecure: Config.TouchInterval: %v must be shorter than IdleTimeout %v, or sessions would time out while in use", cfg.TouchInterval, cfg.IdleTimeout)
	case cfg.IdleTimeout > cfg.AbsoluteTimeout:
		return fmt.Errorf("ginsecure: Config.IdleTimeout: %v is longer than AbsoluteTimeout %v", cfg.IdleTimeout, cfg.AbsoluteTimeout)
	case cfg.GracePeriod > 0 && cfg.RotateEvery > 0 && cfg.GracePeriod >= cfg.RotateEvery:
		return fmt.Errorf("ginsecure: Config.GracePeriod: %v must be shorter than RotateEvery %v, or old tokens would never die", cfg.GracePeriod, cfg.RotateEvery)
	case cfg.GracePeriod > time.Minute:
		return fmt.Errorf("ginsecure: Config.GracePeriod: %v is over a minute; a grace window only needs to cover requests in flight", cfg.GracePeriod)
	case cfg.MaxSessionsPerUser < 0:
		return errors.New("ginsecure: Config.MaxSessionsPerUser: must not be negative (0 means no limit)")
	case cfg.RejectExtraLogins && cfg.MaxSessionsPerUser == 0:
		return errors.New("ginsecure: Config.RejectExtraLogins: needs MaxSessionsPerUser > 0")
	}
	if err := cfg.IPBinding.err; err != nil {
		return fmt.Errorf("ginsecure: Config.IPBinding: %w", err)
	}
	return cfg.DeviceBinding.validate(cfg.AbsoluteTimeout)
}

func validCookieName(name string) error {
	if len(name) > 128 {
		return errors.New("longer than 128 bytes")
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch <= ' ' || ch >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", ch) >= 0 {
			return fmt.Errorf("%q is not a valid cookie name", name)
		}
	}
	return nil
}

// warnWeakSessionCookie warns once when the gin-contrib store's cookie
// options are weak. New cannot see the store (it is handed to
// sessions.Sessions, not to ginsecure), so the first request that carries a
// session does the check.
func (g *Guard) warnWeakSessionCookie(gs *gsessions.Session) {
	opts := gs.Options
	if opts == nil {
		return
	}
	g.cookieCheck.Do(func() {
		g.warnShortCookieStore(gs) // lifetime.go
		if g.checkSessionStore(gs) != nil {
			g.log.Error("ginsecure: the Redis session store (boj/redistore) deletes every session saved with MaxAge <= 0, so logins cannot last; set store.Options(sessions.Options{MaxAge: 86400 * 7, ...}) (seconds)")
		}
		var weak []string
		if !opts.Secure {
			weak = append(weak, "Secure is off (the session cookie travels over plain HTTP)")
		}
		if !opts.HttpOnly {
			weak = append(weak, "HttpOnly is off (scripts can read the session cookie)")
		}
		if opts.Domain != "" {
			weak = append(weak, "Domain is set (sibling subdomains receive and can overwrite the cookie)")
		}
		if opts.SameSite == http.SameSiteNoneMode {
			weak = append(weak, "SameSite=None (sent on cross-site requests)")
		}
		if len(weak) > 0 {
			g.log.Warn("ginsecure: the gin-contrib session store's cookie options are weak; set them with store.Options(sessions.Options{Path: \"/\", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})",
				"problems", strings.Join(weak, "; "))
		}
	})
}
