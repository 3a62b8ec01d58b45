package dbsc

// The session instructions: the JSON a server answers a registration or a
// refresh with, and the JSON that ends a session.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Instructions is the session configuration a registration or a refresh
// answers with (W3C DBSC, "Session instructions"). A refresh answer that is
// JSON must be complete: Chromium deletes a session whose refresh answers
// a partial configuration.
type Instructions struct {
	// SessionID names the session; the browser sends it back in
	// Sec-Secure-Session-Id on every refresh. It is not a secret.
	SessionID string `json:"session_identifier"`
	// RefreshURL is where the browser POSTs refresh proofs.
	RefreshURL string `json:"refresh_url"`
	// Scope is the set of URLs whose requests need the bound cookie.
	Scope Scope `json:"scope"`
	// Credentials are the cookies bound to the session.
	Credentials []Credential `json:"credentials"`
	// AllowedRefreshInitiators lists other hosts whose requests may trigger
	// a refresh; none by default.
	AllowedRefreshInitiators []string `json:"allowed_refresh_initiators,omitempty"`
}

// Scope is the origin (or site) a session covers, narrowed by rules.
type Scope struct {
	// Origin is the scheme, host and port of the registering page.
	Origin string `json:"origin,omitempty"`
	// IncludeSite widens the scope to the whole site. This package always
	// writes false (see NewInstructions): the bound cookies are host-only,
	// and Chromium refuses true on localhost and IP addresses.
	IncludeSite bool `json:"include_site"`
	// Rules include or exclude URL patterns, first match wins.
	Rules []ScopeRule `json:"scope_specification,omitempty"`
}

// ScopeRule includes or excludes a domain and path pattern from a scope.
type ScopeRule struct {
	// Type is "include" or "exclude".
	Type string `json:"type"`
	// Domain is a host pattern; a leading "*." matches subdomains.
	Domain string `json:"domain"`
	// Path is a path prefix.
	Path string `json:"path"`
}

// Credential names one cookie the session keeps fresh.
type Credential struct {
	// Type is always "cookie".
	Type string `json:"type"`
	// Name of the cookie.
	Name string `json:"name"`
	// Attributes as in a Set-Cookie header, limited to those Chromium
	// compares: Domain, Path, Secure, HttpOnly, SameSite (see
	// CookieAttributes).
	Attributes string `json:"attributes"`
}

// CookieAttributes writes the attributes of c a browser matches bound
// cookies by: Domain, Path, Secure, HttpOnly and SameSite, in the form of a
// Set-Cookie header. Max-Age and Expires are left out: Chromium refuses a
// registration whose credentials name them, and the lifetime of a bound
// cookie is the server's to decide. They must be those of the cookie the
// server sets: a SameSite that differs makes Chromium refresh on every
// request.
func CookieAttributes(c *http.Cookie) string {
	var parts []string
	if c.Domain != "" {
		parts = append(parts, "Domain="+c.Domain)
	}
	if c.Path != "" {
		parts = append(parts, "Path="+c.Path)
	}
	if c.Secure {
		parts = append(parts, "Secure")
	}
	if c.HttpOnly {
		parts = append(parts, "HttpOnly")
	}
	switch c.SameSite {
	case http.SameSiteLaxMode:
		parts = append(parts, "SameSite=Lax")
	case http.SameSiteStrictMode:
		parts = append(parts, "SameSite=Strict")
	case http.SameSiteNoneMode:
		parts = append(parts, "SameSite=None")
	}
	return strings.Join(parts, "; ")
}

// NewInstructions returns the instructions for session id, refreshed at
// refreshURL, covering origin (scheme://host[:port], the registering
// page's; another port is refused by Chromium), binding the cookies
// given. The scope never includes the site. It returns ErrInvalidValue for
// an empty id, refresh URL or origin, or no cookie.
func NewInstructions(id, refreshURL, origin string, bound ...*http.Cookie) (Instructions, error) {
	if id == "" || refreshURL == "" || origin == "" || len(bound) == 0 {
		return Instructions{}, fmt.Errorf("%w: instructions need an id, a refresh URL, an origin and a cookie", ErrInvalidValue)
	}
	in := Instructions{
		SessionID:  id,
		RefreshURL: refreshURL,
		Scope:      Scope{Origin: origin, IncludeSite: false},
	}
	for _, c := range bound {
		in.Credentials = append(in.Credentials, Credential{Type: "cookie", Name: c.Name, Attributes: CookieAttributes(c)})
	}
	return in, nil
}

// JSON returns the instructions as the body of a registration or refresh
// answer (Content-Type application/json).
func (in Instructions) JSON() ([]byte, error) {
	return json.Marshal(in)
}

// EndingJSON returns the answer that ends session id at the browser:
// {"session_identifier":"<id>","continue":false}. A server answers it to
// the session's next refresh after any ending (a logout, a revocation, a
// record that is gone); Chromium then deletes its session, also when the
// refresh carried no proof.
func EndingJSON(id string) []byte {
	b, _ := json.Marshal(struct {
		SessionID string `json:"session_identifier"`
		Continue  bool   `json:"continue"`
	}{id, false}) // a string and a bool always marshal
	return b
}
