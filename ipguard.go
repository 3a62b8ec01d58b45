package ginsecure

// Client IP resolution, masks and IP policies.

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

type ipMode uint8

const (
	ipPrefix ipMode = iota // also IPExact, with full-length prefixes
	ipOff
)

// IPPolicy decides from which addresses a session may be used, compared
// with the address it was bound to at login. Build one with IPOff, IPExact,
// IPPrefix or IPAllow. The zero value means "the default" in Config (a /32
// or /64 prefix) and "no extra check" in Policy.
//
// A session bound to an IPv4 address is refused from IPv6 and the other
// way round (ErrIPMismatch), but such a request never revokes the session,
// even without KeepSessionOnIPMismatch: on a dual-stack network a browser
// picks the family per connection (Happy Eyeballs, RFC 8305) and one
// laptop legitimately shows up under both, so a change of family is not
// evidence that the cookies were stolen. There is no prefix to compare
// across families, so the request itself cannot be served.
type IPPolicy struct {
	set    bool
	mode   ipMode
	v4, v6 int
	allow  []netip.Prefix
	err    error
}

// IPOff disables IP binding.
func IPOff() IPPolicy { return IPPolicy{set: true, mode: ipOff} }

// IPExact allows only the very address the session was bound to.
func IPExact() IPPolicy { return IPPrefix(32, 128) }

// IPPrefix allows addresses in the same IPv4 /v4Bits or IPv6 /v6Bits
// network as the bound one. IPv6 privacy addresses change inside a /64, so
// 64 is the tightest useful IPv6 value for most users.
func IPPrefix(v4Bits, v6Bits int) IPPolicy {
	p := IPPolicy{set: true, mode: ipPrefix, v4: v4Bits, v6: v6Bits}
	if v4Bits < 0 || v4Bits > 32 || v6Bits < 0 || v6Bits > 128 {
		p.err = fmt.Errorf("IPPrefix(%d, %d): bits must be 0-32 and 0-128", v4Bits, v6Bits)
	}
	return p
}

// IPAllow is the default prefix policy plus networks whose requests skip
// the check (an office, a VPN egress). Combine with another policy through
// its Allow method.
func IPAllow(cidrs ...string) IPPolicy { return IPPrefix(32, 64).Allow(cidrs...) }

// Allow returns p with requests from cidrs exempt from the check. An
// invalid CIDR makes New (or Require) report it.
func (p IPPolicy) Allow(cidrs ...string) IPPolicy {
	out := p
	out.allow = append([]netip.Prefix(nil), p.allow...)
	for _, s := range cidrs {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			if out.err == nil {
				out.err = fmt.Errorf("IPAllow: %q: %w", s, err)
			}
			continue
		}
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			// Client addresses are unmapped (parseIP), so an IPv4-mapped
			// network must be too, or it would never match.
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		out.allow = append(out.allow, pfx.Masked())
	}
	return out
}

// String describes the policy for logs and errors.
func (p IPPolicy) String() string {
	switch {
	case !p.set:
		return "default"
	case p.mode == ipOff:
		return "off"
	case p.v4 == 32 && p.v6 == 128 && len(p.allow) == 0:
		return "exact"
	default:
		return fmt.Sprintf("prefix /%d /%d, %d allowed networks", p.v4, p.v6, len(p.allow))
	}
}

// permits reports whether a session bound to bound may be used from
// client under p.
func (p IPPolicy) permits(bound, client netip.Addr) bool {
	if !p.set || p.mode == ipOff {
		return true
	}
	for _, a := range p.allow {
		if client.IsValid() && a.Contains(client) {
			return true
		}
	}
	if !bound.IsValid() || !client.IsValid() {
		// Both unknown (a unix socket listener) is the same situation as at
		// login; one unknown is not.
		return bound.IsValid() == client.IsValid()
	}
	if bound.Is4() != client.Is4() {
		return false
	}
	bits := p.v6
	if bound.Is4() {
		bits = p.v4
	}
	bp, err1 := bound.Prefix(bits)
	cp, err2 := client.Prefix(bits)
	return err1 == nil && err2 == nil && bp == cp
}

// parseIP parses an address as the client's, unmapping IPv4-mapped IPv6
// so that ::ffff:192.0.2.1 and 192.0.2.1 are one client. Zones are
// dropped: they name an interface, not a client.
func parseIP(s string) netip.Addr {
	if len(s) > 64 {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// clientIP is the request's client address: the TCP peer, unless the
// config trusts proxy headers, in which case gin's ClientIP (which honours
// the engine's trusted proxies) decides.
func (g *Guard) clientIP(c *gin.Context) netip.Addr {
	return parseIP(g.clientIPText(c))
}

// clientIPText is the client address as gin reports it, unparsed.
func (g *Guard) clientIPText(c *gin.Context) string {
	if g.cfg.TrustProxyHeaders {
		g.proxyCheck.Do(func() { g.warnTrustAll(c) })
		return c.ClientIP()
	}
	return c.RemoteIP()
}

// warnTrustAll warns once, loudly, when proxy headers are trusted while the
// engine still trusts every peer (gin's default): any client could then
// choose its IP with X-Forwarded-For. It asks gin, on a probe request from
// a documentation address, whether that address's header would be believed.
func (g *Guard) warnTrustAll(c *gin.Context) {
	probe := c.Copy()
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		return
	}
	req.RemoteAddr = "192.0.2.1:1" // TEST-NET-1: no real proxy lives there
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	req.Header.Set("X-Real-IP", "198.51.100.7")
	probe.Request = req
	if probe.ClientIP() == "198.51.100.7" {
		g.log.Error("ginsecure: TrustProxyHeaders is on but the gin engine trusts every proxy: any client can choose its IP with X-Forwarded-For, and IP binding protects nothing. Call engine.SetTrustedProxies with your proxies' addresses.")
	}
}

// checkIP enforces policy on the request's session. A mismatch refuses the
// request with ErrIPMismatch and, unless KeepSessionOnIPMismatch, revokes
// the session: its cookies are being used from somewhere else.
func (g *Guard) checkIP(c *gin.Context, st *reqState, policy *IPPolicy, route bool) error {
	if !policy.set || policy.mode == ipOff {
		return nil
	}
	if !g.cfg.TrustProxyHeaders && peerIs(c.Request.RemoteAddr, st.rec.IP) {
		// The very address of the login: every policy permits it, and
		// the common request skips splitting the address and two parses.
		return nil
	}
	text := g.clientIPText(c)
	if text != "" && text == st.rec.IP {
		return nil
	}
	client := parseIP(text)
	bound := parseIP(st.rec.IP)
	if policy.permits(bound, client) {
		return nil
	}
	st.authed = false
	detail := "bound " + bound.String() + ", request from " + client.String() + " (policy " + policy.String() + ")"
	if !g.cfg.TrustProxyHeaders && client.IsPrivate() {
		detail += "; the peer is a private address: behind a proxy, set TrustProxyHeaders and engine.SetTrustedProxies"
	}
	// Only the address family changed (IPv4 to IPv6 or back): a dual-stack
	// client's normal behaviour, not proof of theft (see IPPolicy).
	familyOnly := bound.IsValid() && client.IsValid() && bound.Is4() != client.Is4()
	if familyOnly {
		detail += "; only the address family changed (dual stack, Happy Eyeballs): request refused, session kept"
	}
	// A route group's stricter policy only refuses: the global policy
	// already accepted the network, so the session is not suspect, only
	// not close enough for this route (an IPv6 privacy address that moved
	// inside the /64 must not cost the whole session).
	keep := g.cfg.KeepSessionOnIPMismatch || route || familyOnly
	if !keep {
		g.markRevoked(c, st.rec, RevokedIP)
	}
	g.emit(c, Event{Kind: EventIPMismatch, UserID: st.rec.UserID, Handle: st.rec.Handle, IP: client.String(), BoundIP: bound.String(), Detail: detail})
	if keep {
		return errIPRefused
	}
	return ErrIPMismatch
}

// peerIs reports whether addr, a RemoteAddr ("host:port", "[host]:port"),
// names exactly ip, with no allocation and no parse. It answers true only
// where net.SplitHostPort(addr) would give host ip (FuzzPeerIs holds it to
// that); anything odd falls through to the full check.
func peerIs(addr, ip string) bool {
	n := len(ip)
	if n == 0 {
		return false
	}
	for i := 0; i < n; i++ {
		if !ipTextByte[ip[i]] {
			return false // not the text form of an address (the record's always is)
		}
	}
	var port string
	switch {
	case strings.IndexByte(ip, ':') < 0: // IPv4
		if len(addr) <= n || addr[:n] != ip || addr[n] != ':' {
			return false
		}
		port = addr[n+1:]
	default: // IPv6, always bracketed
		if len(addr) <= n+2 || addr[0] != '[' || addr[1:n+1] != ip || addr[n+1] != ']' || addr[n+2] != ':' {
			return false
		}
		port = addr[n+3:]
	}
	for i := 0; i < len(port); i++ {
		if b := port[i]; b == ':' || b == '[' || b == ']' {
			return false
		}
	}
	return true
}

// ipTextByte marks the bytes of an address's text form.
var ipTextByte = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF.:" {
		t[c] = true
	}
	return t
}()

// errIPRefused is ErrIPMismatch when the session is kept: the request is
// refused, the browser keeps its cookies.
var errIPRefused error = &secError{code: "ip_mismatch", msg: "request from a network the session is not bound to", status: 401, parent: ErrIPMismatch}

// secureTransport reports whether the request reached us over TLS: its own
// connection, or, with TrustProxyHeaders, X-Forwarded-Proto: https from a
// peer the engine trusts as a proxy (gin then took the client IP from the
// proxy's header, so ClientIP differs from the TCP peer).
func (g *Guard) secureTransport(c *gin.Context) bool {
	if c.Request.TLS != nil {
		return true
	}
	if !g.cfg.TrustProxyHeaders || !strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https") {
		return false
	}
	return c.ClientIP() != c.RemoteIP()
}
