package ginsecure_test

// The simulation's executor: it carries out steps against the world, keeps
// the trace, and hands every answer, applied response and event to the
// model.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// simParty is a browser, or the thief (who holds copies of a browser's
// cookies, taken at random moments, and never signs in itself).
type simParty struct {
	thief  bool
	victim int // the thief's: whose cookies it copied last
	// stolenSession is the session cookie the thief copied ("" for none):
	// a response of its own may put another one in its jar.
	stolenSession string
	jar           *simJar
	addr          string
	// dev is the party's device-binding state: its key and the session it
	// bound (nil for a browser without DBSC, and for the thief, who copies
	// cookies but never the key: simulation_dbsc_test.go).
	dev *simDevice
}

// flState is where a request is.
type flState uint8

const (
	flHeld    flState = iota // inside its handler, waiting for its release
	flLanded                 // answered; its Set-Cookie not applied yet
	flApplied                // its Set-Cookie applied by the party's browser
	flDropped                // its response lost
)

// simFlight is one request.
type simFlight struct {
	id           int
	party        int
	lineage      int // the browser whose credentials it carried (the thief's victim at the time)
	act          simAct
	user         string // login
	value        string // write
	srv          int
	addr         string // the party's address when it sent the request
	token        string // the token cookie presented ("" for none)
	hasSession   bool   // a session cookie was presented
	tossed       bool   // tossed session cookies were sent in front of its own
	session      string // the party's own session cookie presented ("" for none)
	sentStep     int
	sentAt       time.Time
	answeredAt   time.Time
	answeredStep int
	probe        bool // sent while its party had nothing else in flight
	expectReplay bool // the model is sure this is a replay
	firstShown   bool // its token's first presentation
	// supersededAtSend: a newer credential of its browser had been issued
	// when it was sent (a first presentation then is a late response's).
	supersededAtSend bool
	settledStep      int // when its response was applied or dropped
	state            flState
	gate             string
	done             chan simResp
	resp             simResp
}

type simRun struct {
	t        testing.TB
	kind     string
	w        *simWorld
	m        *simModel
	rng      *rand.Rand
	parties  []*simParty
	browsers int
	flights  []*simFlight
	trace    []string
	step     int
	checks   int
	fail     *simViolation
	writes   int
	dbsc     *simDBSC // nil unless the sequence turned DeviceBinding on
}

func (r *simRun) addParties() {
	r.browsers = 3
	for i := 0; i < r.browsers; i++ {
		r.parties = append(r.parties, &simParty{jar: newSimJar(), addr: fmt.Sprintf("198.51.%d.1:443", i+1)})
	}
	r.parties = append(r.parties, &simParty{thief: true, jar: newSimJar(), addr: "203.0.113.9:443"})
}

func (r *simRun) flightsIn(s flState) []int {
	var out []int
	for _, f := range r.flights {
		if f.state == s {
			out = append(out, f.id)
		}
	}
	return out
}

// busy reports whether a party has a request other than f in flight or a
// response not yet applied.
func (r *simRun) busy(p int, f *simFlight) bool {
	for _, o := range r.flights {
		if o != f && o.party == p && (o.state == flHeld || o.state == flLanded) {
			return true
		}
	}
	return false
}

func (r *simRun) violate(inv string, class faultClass, format string, args ...any) {
	if r.fail != nil {
		return
	}
	r.fail = &simViolation{inv: inv, class: class, step: r.step, msg: fmt.Sprintf(format, args...)}
	r.trace = append(r.trace, fmt.Sprintf("  VIOLATED %s%s: %s", inv, classNote(class), r.fail.msg))
}

func (r *simRun) check(f *simFlight, fns ...func(*simModel, *simFlight)) {
	for _, fn := range fns {
		r.checks++
		fn(r.m, f)
	}
}

func (r *simRun) logf(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf(format, args...))
}

// do carries out one step and checks what it showed.
func (r *simRun) do(s simStep) {
	r.step++
	r.logf("%3d %v  %s", r.step, r.w.clock.Now().Format("15:04:05.0"), s)
	stepFuncs[s.kind](r, s)
	if r.fail == nil {
		checkSessionLimit(r.m)
	}
}

var stepFuncs = map[stepKind]func(*simRun, simStep){
	stSend:          (*simRun).doSend,
	stDoubleLogin:   (*simRun).doDoubleLogin,
	stRelease:       (*simRun).doRelease,
	stApply:         func(r *simRun, s simStep) { r.applyFlight(r.flights[s.flight]) },
	stDrop:          (*simRun).doDrop,
	stSteal:         (*simRun).doSteal,
	stClock:         (*simRun).doClock,
	stAddr:          (*simRun).doAddr,
	stRevokeUser:    (*simRun).doRevokeUser,
	stRevokeSession: (*simRun).doRevokeSession,
	stClearSession:  (*simRun).doClearSession,
	stClearAll:      (*simRun).doClearAll,
	stToss:          (*simRun).doToss,
}

// send makes a request of party p; held, it returns once the request is
// inside its handler (or refused before it).
func (r *simRun) send(p int, act simAct, user string, srv int, held bool) *simFlight {
	pt := r.parties[p]
	f := &simFlight{id: len(r.flights), party: p, act: act, user: user, srv: srv, addr: pt.addr, sentStep: r.step, sentAt: r.w.clock.Now()}
	r.flights = append(r.flights, f)
	f.token, f.session = pt.jar.vals[tokCookieName], pt.jar.vals[simSessionName]
	f.tossed = len(pt.jar.tossed) > 0
	f.hasSession = f.session != "" || f.tossed
	f.probe = !held && !r.busy(p, f)
	query := ""
	switch act {
	case actLogin:
		query = "user=" + user
	case actWrite:
		r.writes++
		f.value = fmt.Sprintf("v%d-P%d", r.writes, p)
		query = "v=" + f.value
	}
	f.lineage = r.m.lineage(p)
	if t := r.m.tokens[f.token]; t != nil && pt.thief {
		f.lineage = t.lineage // a late response may have mixed two victims' cookies in its jar
	}
	r.m.beforeSend(f)
	if !held {
		r.m.beforeHandler(f)
	} else {
		f.gate = fmt.Sprintf("f%d", f.id)
	}
	f.done = r.w.serve(srv, act, query, pt.addr, pt.jar.header(), f.gate)
	if !held {
		r.answered(f, <-f.done)
		return f
	}
	select {
	case resp := <-f.done:
		r.answered(f, resp)
	default:
		f.state = flHeld
		r.logf("      #%d P%d %s held in its handler", f.id, p, act)
	}
	return f
}

// answered takes a response in: the model checks it.
func (r *simRun) answered(f *simFlight, resp simResp) {
	f.resp, f.state, f.answeredAt, f.answeredStep = resp, flLanded, r.w.clock.Now(), r.step
	r.noteExpiry(f)
	r.logf("      #%d P%d %s -> %s", f.id, f.party, f.act, resp)

	r.m.onAnswer(f)
}

func (r *simRun) doSend(s simStep) {
	if r.sendDevice(s) {
		return
	}
	f := r.send(s.party, s.act, s.user, s.srv, s.held)
	if f.state == flLanded && !s.late {
		r.applyFlight(f)
	}
}

// doDoubleLogin submits the sign-in form twice, both held: the releases,
// applies and drops come as later steps.
func (r *simRun) doDoubleLogin(s simStep) {
	r.send(s.party, actLogin, s.user, s.srv, true)
	r.send(s.party, actLogin, s.user, (s.srv+1)%len(r.w.servers), true)
}

func (r *simRun) doRelease(s simStep) {
	f := r.flights[s.flight]
	r.m.beforeHandler(f)
	r.w.gates.free(f.gate)
	select {
	case resp := <-f.done:
		r.answered(f, resp)
	case <-time.After(2 * holdTimeout):
		r.violate("6 answers", "", "#%d never answered after its release", f.id)
		return
	}
	if !s.late {
		r.applyFlight(f)
	}
}

func (r *simRun) applyFlight(f *simFlight) {
	if f.state != flLanded {
		return
	}
	r.parties[f.party].jar.apply(f.resp.cookies)
	f.state, f.settledStep = flApplied, r.step
	r.logf("      #%d applied by P%d", f.id, f.party)
	r.m.onApply(f)
	r.registerIfOffered(f)
}

func (r *simRun) doDrop(s simStep) {
	f := r.flights[s.flight]
	f.state, f.settledStep = flDropped, r.step
	if !r.parties[f.party].thief {
		r.m.forget(f.party, "response lost")
	}
}

func (r *simRun) doSteal(s simStep) {
	th := r.parties[len(r.parties)-1]
	th.jar.copyFrom(r.parties[s.party].jar)
	th.victim = s.party
	th.stolenSession = r.parties[s.party].jar.vals[simSessionName]
	if r.rng.IntN(2) == 0 {
		th.addr = r.parties[s.party].addr // the same network (a shared NAT, malware on the device)
	} else {
		th.addr = "203.0.113.9:443"
	}
	r.logf("      thief now at %s", th.addr)
}

func (r *simRun) doClock(s simStep) {
	r.w.clock.Advance(s.d)
	r.m.onClock()
}

func (r *simRun) doAddr(s simStep) {
	p := r.parties[s.party]
	if !sameNetwork(p.addr, s.addr) {
		r.m.forget(s.party, "address changed")
	}
	p.addr = s.addr
}

// sameNetwork reports whether the default IP policy (IPPrefix(32, 64))
// takes two addresses for one network: the same IPv4 address or the same
// IPv6 /64.
func sameNetwork(a, b string) bool {
	return a == b || sameSlash64(a, b)
}

// sameSlash64 reports whether two IPv6 "[a:b:c:d::x]:port" addresses of
// newAddr's form share their /64.
func sameSlash64(a, b string) bool {
	pa, pb := prefix64(a), prefix64(b)
	return pa != "" && pa == pb
}

func prefix64(a string) string {
	if len(a) == 0 || a[0] != '[' {
		return ""
	}
	for i := len(a) - 1; i > 0; i-- {
		if a[i] == ':' && a[i-1] == ':' {
			return a[:i]
		}
	}
	return ""
}

func (r *simRun) doRevokeUser(s simStep) {
	n, err := r.w.servers[r.rng.IntN(len(r.w.servers))].guard.RevokeUser(context.Background(), s.user)
	if err != nil {
		r.violate("6 answers", "", "RevokeUser(%s): %v", s.user, err)
		return
	}
	r.logf("      revoked %d", n)
	for hv, h := range r.m.handles {
		if h.user == s.user {
			r.m.end(hv, "revoke-user")
		}
	}
	for i, p := range r.m.parties {
		if p.user == s.user || r.m.userOfLineage(r.m.lineage(i), s.user) {
			r.m.forget(i, "revoke-user")
		}
	}
}

func (r *simRun) doRevokeSession(s simStep) {
	hv := tokenHandle(r.parties[s.party].jar.vals[tokCookieName])
	h := r.m.handles[hv]
	if h == nil || h.user == "" {
		r.logf("      (no session to revoke)")
		return
	}
	err := r.w.servers[r.rng.IntN(len(r.w.servers))].guard.RevokeSession(context.Background(), h.user, hv)
	r.logf("      RevokeSession(%s): %v", h.user, err)
	if err != nil {
		return
	}
	r.m.end(hv, "revoke-session")
	for i, p := range r.parties {
		if tokenHandle(p.jar.vals[tokCookieName]) == hv || r.m.lineage(i) == s.party {
			r.m.forget(i, "revoke-session")
		}
	}
}

func (r *simRun) doClearSession(s simStep) {
	delete(r.parties[s.party].jar.vals, simSessionName)
	r.m.forget(s.party, "session cookie gone")
}

func (r *simRun) doClearAll(s simStep) {
	p := r.parties[s.party]
	p.jar.vals, p.jar.tossed = map[string]string{}, nil
	r.m.forget(s.party, "cookies cleared")
	if p.dev != nil {
		p.dev.drop() // clearing a site's data ends its device-bound sessions too
	}
}

// doToss puts eight session cookies in front of a browser's own, as a
// sibling subdomain can (Domain=): the attacker's own, fresh from the app.
func (r *simRun) doToss(s simStep) {
	r.writes++
	v := fmt.Sprintf("v%d-tossed", r.writes)
	resp := <-r.w.serve(s.srv, actWrite, "v="+v, "203.0.113.66:443", "", "")
	r.m.values[v] = mValue{user: "", party: -1}
	var ts []string
	for _, c := range resp.cookies {
		if c.Name == simSessionName {
			for range 8 {
				ts = append(ts, simSessionName+"="+c.Value)
			}
		}
	}
	r.parties[s.party].jar.tossed = ts
	r.m.parties[s.party].dataKnown = false // which session it presents is the server's choice now
	if r.m.parties[s.party].pairUnsure {
		// None of several cookies is healed from (DESIGN.md, "Tossed
		// cookies"): its own session cookie may not be among them.
		r.m.forget(s.party, "tossed cookies in front of a session cookie not surely its record's")
	}
	r.logf("      %d attacker session cookies tossed in front (%s)", len(ts), resp)
}

// settleSteps end a sequence: every held request released, every answer
// applied, in an order the seed picks, then every browser reads.
func (r *simRun) settleSteps() []simStep {
	var out []simStep
	for _, i := range r.rng.Perm(len(r.flights)) {
		if r.flights[i].state == flHeld {
			out = append(out, simStep{kind: stRelease, flight: i, late: true})
		}
	}
	for _, i := range r.rng.Perm(len(r.flights)) {
		if s := r.flights[i].state; s == flHeld || s == flLanded {
			out = append(out, simStep{kind: stApply, flight: i})
		}
	}
	for p := 0; p < r.browsers; p++ {
		out = append(out, simStep{kind: stSend, party: p, act: actRead, srv: r.rng.IntN(len(r.w.servers))})
	}
	return out
}

// freeAll releases every request still held (after a failure) and waits
// for it, so that no handler outlives its sequence.
func (r *simRun) freeAll() {
	for _, f := range r.flights {
		if f.state == flHeld {
			r.w.gates.free(f.gate)
			<-f.done
		}
	}
}
