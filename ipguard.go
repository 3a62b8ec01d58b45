package ginsecure

// Client IP resolution, masks and IP policies.

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
	lru "github.com/hashicorp/golang-lru/v2"
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
// A request from a network the policy does not permit is anonymous: it is
// served with an empty stand-in session on routes that do not Require
// authentication (the sign-in route among them), and answered 401
// ErrIPMismatch on those that do.
//
// A session bound to an IPv4 address is not the session's from IPv6 and
// the other way round (ErrIPMismatch), but such a request never revokes
// the session, even without KeepSessionOnIPMismatch: on a dual-stack
// network a browser picks the family per connection (Happy Eyeballs, RFC
// 8305) and one laptop legitimately shows up under both, so a change of
// family is not evidence that the cookies were stolen. There is no prefix
// to compare across families, so the request is served anonymous, and a
// login from it replaces the session.
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
// config trusts proxy headers, in which case the address a proxy the
// engine trusts reports (trustedClientIP).
//
// A peer that is not an IP address (a unix socket listener: RemoteAddr
// "@" or empty) gives no address. Login then binds none, and the session
// passes the IP check only on requests that have no address either (the
// same listener); from any IP peer it is refused. IP binding protects
// nothing on such a listener, so the first request warns (warnNoPeerIP).
// Login is not refused: the rest of the protection (fixation, tokens,
// rotation, revocation) still holds, and a proxy on the socket that sends
// X-Forwarded-For gives real addresses with TrustProxyHeaders (gin trusts
// a unix socket peer as a proxy).
func (g *Guard) clientIP(c *gin.Context) netip.Addr {
	return parseIP(g.clientIPText(c))
}

// loginAddr is the address a login binds its record to: the zero Addr
// when the peer has no IP address (see clientIP). A login behind a proxy
// ginsecure does not trust is warned of (warnUntrustedProxy).
func (g *Guard) loginAddr(c *gin.Context) netip.Addr {
	if !g.cfg.TrustProxyHeaders && proxyHint(g.proxyHint.Load()) != hintGiven {
		g.warnUntrustedProxy(c)
	}
	return g.clientIP(c)
}

// clientIPText is the client address, unparsed.
func (g *Guard) clientIPText(c *gin.Context) string {
	ip := ""
	if g.cfg.TrustProxyHeaders {
		g.proxyCheck.Do(func() { g.warnTrustAll(c) })
		ip = trustedClientIP(c)
	} else {
		ip = c.RemoteIP()
	}
	if ip == "" {
		g.peerCheck.Do(func() { g.warnNoPeerIP(c) })
	}
	return ip
}

// warnTrustAll warns once, loudly, when proxy headers are trusted while the
// engine still trusts every peer (gin's default): any client could then
// choose its IP with X-Forwarded-For. It asks gin, on a probe request from
// a documentation address, whether that address's header would be believed.
// It also warns when the engine has a TrustedPlatform header (gin's
// ClientIP returns it from any client, before any proxy check): ginsecure
// honours it only from a trusted proxy, the application's own ClientIP
// calls do not.
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
	known := http.Header{}
	for _, h := range []string{gin.PlatformCloudflare, gin.PlatformGoogleAppEngine, gin.PlatformFlyIO} {
		known.Set(h, "")
	}
	for k := range c.Request.Header {
		known[k] = nil
	}
	if names := (ginProbe{probe}).platformHeaders(known); len(names) > 0 {
		g.log.Warn("ginsecure: the gin engine trusts the client address in the " + strings.Join(names, ", ") + " header from any peer (TrustedPlatform): gin's c.ClientIP() lets a direct client choose its address with it. ginsecure honours it only from a peer in engine.SetTrustedProxies; firewall the app so that only the platform reaches it.")
	}
}

// forwardingHeaders are the headers a reverse proxy or a platform adds to
// name the client: gin reads X-Forwarded-For and X-Real-IP, and one of the
// others when the engine's TrustedPlatform names it.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Real-Ip", "Cf-Connecting-Ip", "Fly-Client-Ip", "X-Appengine-Remote-Addr"}

// proxyHint is how far warnUntrustedProxy has got.
type proxyHint uint32

const (
	hintWatching proxyHint = iota // logins are looked at, and the engine's own platform header is probed for
	hintProbed                    // the probe found none: logins are looked at for forwardingHeaders only
	hintGiven                     // the warning was given: logins are looked at no more
)

// warnUntrustedProxy warns once per Guard when a login arrives with a
// header that names the client (X-Forwarded-For, X-Real-IP, a platform's,
// the engine's TrustedPlatform header) while TrustProxyHeaders is off:
// behind a reverse proxy every session is then bound to the proxy's
// address, the same for every user, and IP binding protects nothing,
// silently. Only logins look (they bind the address): the hot path pays
// nothing, a login a few map lookups. The engine's TrustedPlatform header
// (its name is not readable) is probed for at the first login only: the
// probe copies the context, and a platform sends its header on every
// request.
func (g *Guard) warnUntrustedProxy(c *gin.Context) {
	h, name := c.Request.Header, ""
	for _, k := range forwardingHeaders {
		if len(h[k]) > 0 {
			name = k
			break
		}
	}
	if name == "" && g.proxyHint.CompareAndSwap(uint32(hintWatching), uint32(hintProbed)) {
		if names := newGinProbe(c).platformHeadersOf(h); len(names) > 0 {
			name = names[0]
		}
	}
	if name == "" || proxyHint(g.proxyHint.Swap(uint32(hintGiven))) == hintGiven {
		return
	}
	g.log.Warn("ginsecure: a login arrived with the " + name + " header from peer " + quoteShort(c.Request.RemoteAddr) + " while Config.TrustProxyHeaders is off: behind a reverse proxy every session is bound to the proxy's address, the same for every user, and IP binding protects nothing. Set Config.TrustProxyHeaders and call engine.SetTrustedProxies with your proxies' addresses.")
}

// warnNoPeerIP warns once that IP binding has no address to bind: the
// listener's peers are not IP addresses (a unix socket), see clientIP.
func (g *Guard) warnNoPeerIP(c *gin.Context) {
	if g.cfg.IPBinding.mode == ipOff {
		return
	}
	hint := "behind a proxy on the socket, set TrustProxyHeaders and have the proxy send X-Forwarded-For"
	if g.cfg.TrustProxyHeaders {
		hint = "the proxy sent no address gin accepts (X-Forwarded-For, X-Real-IP)"
	}
	g.log.Warn("ginsecure: a request came from a peer with no IP address (RemoteAddr " + quoteShort(c.Request.RemoteAddr) + ", a unix socket listener): sessions signed in this way are bound to no address, and IP binding protects nothing for them; " + hint + ".")
}

// checkIP enforces policy on the request's session. A mismatch returns
// ErrIPMismatch and, unless KeepSessionOnIPMismatch, revokes the session:
// its cookies are being used from somewhere else. Middleware then serves
// the request anonymous (reqState.standIn); a route policy's mismatch
// (route) refuses the request. EventIPMismatch fires once per record and
// network per TouchInterval (mismatchLog).
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
	st.demote()
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
		g.markRevoked(st, st.rec, storeext.RevokedIP)
	}
	if g.mismatches.first(mismatchKey{EventIPMismatch, st.rec.Handle, policy.network(client)}, g.now(), g.cfg.TouchInterval) {
		st.note(Event{Kind: EventIPMismatch, UserID: st.rec.UserID, Handle: st.rec.Handle, IP: client.String(), BoundIP: bound.String(), Detail: detail})
	}
	if keep {
		return errIPRefused
	}
	return ErrIPMismatch
}

// network is the network of client that p compares: its prefix of p's
// length for its family (the address itself for IPExact); the zero
// Prefix for no address.
func (p IPPolicy) network(client netip.Addr) netip.Prefix {
	if !client.IsValid() {
		return netip.Prefix{}
	}
	bits := p.v6
	if client.Is4() {
		bits = p.v4
	}
	pfx, _ := client.Prefix(bits)
	return pfx
}

// mismatchLog remembers when EventIPMismatch (or EventIdentityMismatch)
// last fired for a record and a network, so that a thief hammering with a stolen copy from one network
// (kept sessions: KeepSessionOnIPMismatch, a change of address family, a
// route policy) is logged once per TouchInterval, the cadence at which a
// record's activity is written, while a mismatch from a network not seen
// in that window is always reported. It is per server and holds the last
// mismatchLogSize pairs; past that the oldest are forgotten, and may be
// reported again.
type mismatchLog struct {
	mu   sync.Mutex
	seen *lru.Cache[mismatchKey, time.Time]
}

// mismatchLogSize bounds the pairs a mismatchLog remembers (about 100
// bytes each).
const mismatchLogSize = 4096

// mismatchKey is one kind of mismatch of one record from one network.
type mismatchKey struct {
	kind    EventKind
	handle  string
	network netip.Prefix
}

// first reports whether the mismatch k at now is the first in window, and
// remembers it.
func (l *mismatchLog) first(k mismatchKey, now time.Time, window time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen, _ = lru.New[mismatchKey, time.Time](mismatchLogSize) // only fails for a size <= 0
	}
	if t, ok := l.seen.Get(k); ok && now.Sub(t) < window && !now.Before(t) {
		return false
	}
	l.seen.Add(k, now)
	return true
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
// anonymous (refused on routes that require a user), the browser keeps its
// cookies.
var errIPRefused error = &secError{code: "ip_mismatch", msg: "request from a network the session is not bound to", status: 401, parent: ErrIPMismatch}

// secureTransport reports whether the request reached us over TLS: its own
// connection, or, with TrustProxyHeaders, X-Forwarded-Proto: https from a
// peer the engine trusts as a proxy. Whether gin took the client IP from
// a header is no test of the peer: a TrustedPlatform header is taken from
// anyone, and a trusted proxy need not send X-Forwarded-For.
func (g *Guard) secureTransport(c *gin.Context) bool {
	if c.Request.TLS != nil {
		return true
	}
	if !g.cfg.TrustProxyHeaders || !strings.EqualFold(forwardedProto(c.Request.Header), "https") {
		return false
	}
	p := newGinProbe(c)
	return p.trustsPeer(c.Request, p.platformHeadersOf(c.Request.Header))
}

// forwardedProto is the scheme the nearest proxy reports: the last value
// of X-Forwarded-Proto across all its lines. A proxy that appends (a line
// or a comma-separated value) puts its own after whatever the client sent,
// so the first value is the client's choice: "https" written by a client
// that came over plain HTTP (header spoofing).
func forwardedProto(h http.Header) string {
	vs := h["X-Forwarded-Proto"]
	if len(vs) == 0 {
		return ""
	}
	last := vs[len(vs)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}

// Proxy trust.
//
// The engine's trusted proxies are not readable (gin keeps them in an
// unexported field and exports no check), and gin's ClientIP believes the
// engine's TrustedPlatform header from any peer, before it looks at the
// peer at all. So ginsecure asks gin itself, through ClientIP on requests
// it builds (a ginProbe), the questions it needs answered:
//
//   - which headers gin reads before any peer check (the TrustedPlatform
//     header, the legacy AppEngine one): with no peer address gin gives
//     up on everything else, so a header whose value comes back is one;
//   - whether gin trusts the request's peer: with the peer's address and a
//     sentinel address in every forwarding header (the platform's left
//     out), gin returns the sentinel only if it trusts the peer.
//
// A probe costs a copy of the gin context and a ClientIP call. Requests
// whose ClientIP is the peer itself need none, and a request with no
// platform header needs one (the check that none is there).

// probeIP is the sentinel a probe puts in forwarding headers: TEST-NET-2,
// never a real client.
const probeIP = "198.51.100.254"

// ginProbe asks the request's engine, through ClientIP, about requests
// ginsecure builds.
type ginProbe struct{ c *gin.Context }

func newGinProbe(c *gin.Context) ginProbe { return ginProbe{c.Copy()} }

// clientIP is what gin's ClientIP answers for a request from remoteAddr
// with headers h; ctx carries the listener (gin trusts a unix socket
// peer): the request's own, or context.Background() for none.
func (p ginProbe) clientIP(ctx context.Context, remoteAddr string, h http.Header) string {
	p.c.Request = (&http.Request{RemoteAddr: remoteAddr, Header: h}).WithContext(ctx)
	return p.c.ClientIP()
}

// platformHeadersOf returns the headers of h (and X-Forwarded-For,
// X-Real-IP) that gin believes from any peer; nil, after one probe, when h
// carries none.
func (p ginProbe) platformHeadersOf(h http.Header) []string {
	bg := context.Background()
	if p.clientIP(bg, "", h) == "" {
		return nil
	}
	// The usual platforms first: two small probes instead of a scan of
	// every header (this runs on each request a platform forwards).
	for _, k := range []string{"Cf-Connecting-Ip", "Fly-Client-Ip"} { // gin.PlatformCloudflare, gin.PlatformFlyIO, canonical
		v := h.Get(k)
		if v == "" || p.clientIP(bg, "", http.Header{k: {v}}) != v {
			continue
		}
		rest := make(http.Header, len(h))
		for name, vs := range h {
			if name != k {
				rest[name] = vs
			}
		}
		if p.clientIP(bg, "", rest) == "" {
			return []string{k}
		}
	}
	cand := http.Header{"X-Forwarded-For": nil, "X-Real-Ip": nil}
	for k := range h {
		cand[k] = nil
	}
	return p.platformHeaders(cand)
}

// platformHeaders returns the names among cand's keys that gin reads
// before any peer check: each probe gives every candidate a value of its
// own and no peer address, and gin answers with the platform header's
// value, if any. At most two rounds: TrustedPlatform, then AppEngine.
func (p ginProbe) platformHeaders(cand http.Header) []string {
	names := make([]string, 0, len(cand))
	for k := range cand {
		names = append(names, k)
	}
	var found []string
	for range 2 {
		h := make(http.Header, len(names))
		for i, k := range names {
			if !slices.Contains(found, k) {
				h[k] = []string{"ginsecure-probe-" + strconv.Itoa(i)}
			}
		}
		got, ok := strings.CutPrefix(p.clientIP(context.Background(), "", h), "ginsecure-probe-")
		i, err := strconv.Atoi(got)
		if !ok || err != nil || i < 0 || i >= len(names) {
			break
		}
		found = append(found, names[i])
	}
	return found
}

// trustsPeer reports whether gin trusts r's peer as a proxy: it would take
// the client address from a forwarding header r's peer sent.
func (p ginProbe) trustsPeer(r *http.Request, platform []string) bool {
	h := http.Header{"X-Forwarded-For": {probeIP}, "X-Real-Ip": {probeIP}}
	for k := range r.Header {
		h[k] = []string{probeIP}
	}
	for _, k := range platform {
		delete(h, k)
	}
	return p.clientIP(r.Context(), r.RemoteAddr, h) == probeIP
}

// trustedClientIP is the client address with TrustProxyHeaders: gin's
// ClientIP, except that a header gin believes from any peer (the engine's
// TrustedPlatform header) counts only when the peer is a proxy the engine
// trusts; from anyone else it is ignored, as X-Forwarded-For is (else a
// direct client would choose its address by sending that header).
func trustedClientIP(c *gin.Context) string {
	ip := c.ClientIP()
	if ip == c.RemoteIP() {
		return ip
	}
	p := newGinProbe(c)
	platform := p.platformHeadersOf(c.Request.Header)
	if len(platform) == 0 || p.trustsPeer(c.Request, platform) {
		// gin checked the peer before it read a forwarding header, or
		// the platform header came through a trusted proxy.
		return ip
	}
	h := c.Request.Header.Clone()
	for _, k := range platform {
		delete(h, k)
	}
	return p.clientIP(c.Request.Context(), c.Request.RemoteAddr, h)
}

// checkIdentity returns ErrIdentityMismatch for a session whose user is
// not the one another authentication layer (Config.Identity) names, and
// revokes it: the session cookie travels with someone else's credentials.
// The caller serves the request anonymous (reqState.standIn).
func (g *Guard) checkIdentity(c *gin.Context, st *reqState) error {
	if g.cfg.Identity == nil || st.rec == nil {
		return nil
	}
	id, ok := g.cfg.Identity(c)
	if !ok || id == st.rec.UserID {
		return nil
	}
	st.demote()
	g.markRevoked(st, st.rec, storeext.RevokedIdentity)
	// Once per record and network per TouchInterval, as for the IP: the
	// requests a revocation races (in flight, other servers' views) say
	// nothing new.
	k := mismatchKey{EventIdentityMismatch, st.rec.Handle, g.cfg.IPBinding.network(g.clientIP(c))}
	if g.mismatches.first(k, g.now(), g.cfg.TouchInterval) {
		st.note(Event{Kind: EventIdentityMismatch, UserID: st.rec.UserID, Handle: st.rec.Handle, Detail: "identity layer names " + quoteShort(id)})
	}
	return ErrIdentityMismatch
}
