package ginsecure_test

// Device-bound sessions in the simulation (DESIGN.md, "Device-bound
// sessions"; a bound record is one more state of the lifecycle): some
// sequences turn DeviceBinding on. Browsers 0 and 1 then hold a device key
// and register after a Login or Renew whose response offers it; before a
// request they refresh a bound token cookie that is missing or past its
// Max-Age, as Chromium does, and a refresh's answer may be kept back and
// applied late, or lost, like any other. The thief copies cookies, never a
// key: it cannot refresh, and a refresh it signs with its own key fails.
// GET /bound needs a device-bound session (Policy.DeviceBound).
//
// Invariants added: (8) a copy of a bound record's token is never served
// as its user once the token's life (CookieLifetime from its issue) is
// over; (9) a failed proof ends no session; the owner with the key stays
// signed in across refreshes in any order of their answers, which the
// sign-in invariant (2) checks with refreshes among the responses.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/dbsc"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
)

// simDBSC is a device-binding sequence's state the model needs.
type simDBSC struct {
	lifetime time.Duration
	// boundStep is when a registration of each record was answered 200:
	// from then on the record is bound.
	boundStep map[string]int
	// expires is when each token cookie value a browser received expires
	// (its Max-Age counted from the answer): Chromium refreshes then.
	expires map[string]time.Time
	n       simDBSCFigures
}

// simDBSCFigures count what device-binding sequences did.
type simDBSCFigures struct {
	seqs, registered, refreshed, keptBack, thiefTries, boundServed, staleRefused int
}

func (a *simDBSCFigures) add(b simDBSCFigures) {
	a.seqs, a.registered, a.refreshed, a.keptBack = a.seqs+b.seqs, a.registered+b.registered, a.refreshed+b.refreshed, a.keptBack+b.keptBack
	a.thiefTries, a.boundServed, a.staleRefused = a.thiefTries+b.thiefTries, a.boundServed+b.boundServed, a.staleRefused+b.staleRefused
}

func (a simDBSCFigures) String() string {
	return fmt.Sprintf("on in %d sequences: %d registrations, %d refreshes (%d answers kept back), %d thief refreshes refused, %d requests served on the DeviceBound route, %d requests refused for a bound token past its life or window",
		a.seqs, a.registered, a.refreshed, a.keptBack, a.thiefTries, a.boundServed, a.staleRefused)
}

func (d *simDBSC) figures() simDBSCFigures {
	if d == nil {
		return simDBSCFigures{}
	}
	d.n.seqs = 1
	return d.n
}

// simDevice is a browser's DBSC state: its key, the session it bound, and
// the challenge it cached from the last answer.
type simDevice struct {
	key       *signer
	id        string // the bound session's identifier (the record's handle), "" for none
	challenge string
}

func (d *simDevice) drop() { d.id, d.challenge = "", "" }

// simBoundSeeds are seeds of simSeedCases found with device binding on
// under a class other than bound-copy: they replay with the device
// configuration drawn as when they were found (simDeviceConfig keeps it
// off for the other seeds of the list).
var simBoundSeeds = map[uint64]bool{5782159605878646529: true, 1175252571466313905: true, 2201296382756469141: true, 5993714344373543749: true, 2891191870532757341: true, 6741611980353314917: true}

// simDeviceConfig turns DeviceBinding on for about one sequence in four,
// chosen from the seed alone (never from the sequence's generator, so that
// every other seed draws the very sequence it drew before), never for a
// seed simSeedCases replays for a fault of sequences without it. Returns nil when it stays off.
func simDeviceConfig(cfg *ginsecure.Config, seed uint64) *simDBSC {
	h := seed*0x9e3779b97f4a7c15 ^ seed>>29
	if h%4 != 0 || !simBoundSeeds[seed] && slices.ContainsFunc(simSeedCases, func(c simSeedCase) bool { return c.seed == seed && c.class != faultBoundCopy }) {
		return nil
	}
	life := 3 * time.Minute // the shortest allowed: a refresh due after a minute
	if h>>8%4 == 0 {
		life = 10 * time.Minute
	}
	cfg.DeviceBinding = ginsecure.DeviceBinding{Enabled: true, CookieLifetime: life}
	return &simDBSC{lifetime: life, boundStep: map[string]int{}, expires: map[string]time.Time{}}
}

// simChallengeStores are the servers' challenge stores, one shared by all
// (nil while device binding is off).
func simChallengeStores(kind string, servers int, cfg ginsecure.Config, rd *simRedis) []storeext.ChallengeStore {
	if !cfg.DeviceBinding.Enabled {
		return nil
	}
	out := make([]storeext.ChallengeStore, servers)
	mem := &dbsc.MemoryChallenges{}
	for i := range out {
		out[i] = mem
		if rd != nil {
			out[i] = redisstore.NewChallengeStore(rd.recs[i], "gs:")
		}
	}
	return out
}

// installSimBoundRoute adds GET /bound, which needs a device-bound session.
func installSimBoundRoute(r *gin.Engine, g *ginsecure.Guard, gates *simGates) {
	r.GET(actBound.path(), g.Require(ginsecure.Policy{Authenticated: true, DeviceBound: true}), gates.enter, func(c *gin.Context) {
		v, _ := c.Get("sim.entry")
		e, _ := v.(simEntry)
		c.JSON(http.StatusOK, gin.H{"user": e.user, "cart": e.cart, "reason": e.reason, "sid": e.sid})
	})
}

// addDevices gives browsers 0 and 1 a key (browser 2 has no DBSC).
func (r *simRun) addDevices() {
	if r.dbsc == nil {
		return
	}
	for i := 0; i < 2; i++ {
		r.parties[i].dev = &simDevice{key: newSigner(r.t, "ES256", i)}
	}
}

// fillDeviceAct turns some reads into reads of the DeviceBound route, and
// some of the thief's requests into a refresh signed with its own key.
func (r *simRun) fillDeviceAct(s *simStep) {
	if r.dbsc == nil {
		return
	}
	switch {
	case s.act == actRead && r.rng.IntN(3) == 0:
		s.act = actBound
	case r.parties[s.party].thief && r.rng.IntN(6) == 0:
		s.act = actRefresh
	}
}

// sendDevice carries out a thief's refresh, and a browser's refresh due
// before its request; it reports whether the step is done.
func (r *simRun) sendDevice(s simStep) bool {
	if r.dbsc == nil {
		return false
	}
	if s.act == actRefresh {
		r.thiefRefresh(s.party, s.srv)
		return true
	}
	deferred := r.refreshIfDue(s.party, s.srv)
	if !deferred && !r.parties[s.party].thief {
		r.deviceLost(s.party)
	}
	return deferred || r.fail != nil
}

// tokenDue reports whether a browser's bound token cookie is missing or
// has under 2 minutes of its Max-Age left: Chromium then defers the
// request and refreshes.
func (r *simRun) tokenDue(p int) bool {
	v, ok := r.parties[p].jar.vals[tokCookieName]
	if !ok {
		return true
	}
	at, ok := r.dbsc.expires[v]
	return ok && !r.w.clock.Now().Add(2*time.Minute).Before(at)
}

// refreshIfDue refreshes browser p's bound session when its token is due.
// A refresh answer kept back is applied first (Chromium holds the request
// until the refresh answers); else a refresh is sent, its answer applied
// at once or kept back (a later step applies or loses it). It reports
// whether the request waits for a refresh answer kept back: Chromium
// sends it once the answer arrives, which the simulation leaves to a
// later send (the request is not sent in this step).
func (r *simRun) refreshIfDue(p, srv int) (deferred bool) {
	d := r.parties[p].dev
	if d == nil || d.id == "" || !r.tokenDue(p) {
		return false
	}
	for _, f := range r.flights {
		if f.party == p && f.act == actRefresh && f.state == flLanded {
			r.applyFlight(f)
		}
	}
	if !r.tokenDue(p) {
		return false
	}
	f := r.refresh(p, srv, d.key, d.id, d.challenge)
	if f.resp.status == http.StatusForbidden && d.id != "" {
		r.applyFlight(f)
		f = r.refresh(p, srv, d.key, d.id, d.challenge) // with the challenge the 403 carried
	}
	if f.resp.status == http.StatusOK && setsCookie(f.resp.cookies, tokCookieName) {
		r.dbsc.n.refreshed++
	}

	minted := f.resp.status == http.StatusOK && setsCookie(f.resp.cookies, tokCookieName)
	settling := r.step > *simSteps // the final reads are the checks: nothing is kept back then
	if f.state == flLanded && (!minted || settling || r.rng.IntN(4) != 0) {
		r.applyFlight(f)
	} else if f.state == flLanded {
		r.dbsc.n.keptBack++
		r.logf("      #%d answer kept back; the request waits for it", f.id)
		return true
	}
	return false
}

// refresh sends one refresh POST for session id, signed by key with
// challenge (no proof without one). Chromium sends no expired cookie: the
// request carries the session cookie only (the endpoint reads neither).
func (r *simRun) refresh(p, srv int, key *signer, id, challenge string) *simFlight {
	pt := r.parties[p]
	f := &simFlight{id: len(r.flights), party: p, lineage: r.m.lineage(p), act: actRefresh, srv: srv, addr: pt.addr, sentStep: r.step, sentAt: r.w.clock.Now()}
	r.flights = append(r.flights, f)
	hdr := http.Header{"Sec-Secure-Session-Id": {id}}
	if challenge != "" {
		hdr.Set("Secure-Session-Response", key.refresh(r.t, challenge))
	}
	jar := newSimJar()
	if v, ok := pt.jar.vals[simSessionName]; ok {
		jar.vals[simSessionName] = v
	}
	resp := r.w.serveDevice(srv, ginsecure.DefaultDevicePath+"/refresh", pt.addr, jar.header(), hdr)
	r.answered(f, resp)
	r.noteDeviceAnswer(f, id)
	return f
}

// noteDeviceAnswer caches the challenge of a registration's or refresh's
// answer for the browser that holds the session, and drops the session
// on continue:false (Chromium ends it).
func (r *simRun) noteDeviceAnswer(f *simFlight, id string) {
	d := r.parties[f.party].dev
	if d == nil || d.id != id {
		return
	}
	if v := f.resp.header.Get(dbsc.HeaderChallenge); v != "" {
		if m := challengeValue.FindStringSubmatch(v); m != nil && m[2] == id {
			d.challenge = m[1]
		}
	}
	if c, ok := f.resp.body["continue"].(bool); ok && !c {
		d.drop()
	}
}

// thiefRefresh is the thief trying to refresh the session its copied token
// names, with its own key: a challenge, then a proof the record's key did
// not sign. Neither may mint a token, nor end the session (invariant 9).
func (r *simRun) thiefRefresh(p, srv int) {
	id := tokenHandle(r.parties[p].jar.vals[tokCookieName])
	if id == "" {
		r.logf("      (no session to refresh)")
		return
	}
	before := r.liveHandles(id)
	key := newSigner(r.t, "ES256", 0)
	first := r.refresh(p, srv, key, id, "")
	ch := ""
	if m := challengeValue.FindStringSubmatch(first.resp.header.Get(dbsc.HeaderChallenge)); m != nil {
		ch = m[1]
	}
	f := first
	if ch != "" {
		f = r.refresh(p, srv, key, id, ch)
	}
	r.dbsc.n.thiefTries++
	for _, x := range []*simFlight{first, f} {
		x.state = flDropped // nothing of them is the thief's to keep
		if setsCookie(x.resp.cookies, tokCookieName) {
			r.violate("8 bound copy dies", faultBoundCopy, "a refresh the record's key did not sign minted a token (%s)", x.resp)
		}
	}
	if after := r.liveHandles(id); before && !after {
		r.violate("9 failed proof ends nothing", "", "record %s ended by a refresh with a proof its key did not sign", id)
	}
}

// liveHandles reports whether the record h is listed among its user's
// live sessions.
func (r *simRun) liveHandles(h string) bool {
	user := r.m.handle(h).user
	if user == "" {
		return false
	}
	list, err := r.w.servers[0].guard.Sessions(context.Background(), user)
	if err != nil {
		r.violate("6 answers", "", "Sessions(%s): %v", user, err)
		return false
	}
	return slices.ContainsFunc(list, func(s ginsecure.SessionInfo) bool { return s.Handle == h })
}

// registerIfOffered is a browser with a key registering as soon as it
// applies a response that offers it (a Login's or Renew's), with the token
// it now holds; its answer is applied at once.
func (r *simRun) registerIfOffered(f *simFlight) {
	pt := r.parties[f.party]
	if r.dbsc == nil || pt.dev == nil || r.fail != nil || f.act == actRegister {
		return
	}
	path, challenge, auth, _ := offer(reply{header: f.resp.header})
	if path == "" {
		return
	}
	g := &simFlight{id: len(r.flights), party: f.party, lineage: r.m.lineage(f.party), act: actRegister, srv: f.srv, addr: pt.addr, sentStep: r.step, sentAt: r.w.clock.Now()}
	r.flights = append(r.flights, g)
	g.token, g.session = pt.jar.vals[tokCookieName], pt.jar.vals[simSessionName]
	g.hasSession = g.session != "" || len(pt.jar.tossed) > 0
	r.m.beforeSend(g)
	r.m.evictsLanded(g)
	hdr := http.Header{"Secure-Session-Response": {pt.dev.key.registration(r.t, challenge, auth)}}
	resp := r.w.serveDevice(f.srv, path, pt.addr, pt.jar.header(), hdr)
	id, _ := resp.body["session_identifier"].(string)
	if resp.status == http.StatusOK && id != "" {
		// Served as the record's user: the registration presented its
		// token, and the model counts it as any authenticated request.
		resp.user = r.m.handle(id).user
		r.dbsc.boundStep[id] = r.step
		r.dbsc.n.registered++
		pt.dev.id, pt.dev.challenge = id, ""
	}
	r.answered(g, resp)
	r.noteDeviceAnswer(g, id)
	r.applyFlight(g)
}

// evictsLanded: a registration is sent while the browser applies
// responses, so it may be its record's first presentation while another
// browser's login of the same user is answered but not yet applied; over
// MaxSessionsPerUser that presentation may evict the login's record
// (DESIGN.md, "Cookieless sign-in"), which evictionCheck, looking at what
// the browsers hold or expect, cannot see (redis/1 seed
// 7767817389938880505, settling: the model expected the login's sign-in).
func (m *simModel) evictsLanded(f *simFlight) {
	t := m.tokens[f.token]
	if t == nil || m.r.w.cfg.MaxSessionsPerUser == 0 || m.handle(t.handle).presented {
		return
	}
	user := m.handle(t.handle).user
	for _, o := range m.r.flights {
		if o.act == actLogin && o.state == flLanded && o.resp.status == 200 && o.user == user && o.lineage != f.lineage {
			if hv := tokenHandle(lastToken(o.resp.cookies)); hv != "" {
				m.handle(hv).maybeEnded = true
			}
			m.forget(o.party, "evicted: a first presentation while its login's answer was on its way")
		}
	}
}

// deviceLost forgets a browser about to send a bound record's token past
// its life that its device will not refresh first: only a refresh the
// device signs gives a bound record a new token, and a token past its
// life, current or superseded (a late response the browser never
// presented included), is refused by design (DESIGN.md, "Device-bound
// sessions": a bound record's stale credentials are refused). The device
// does not refresh when it holds no session for that record (cleared
// with the site's data, or never registered: a double submit's answer
// joined a record bound by the other; cookie/1 seed 927298120372953413
// step 45), nor when the token's cookie is not due: a login's answer
// written before the other answer of its double submit (or its joined
// re-login) bound the record carries the unbound Max-Age, and landing
// after the token's life it puts back a cookie Chromium sends as it is
// (memstore/2 seed 1175252571466313905 step 47, cookie/2 seed
// 2201296382756469141 step 74).
func (r *simRun) deviceLost(p int) {
	t := r.m.tokens[r.parties[p].jar.vals[tokCookieName]]
	if t == nil || !r.m.boundAt(t.handle, r.step+1) || r.w.clock.Now().Before(t.issuedAt.Add(r.dbsc.lifetime)) {
		return
	}
	switch d := r.parties[p].dev; {
	case d == nil || d.id != t.handle:
		r.m.forget(p, "bound token past its life, no device session for its record")
	case !r.tokenDue(p):
		r.m.forget(p, "bound token past its life, its cookie not due: the device does not refresh")
	}
}

// serveDevice sends a POST to a device-binding endpoint; Middleware
// answers it before any handler.
func (w *simWorld) serveDevice(srv int, path, addr, cookieHdr string, hdr http.Header) simResp {
	req := httptest.NewRequest(http.MethodPost, "https://app.example"+path, nil)
	req.RemoteAddr, req.TLS = addr, &tls.ConnectionState{}
	req.Header = hdr
	if cookieHdr != "" {
		req.Header.Set("Cookie", cookieHdr)
	}
	rec := httptest.NewRecorder()
	w.servers[srv].engine.ServeHTTP(rec, req)
	return parseSimResp(rec)
}

// noteExpiry records when the token cookies of an answer expire in the
// browser's jar (Max-Age from the answer; 0 is a browser-session cookie).
func (r *simRun) noteExpiry(f *simFlight) {
	if r.dbsc == nil {
		return
	}
	for _, c := range f.resp.cookies {
		if c.Name == tokCookieName && c.MaxAge > 0 {
			r.dbsc.expires[c.Value] = f.answeredAt.Add(time.Duration(c.MaxAge) * time.Second)
		}
	}
}

// boundAt reports whether record h was bound before step.
func (m *simModel) boundAt(h string, step int) bool {
	d := m.r.dbsc
	if d == nil {
		return false
	}
	s, ok := d.boundStep[h]
	return ok && s < step
}

// staleBoundCopy reports whether presenting t now is refused for the
// device-bound rule, surely: t is a token of its bound record, current or
// superseded, past its life (DESIGN.md, "Lifecycle": refused, and nothing
// ends, not even for a token presented without its session cookie). The
// model notes a token's issue when it first sees it, never before the
// server minted it. The model looked only at the current token and ended
// the record for a thief's copy of a superseded one, past its life,
// presented without a session cookie (cookie/2 seed 5782159605878646529
// step 54).
func (m *simModel) staleBoundCopy(t *mToken) bool {
	if t == nil || !m.boundAt(t.handle, m.r.step+1) {
		return false
	}
	return slices.Contains(m.handle(t.handle).tokens, t.value) && !m.now().Before(t.issuedAt.Add(m.r.dbsc.lifetime))
}

// checkBoundCopyDies (8): a request of the thief (who has no key) with a
// token of a record bound before it was sent is never served as a user
// once the token's life is over: CookieLifetime after its issue.
func checkBoundCopyDies(m *simModel, f *simFlight) {
	if m.r.dbsc == nil {
		return
	}
	if f.act == actBound && f.resp.entered && f.resp.user != "" {
		m.r.dbsc.n.boundServed++
	}
	if f.resp.reason == "device_binding_required" || f.resp.code == "device_binding_required" {
		m.r.dbsc.n.staleRefused++
	}
	if !m.r.parties[f.party].thief || f.resp.user == "" {
		return
	}
	t := m.tokens[f.token]
	if t == nil || !m.boundAt(t.handle, f.sentStep+1) {
		return
	}
	if end := t.issuedAt.Add(m.r.dbsc.lifetime); !f.sentAt.Before(end) {
		m.r.violate("8 bound copy dies", faultBoundCopy, "the thief's copy of a bound token (issued %s, life %v) was served as %s at %s",
			t.issuedAt.Format("15:04:05.0"), m.r.dbsc.lifetime, f.resp.user, f.sentAt.Format("15:04:05.0"))
	}
}
