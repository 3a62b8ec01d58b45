package ginsecure

// Device-bound sessions, the configuration: what Config.DeviceBinding
// says, its defaults and the checks New makes (DESIGN.md, "Device-bound
// sessions").

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ginsecure/ginsecure/internal/dbsc"
	"github.com/ginsecure/ginsecure/storeext"
)

// DeviceAlgorithm is a JWS signature algorithm (RFC 7518) a browser may
// sign its device-binding proofs with.
type DeviceAlgorithm string

// The algorithms DBSC browsers implement (W3C Device Bound Session
// Credentials); Chromium takes the first one of the server's list it
// supports.
const (
	// ES256 is ECDSA on P-256 with SHA-256.
	ES256 DeviceAlgorithm = "ES256"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 bits or more.
	RS256 DeviceAlgorithm = "RS256"
)

// Defaults of DeviceBinding.
const (
	// DefaultDevicePath is the prefix under which Middleware answers the
	// browser's registration (POST <prefix>/register) and refresh (POST
	// <prefix>/refresh) requests. It is not under /.well-known: RFC 8615
	// keeps that for registered names.
	DefaultDevicePath = "/_ginsecure/dbsc"
	// DefaultDeviceCookieLifetime is how long a bound token lives after
	// it is minted. Chromium refreshes a bound cookie only when a request
	// finds it missing or with under 2 minutes left, and by default allows
	// about 5 signatures before it refuses to sign for several minutes:
	// with 10 minutes an active user signs about once every 8 minutes,
	// well under that quota, while a copy of the cookies works on another
	// device for at most 10 minutes.
	DefaultDeviceCookieLifetime = 10 * time.Minute
	// minDeviceCookieLifetime is the shortest CookieLifetime accepted:
	// under Chromium's 2-minute refresh margin every request would sign,
	// and the quota would stop the session within seconds.
	minDeviceCookieLifetime = 3 * time.Minute
)

// DeviceBinding configures device-bound sessions (W3C Device Bound Session
// Credentials, DBSC): a browser that supports them binds its session, at
// sign-in, to a private key that never leaves the device, and the token
// cookie of a bound session lives only CookieLifetime; the browser gets a
// new one by signing a challenge with that key. A copy of the cookies
// stops working on any other device once its token expires. Browsers
// without DBSC, and every session while Enabled is false (the default),
// behave exactly as without it.
type DeviceBinding struct {
	// Enabled offers device binding on every response that mints a token
	// after Login or Renew. Default false.
	Enabled bool
	// Path is the prefix under which Middleware answers registration
	// (Path+"/register") and refresh (Path+"/refresh") POSTs; an absolute,
	// clean path without a trailing slash. Default DefaultDevicePath.
	Path string
	// CookieLifetime is the life of a bound token, counted by the server
	// from the token's issue time (never from a cookie's Max-Age, which a
	// copy of the cookie need not keep); the bound token cookie carries it
	// as Max-Age. At least 3 minutes and at most AbsoluteTimeout. Default
	// DefaultDeviceCookieLifetime (10 minutes).
	CookieLifetime time.Duration
	// Algorithms offered to the browser, in order of preference; only ES256
	// and RS256. Default ES256, RS256.
	Algorithms []DeviceAlgorithm
	// Challenges keeps the outstanding challenges, shared by every server
	// of the deployment. Default: in this process's memory, which is
	// allowed only with the default memory store; with any other Store
	// set it (redisstore.NewChallengeStore).
	Challenges storeext.ChallengeStore
}

// fillDefaults puts the default in every zero field of an enabled
// DeviceBinding; store is the Config's Store, defaults filled in.
func (d *DeviceBinding) fillDefaults(store storeext.Store) {
	if !d.Enabled {
		return
	}
	if d.Path == "" {
		d.Path = DefaultDevicePath
	}
	if d.CookieLifetime == 0 {
		d.CookieLifetime = DefaultDeviceCookieLifetime
	}
	if d.Algorithms == nil {
		d.Algorithms = []DeviceAlgorithm{ES256, RS256}
	}
	if _, mem := store.(*memoryStore); mem && d.Challenges == nil {
		d.Challenges = &dbsc.MemoryChallenges{}
	}
}

// validate names the first field of an enabled DeviceBinding (defaults
// filled in) that is wrong.
func (d *DeviceBinding) validate(absolute time.Duration) error {
	if !d.Enabled {
		return nil
	}
	p := d.Path
	switch {
	case !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" || strings.ContainsAny(p, "?#;\"\\ \t"):
		return fmt.Errorf("ginsecure: Config.DeviceBinding.Path: %q must be an absolute, clean path without a trailing slash, query or quote", p)
	case d.CookieLifetime < minDeviceCookieLifetime:
		return fmt.Errorf("ginsecure: Config.DeviceBinding.CookieLifetime: %v is under %v; Chromium refreshes a bound cookie with under 2 minutes left, so every request would sign", d.CookieLifetime, minDeviceCookieLifetime)
	case d.CookieLifetime > absolute:
		return fmt.Errorf("ginsecure: Config.DeviceBinding.CookieLifetime: %v is longer than AbsoluteTimeout %v", d.CookieLifetime, absolute)
	case len(d.Algorithms) == 0:
		return fmt.Errorf("ginsecure: Config.DeviceBinding.Algorithms: empty; leave it nil for ES256, RS256")
	case d.Challenges == nil:
		return fmt.Errorf("ginsecure: Config.DeviceBinding.Challenges: required with a Store other than the memory store, so that every server sees the challenges (redisstore.NewChallengeStore)")
	}
	seen := map[DeviceAlgorithm]bool{}
	for _, a := range d.Algorithms {
		if (a != ES256 && a != RS256) || seen[a] {
			return fmt.Errorf("ginsecure: Config.DeviceBinding.Algorithms: %q is not ES256 or RS256, or is listed twice", a)
		}
		seen[a] = true
	}
	return nil
}
