package ginsecure_test

// The simulation's reference model: what each party should be signed in
// as, which writes it was told were saved, which credentials were issued
// to whom with which privilege, and which sessions ended. Where the right
// outcome is ambiguous the model forgets (unknown) instead of guessing:
// every check states what must hold.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ginsecure/ginsecure"
)

// expect is what a party's next settled request must be served as.
type expect uint8

const (
	expUnknown expect = iota // the model cannot tell (it checks nothing)
	expAnon                  // anonymous
	expUser                  // signed in as mParty.user
)

// mParty is the model of one party.
type mParty struct {
	exp  expect
	user string
	// why names the last event that made the model unsure of the party's
	// sign-in or data (a revoke, an eviction): it classifies what a later
	// check finds.
	why       string
	loginAt   time.Time
	dataKnown bool
	writes    []mWrite
	// saved is every write Save acknowledged to it, none dropped: a
	// write applied again relearns from here the later writes of its
	// session, including those a login dropped from writes.
	saved   []mWrite
	handles map[string]bool // every handle this party (or, for a thief, its victim) held or was issued
	// sessionExpiredLate: a response verified anonymous expired the
	// session cookie after a login's response had been applied.
	sessionExpiredLate bool
	// staleRevoke: its RevokeOthers was answered after the browser had
	// moved on to another record.
	staleRevoke bool
	// lateSession: a response verified before its last login put a
	// session cookie over the login's (the late-session-cookie fault).
	lateSession bool
	loginStep   int    // when its last applied login was answered
	forgotStep  int    // the last step that made the model unsure of it
	loginHandle string // the record of its last applied login
	// tokenAlone is a token the browser presented without any session
	// cookie; freshSession the session cookie an anonymous response gave
	// it after that. A rule ends such a token's record, and the fresh
	// session is then an ordinary anonymous one.
	tokenAlone, freshSession string
	aloneStep                int // when tokenAlone was presented alone
	// pairUnsure: its session cookie may not be its token's record's own
	// (a response put one of the two back without the other). Alone it
	// is healed; behind tossed cookies none is healed from (DESIGN.md,
	// "Tossed cookies").
	pairUnsure bool
	// loginSession is the session cookie its last applied login set.
	loginSession string
	// loginSent is the session cookie its last applied login's request
	// presented ("" for none: the login marked no session of the browser).
	loginSent string
	// loginSid is the identity of the session its last applied login's
	// request was served (the session that login marked; "" for none).
	loginSid string
	// lateAnon is the session cookie an anonymous response verified
	// before its last login put over the login's, and what the model
	// knows of the markers that may name it (lateAnonymousSession).
	lateAnon     string
	lateAnonKind lateAnonKind
	// lateAnonStep is when the model began to expect the browser
	// anonymous because of lateAnon (0: it does not).
	lateAnonStep int
	// emptiedStep is when a login over another user's session committed
	// (it starts empty, DESIGN.md, "Carry-over"): a write saved before
	// it went into that user's session, not the browser's next.
	emptiedStep int
}

// lateAnonKind is what the model knows of a late anonymous session
// cookie next to a login's token (mParty.lateAnon).
type lateAnonKind uint8

const (
	// lateFresh: the response made a new session (its request sent none
	// and no tossed ones): no marker names it, no handle is in it.
	lateFresh lateAnonKind = iota + 1
	// lateUnlinked: the login's request presented no session cookie, so
	// the login marked none of the browser's: the session is unmarked,
	// or marked by another record (then foreign at any time).
	lateUnlinked
)

// mWrite is a write that Save acknowledged.
type mWrite struct {
	v         string
	session   string // the session cookie the write presented
	handle    string // the record it was served as ("" for anonymous)
	sid       string // the ID of the session it was served (memstore, Redis)
	saveStep  int
	applyStep int // 0 until its response was applied
}

// mToken is a token cookie value the server issued.
type mToken struct {
	value     string
	handle    string
	seq       int
	issuedAt  time.Time
	lineage   int       // the browser whose credentials these are (a thief's copies are its victim's)
	presented time.Time // first presented; zero if never
	bound     time.Time // the most recent authentication it can carry (MaxAuthAge)
	lateFirst bool      // superseded before its first presentation (a late response)
}

// mHandle is a security record, as the model knows it.
type mHandle struct {
	user      string
	authMax   time.Time // the latest login or Renew of the record
	presented bool      // served authenticated at least once
	// shown: a request presented one of its tokens (Middleware counts a
	// first presentation before the handler, even for a held request).
	shown      bool
	lastActive time.Time
	endedStep  int // 0 while the model holds it live
	endWhy     string
	maybeEnded bool     // a revoke may have ended it
	tokens     []string // issue order
}

// mValue is who wrote a cart value: the user the write was served as.
type mValue struct {
	user  string
	party int
}

type simModel struct {
	r       *simRun
	parties []*mParty
	tokens  map[string]*mToken
	handles map[string]*mHandle
	values  map[string]mValue
	// sidRecord is the record a session ID was served with, as a user:
	// the record whose ending leaves the session tombstoned.
	sidRecord map[string]string
	// sidEnded is when the model learnt that a session ID's record had
	// ended (a timeout the browser was told of): its marker is a tombstone.
	sidEnded map[string]int
	seq      int
}

func newSimModel(r *simRun) *simModel {
	m := &simModel{r: r, tokens: map[string]*mToken{}, handles: map[string]*mHandle{}, values: map[string]mValue{}, sidRecord: map[string]string{}, sidEnded: map[string]int{}}
	for range r.parties {
		m.parties = append(m.parties, &mParty{exp: expAnon, dataKnown: true, handles: map[string]bool{}})
	}
	return m
}

// lineage is the browser whose credentials a party holds.
func (m *simModel) lineage(p int) int {
	if pt := m.r.parties[p]; pt.thief {
		return pt.victim
	}
	return p
}

// forget makes the model unsure of a party's sign-in and data.
func (m *simModel) forget(p int, why string) {
	mp := m.parties[p]
	mp.exp, mp.dataKnown, mp.forgotStep = expUnknown, false, m.r.step
	if !strings.Contains(mp.why, why) {
		mp.why += why + "; "
	}
}

// forgetLineage forgets the browser and every thief holding its copies.
func (m *simModel) forgetLineage(l int, why string) {
	for i, p := range m.r.parties {
		if i == l || (p.thief && p.victim == l) {
			m.forget(i, why)
		}
	}
}

// forgetHolders forgets every party whose jar holds the session cookie
// session: a thief's copy taken before another victim's keeps the first
// victim's session, and after an ending every holder of the emptied
// session writes into it (DESIGN.md, "Carry-over").
func (m *simModel) forgetHolders(session, why string) {
	if session == "" {
		return
	}
	for i, p := range m.r.parties {
		if p.jar.vals[simSessionName] == session {
			m.forget(i, why)
		}
	}
}

// anonymousSessionDeleted forgets, on memstore and Redis, every browser
// whose writes went into the anonymous session a gin-logout deleted: the
// logout idiom on an anonymous request deletes the session, as gin-contrib
// does (DESIGN.md, "The logout idiom"), and every holder of a copy of its
// cookie shares that one session (README, "Known limits"). The model
// forgot only the requester's lineage, where a thief's jar may hold,
// from a late response, the session of a victim it copied before its
// current one (memstore/2 seed 3524700196031848241 step 74: the browser
// read its session empty). On the cookie store the data is each holder's
// copy of the cookie, which the gin-logout does not touch.
func (m *simModel) anonymousSessionDeleted(f *simFlight) {
	if m.r.kind == "cookie" || f.resp.sid == "" {
		return
	}
	for i, mp := range m.parties {
		if slices.ContainsFunc(mp.writes, func(w mWrite) bool { return w.sid == f.resp.sid }) {
			m.forget(i, "gin-logout deleted its anonymous session")
		}
	}
}

func (m *simModel) handle(h string) *mHandle {
	x, ok := m.handles[h]
	if !ok {
		x = &mHandle{}
		m.handles[h] = x
	}
	return x
}

func (m *simModel) end(h, why string) {
	x := m.handle(h)
	if x.endedStep == 0 {
		x.endedStep, x.endWhy = m.r.step, why
	}
}

func (m *simModel) now() time.Time { return m.r.w.clock.Now() }

// supersededAt is when a credential newer than t was first issued to its
// browser (any record: a login replaces one), or zero.
func (m *simModel) supersededAt(t *mToken) time.Time {
	var at time.Time
	for _, o := range m.tokens {
		if o.lineage == t.lineage && o.seq > t.seq && (at.IsZero() || o.issuedAt.Before(at)) {
			at = o.issuedAt
		}
	}
	return at
}

// replayed reports whether presenting t now is a replay the server must
// revoke for: t was presented before, and a newer token of its record,
// at most four tokens on (the record keeps its last 4 superseded), was
// presented more than GracePeriod ago; never sure for a late response's
// token (DESIGN.md, "Superseded credentials").
func (m *simModel) replayed(t *mToken) bool {
	if t.presented.IsZero() {
		return false
	}
	toks := m.handle(t.handle).tokens
	i := slices.Index(toks, t.value)
	if i < 0 || len(toks)-1-i > 4 {
		return false
	}
	grace := m.r.w.cfg.GracePeriod
	if t.lateFirst {
		// A late response's token: its window opens when the browser
		// next presents the current token after it (DESIGN.md,
		// "Superseded credentials"), which parallel requests and
		// rotations make the model unsure of: beforeSend forgets the
		// browser instead ("replay by design").
		return false
	}
	for _, v := range toks[i+1:] {
		o := m.tokens[v]
		if o.presented.IsZero() {
			continue
		}
		since := o.presented
		if t.presented.After(since) {
			since = t.presented
		}
		if m.now().Sub(since) > grace+time.Second {
			return true
		}
	}
	return false
}

// beforeSend is the model's view of a request as it leaves: credentials
// presented after their browser moved on make the model unsure (a replay
// by design revokes), and a replay it is sure of is expected.
func (m *simModel) beforeSend(f *simFlight) {
	m.lateAnonymousSession(f)
	t := m.tokens[f.token]
	if t == nil {
		return
	}
	stale := m.staleBoundCopy(t) // refused before anything is decided: nothing ends
	if !t.presented.IsZero() && !stale {
		if sup := m.supersededAt(t); !sup.IsZero() && m.now().Sub(sup) >= m.r.w.cfg.GracePeriod {
			m.forgetLineage(t.lineage, "replay by design")
		}
	}
	if pt := m.r.parties[f.party]; pt.thief && !stale && !sameNetwork(f.addr, m.r.parties[t.lineage].addr) {
		// Middleware decides an IP mismatch before the handler, even for
		// a request held there; by default it ends the record (DESIGN.md,
		// "Refusals").
		m.forgetLineage(t.lineage, "thief's request from another network")
	}
	if !f.hasSession && !stale {
		// A token without its session cookie ends its record (DESIGN.md,
		// "A lost session cookie"), in Middleware, before any handler;
		// not one a login replaced: that is retired already, and a login
		// from here names the new record its successor.
		if !m.replacedByLogin(t.handle, t.lineage, m.r.step+1) {
			m.end(t.handle, "session lost")
		}
		m.forgetLineage(t.lineage, "session lost")
	}
	if mp := m.parties[f.party]; !m.r.parties[f.party].thief && !f.hasSession {
		mp.tokenAlone, mp.freshSession, mp.aloneStep = f.token, "", m.r.step
	}
	// Next to a session cookie that is not the token's record's, the
	// request is foreign and nothing ends (DESIGN.md, "Outcomes"): a
	// thief's own session cookie may be one.
	pt := m.r.parties[f.party]
	f.expectReplay = m.replayed(t) && (!pt.thief || f.session == pt.stolenSession)
	if toks := m.handle(t.handle).tokens; t.presented.IsZero() && slices.Contains(toks, t.value) && len(toks)-1-slices.Index(toks, t.value) > 4 {
		// Superseded more than four times before its first presentation
		// (more than five parallel logins joined): older than the
		// record's history of 4, a mismatch by the rules (DESIGN.md,
		// "Superseded credentials").
		m.forgetLineage(t.lineage, "token older than its record's history")
	}
	// Whether it counts as a presentation is known from its answer
	// (presentedBy): only a request that passes every check presents.
	f.firstShown = t.presented.IsZero()
	f.supersededAtSend = !m.supersededAt(t).IsZero()
	if h := m.handle(t.handle); !h.presented && h.user != "" {
		m.evictionCheck(h.user, f.lineage, t.handle)
	}
	m.successorEvictionCheck(t, f.lineage)
	m.handle(t.handle).shown = true
}

// successorEvictionCheck: a token of a record a login of its browser
// replaced, served, is forwarded to the login's record, and that forward
// is the record's first presentation when the browser never presented the
// login's own token; under MaxSessionsPerUser it may evict the least
// recently used other session (DESIGN.md, "Cookieless sign-in"). The
// model checked only the record of the token sent, so a stale write's
// refusal that put the replaced record's token back, then a read with it,
// evicted another browser it still expected signed in (memstore/1 seed
// 4211035090211340541 step 96). The successor is shown from then on, as
// the token's own record is: Middleware counts the forward before the
// handler, and a refusal after it (Require's DeviceBound, 403
// device_binding_required, or MaxAuthAge) undoes nothing. The model,
// which learnt a forward only from an answer served as the user, then
// left that record out of the user's presented sessions, and a later
// first presentation's eviction of it, the least recently used, went
// unpredicted (memstore/1 seed 2891191870532757341 step 79).
func (m *simModel) successorEvictionCheck(t *mToken, l int) {
	for _, s := range m.loginSuccessors(t.handle, t.lineage, m.r.step+1) {
		if x := m.handle(s); !x.presented && x.user != "" {
			m.evictionCheck(x.user, l, s)
			x.shown = true
		}
	}
}

// replacedByLogin reports whether a login of lineage l that presented a
// token of record h (served as it, or refused for its network), while the
// model held h live, has answered with another record before step: h is
// replaced (DESIGN.md, "States").
func (m *simModel) replacedByLogin(h string, l, before int) bool {
	return len(m.loginSuccessors(h, l, before)) > 0
}

// loginSuccessors lists the records that logins of lineage l, answered
// before step before, made in place of record h (replacedByLogin's
// logins): a late token of h is forwarded to one of them (DESIGN.md,
// "Superseded credentials").
func (m *simModel) loginSuccessors(h string, l, before int) []string {
	var out []string
	x := m.handle(h)
	for _, o := range m.r.flights {
		if o.act != actLogin || o.lineage != l || o.resp.status != 200 || o.answeredStep == 0 || o.answeredStep >= before || tokenHandle(o.token) != h {
			continue
		}
		// (Served as the record, or refused for its network: a login of
		// the same user replaces it, DESIGN.md, "Refusals".)
		presented := o.resp.user != "" || o.resp.reason == "ip_mismatch" && o.user == x.user
		if s := tokenHandle(lastToken(o.resp.cookies)); presented && s != h && (x.endedStep == 0 || x.endedStep > o.answeredStep) {
			out = append(out, s)
		}
	}
	return out
}

// beforeHandler runs when a request's handler is about to act (at once, or
// when released): a login may evict the user's other sessions.
func (m *simModel) beforeHandler(f *simFlight) {
	if f.act == actLogin {
		m.evictionCheck(f.user, f.lineage, tokenHandle(f.token))
		m.waitingCheck(f.user)
	}
}

// waitingCheck: a login ends the oldest of the user's records that wait
// for their first presentation when MaxUnpresented of them wait already
// (DESIGN.md, "Cookieless sign-in"). The model counts every record of
// the user not yet served authenticated and younger than UnpresentedAge
// (at least as many as the server's), and, unsure which one is the
// oldest on the server, takes each as maybe ended and forgets the
// browsers holding or expecting one.
func (m *simModel) waitingCheck(user string) {
	var waiting []string
	for hv, h := range m.handles {
		if h.user != user || h.presented || h.endedStep != 0 || len(h.tokens) == 0 {
			continue
		}
		if m.now().Sub(m.tokens[h.tokens[0]].issuedAt) <= ginsecure.UnpresentedAge {
			waiting = append(waiting, hv)
		}
	}
	if len(waiting) < ginsecure.MaxUnpresented {
		return
	}
	for _, hv := range waiting {
		m.handles[hv].maybeEnded = true
	}
	for i, p := range m.r.parties {
		hv := tokenHandle(p.jar.vals[tokCookieName])
		if slices.Contains(waiting, hv) || slices.Contains(waiting, m.parties[i].loginHandle) {
			m.forget(i, "evicted: a waiting login")
		}
	}
}

// evictionCheck forgets the user's browsers that may lose their sign-in
// when a login (or a record's first presentation) by lineage l may evict
// a session: when the user's presented live sessions fill
// MaxSessionsPerUser. self is the record being presented, or the one the
// login replaces: it does not count and is never the one evicted. The
// browser's own other records (a cookieless double submit makes two)
// count and may be evicted, as another device's would (DESIGN.md,
// "Cookieless sign-in"): a party of lineage l is spared only while it
// holds self, so a thief's copy of one record presented first may evict
// the record its victim holds, and the other way round.
func (m *simModel) evictionCheck(user string, l int, self string) {
	limit := m.r.w.cfg.MaxSessionsPerUser
	if limit == 0 {
		return
	}
	list, err := m.r.w.servers[0].guard.Sessions(context.Background(), user)
	if err != nil {
		m.r.violate("6 answers", "", "Sessions(%s): %v", user, err)
		return
	}
	n := 0
	for _, s := range list {
		if h := m.handle(s.Handle); (h.presented || h.shown) && s.Handle != self {
			n++
		}
	}
	if n+1 <= limit {
		return
	}
	for i, p := range m.parties {
		held := tokenHandle(m.r.parties[i].jar.vals[tokCookieName])
		holds := m.handle(held).user == user
		spared := m.lineage(i) == l && self != "" && held == self && !m.mayLandOther(i, self)
		if !spared && (p.exp == expUser && p.user == user || holds) {
			m.forget(i, "evicted") // its sign-in, and the data of the session it holds
		}
	}
}

// mayLandOther reports whether a response of party p still on its way
// may leave it holding another record than self: one sent with another
// record's token, or answered with one. Holding self now does not spare
// a browser from an eviction then: a cookieless double submit's browser
// that presented one record first (evicting the other, which the server
// counts as another device's, DESIGN.md, "Cookieless sign-in") and then
// applies a late response of the other (a Renew's, kept back) holds the
// evicted record (memstore/2 seed 4500130196044072921 step 79).
func (m *simModel) mayLandOther(p int, self string) bool {
	for _, o := range m.r.flights {
		if o.party != p || (o.state != flHeld && o.state != flLanded) {
			continue
		}
		for _, h := range []string{tokenHandle(o.token), tokenHandle(lastToken(o.resp.cookies))} {
			if h != "" && h != self {
				return true
			}
		}
	}
	return false
}

// onAnswer records what a response tells and checks it.
func (m *simModel) onAnswer(f *simFlight) {
	m.presentedBy(f)
	m.issued(f)
	if f.resp.user != "" {
		if h := m.handle(tokenHandle(f.token)); f.token != "" {
			h.presented, h.lastActive = true, f.sentAt
		}
		hv := m.forwardedTo(f)
		if hv != "" {
			h := m.handle(hv)
			h.presented, h.shown, h.lastActive = true, true, f.sentAt
		} else {
			hv = tokenHandle(f.token)
		}
		if f.resp.sid != "" && hv != "" {
			m.sidRecord[f.resp.sid] = hv
		}
	} else if f.resp.reason == "idle_timeout" && f.resp.sid != "" {
		// The token's record timed out: the request is served the ended
		// record's session, emptied, and the ending tombstoned it. The
		// model ends no record at a clock move, so it learns the ending
		// here; a login over that session starts empty (loginData).
		// Before, it expected such a login to carry what the browser
		// wrote into the emptied session since (redis-2pools/2 seed
		// 8227409796804198369 step 86).
		if _, ok := m.sidEnded[f.resp.sid]; !ok {
			m.sidEnded[f.resp.sid] = m.r.step
		}
	} else if f.resp.sid != "" && m.pairOf(f) {
		// Anonymous with its record's own pair: the record ended (or was
		// replaced) and the request was served that record's session,
		// emptied; an ending tombstoned it (DESIGN.md, "Endings"), and a
		// login over it starts empty, whatever was written into it since
		// ("Carry-over", loginData). The model learnt a session's record
		// only from a request served as the user, and missed a browser
		// revoked before its first request after the login, which then
		// wrote into the emptied session and signed in from it
		// (memstore/2 seed 2753430759228395765 step 76).
		m.sidRecord[f.resp.sid] = tokenHandle(f.token)
	}
	m.ipMismatchEnded(f)
	m.r.check(f, checkAnswers, checkNoEscalation, checkEndedStaysEnded, checkDataIsolation, checkFreshSessionKeepsWrites, checkSignInSurvives, checkAckedWritesKept, checkBoundCopyDies)
	m.afterAct(f)
}

// ipMismatchEnded learns the ending of a record an IP mismatch revoked
// (the default: DESIGN.md, "Refusals", "IP binding") from a later request
// of its browser: the mismatching request itself is served a stand-in (no
// session ID), but a later one with the ended record's token and session
// cookie is served that session, emptied, and its marker is a tombstone
// ("Endings"): a login over it starts empty, whatever was written into it
// since ("Carry-over", loginData). The model ends no record for a
// mismatch, and expected such a login to carry the anonymous writes
// (memstore/1 seed 6741611980353314917 step 79). A kept session
// (KeepSessionOnIPMismatch, a change of address family) is a stand-in on
// every request, so it never comes here.
func (m *simModel) ipMismatchEnded(f *simFlight) {
	sid := f.resp.sid
	if f.resp.user != "" || f.resp.reason != "ip_mismatch" || sid == "" || f.token == "" || m.sidRecord[sid] != tokenHandle(f.token) {
		return
	}
	if _, ok := m.sidEnded[sid]; !ok {
		m.sidEnded[sid] = m.r.step
	}
}

// pairOf reports whether f presented a token and a session cookie that
// one response set together (a login's, a Renew's), with no tossed
// cookies in front: the session is then the token's record's own.
func (m *simModel) pairOf(f *simFlight) bool {
	if f.token == "" || f.session == "" || f.tossed {
		return false
	}
	for _, o := range m.r.flights {
		if v, ok := sessionCookieSet(o); ok && v == f.session && o.state == flApplied && lastToken(o.resp.cookies) == f.token {
			return true
		}
	}
	return false
}

// forwardedTo is the successor record a request that presented a
// replaced record's token was forwarded to, or "": served as a user, its
// response sets a token of another record than the one it presented,
// which only a forward does outside a login. A forward is the
// successor's first presentation (its login's response reached the
// browser, whose session cookie it carries), counted in Middleware as
// the login's own token's would be (DESIGN.md, "Cookieless sign-in").
func (m *simModel) forwardedTo(f *simFlight) string {
	if f.act == actLogin || f.token == "" {
		return ""
	}
	for _, c := range f.resp.cookies {
		if hv := tokenHandle(c.Value); c.Name == tokCookieName && c.MaxAge >= 0 && hv != tokenHandle(f.token) {
			return hv
		}
	}
	return ""
}

// presentedBy notes the presentation of f's token, as of when Middleware
// decided it (the request's send). Only a request that passed every check
// presents a token (DESIGN.md, "Superseded credentials"): one refused for
// its network or identity, or hidden as foreign, confirms no rotation and
// opens no window. A request served authenticated entered its handler as
// the user, or was refused only by Require's MaxAuthAge after Middleware.
func (m *simModel) presentedBy(f *simFlight) {
	t := m.tokens[f.token]
	if t == nil || (f.resp.user == "" && f.resp.code != "reauth_required") {
		return
	}
	if t.presented.IsZero() || f.sentAt.Before(t.presented) {
		t.presented, t.lateFirst = f.sentAt, f.supersededAtSend
	}
}

// issued registers the tokens a response sets. A login's or Renew's own
// token is the last one it sets (an earlier one rotates the presented
// credentials on the way in).
func (m *simModel) issued(f *simFlight) {
	l := f.lineage
	last := -1
	for i, c := range f.resp.cookies {
		if c.Name == tokCookieName && c.MaxAge >= 0 {
			last = i
		}
	}
	for i, c := range f.resp.cookies {
		if c.Name != tokCookieName || c.MaxAge < 0 {
			continue
		}
		hv := tokenHandle(c.Value)
		h := m.handle(hv)
		own := i == last && f.resp.status == 200 && (f.act == actLogin || f.act == actRenew)
		if h.user == "" {
			h.user = f.resp.user
			if own && f.act == actLogin {
				h.user = f.user
			}
		}
		if own {
			h.authMax = m.now()
		}
		m.parties[l].handles[hv] = true
		m.parties[f.party].handles[hv] = true
		t, seen := m.tokens[c.Value]
		if !seen {
			m.seq++
			t = &mToken{value: c.Value, handle: hv, seq: m.seq, issuedAt: m.now(), lineage: l}
			m.tokens[c.Value] = t
			h.tokens = append(h.tokens, c.Value)
		}
		if h.authMax.After(t.bound) {
			t.bound = h.authMax
		}
	}
}

// afterAct updates the model with what the act did on the server.
func (m *simModel) afterAct(f *simFlight) {
	ok, as := f.resp.status == 200, f.resp.user
	l := f.lineage
	thief := m.r.parties[f.party].thief
	switch {
	case !ok:
	case f.act == actWrite:
		m.values[f.value] = mValue{user: as, party: f.party}
		if thief {
			m.forgetLineage(l, "thief wrote")
			m.forgetHolders(f.session, "thief wrote into its session")
		} else {
			mp := m.parties[f.party]
			w := mWrite{v: f.value, saveStep: f.answeredStep, session: f.session, handle: servedHandle(f), sid: f.resp.sid}
			mp.writes, mp.saved = append(mp.writes, w), append(mp.saved, w)
			if f.session == "" {
				// A new session: which one the browser keeps is the
				// order its responses land in.
				mp.dataKnown = false
			}
		}
	case f.act == actLogout || f.act == actGinLogout:
		if as != "" {
			m.end(tokenHandle(f.token), f.act.String())
		}
		m.forgetLineage(l, f.act.String())
		if as == "" && f.act == actGinLogout {
			m.anonymousSessionDeleted(f)
		}
	case f.act == actRevokeOthers:
		m.revokeOthers(as, l, tokenHandle(f.token))
		if cur := tokenHandle(m.r.parties[l].jar.vals[tokCookieName]); m.handle(cur).maybeEnded {
			// It holds its other record now (a cookieless double
			// submit's): two such submits are two browsers (DESIGN.md,
			// "Cookieless sign-in"), and this revoke may count it as
			// another device's.
			m.forgetLineage(l, "revoke-others of its cookieless sibling")
		} else if cur != tokenHandle(f.token) {
			m.parties[l].staleRevoke = true
		}
		if m.r.busy(f.party, f) {
			// A response still on its way may sign it in as a record
			// that this revoke counted as another device's.
			m.forgetLineage(l, "revoke-others with a login in flight")
		}
	case f.act == actRenew && thief:
		m.forgetLineage(l, "thief renewed")
	}
	if thief && f.token != "" && f.resp.reason != "" && f.resp.reason != "device_binding_required" {
		// (A bound record's stale copy refused ends nothing: DESIGN.md,
		// "Lifecycle", so its browser stays as the model expects.)
		m.forgetLineage(l, "thief's request refused: "+f.resp.reason)
	}
}

func (m *simModel) revokeOthers(user string, l int, presented string) {
	for hv, h := range m.handles {
		switch {
		case h.user != user:
		case !m.parties[l].handles[hv]:
			m.end(hv, "revoke-others")
		case hv != presented:
			// The requester's own other record (a cookieless double
			// submit makes two): the server may count it as another
			// device's.
			h.maybeEnded = true
		}
	}
	for i, p := range m.parties {
		// Not only the browsers the model expects signed in as user: one
		// whose sign-in it had forgotten (two users' logins in parallel)
		// may hold a record of user's all the same, as RevokeUser's
		// (simulation_run_test.go).
		if m.lineage(i) != l && (p.user == user || m.userOfLineage(m.lineage(i), user)) {
			m.forget(i, "revoke-others")
		}
	}
}

// onApply is a response's Set-Cookie reaching its browser.
func (m *simModel) onApply(f *simFlight) {
	mp := m.parties[f.party]
	if m.r.parties[f.party].thief {
		return
	}
	m.notePair(f, mp)
	m.noteSessionCookie(f, mp)
	if tok := lastToken(f.resp.cookies); f.act != actLogin && tok != "" && m.successorRenewed(tokenHandle(tok), f) {
		// A token of a record a login of the browser replaced (any
		// status: a refused write sends one too), landing after a Renew
		// of that login's record: forwarding lasts until the successor
		// rotates (DESIGN.md, "Grace period"; README: "until the new
		// session rotates"), so the browser is anonymous. The model
		// expected the login's sign-in (memstore/1 seed
		// 8803993063103001251 step 84: a write verified with the old
		// record's token, rotating it, answered after the re-login and
		// before the Renew, landing after the Renew's response).
		m.forget(f.party, "a token of a replaced record after its successor's Renew")
	}
	if tok := lastToken(f.resp.cookies); f.act != actLogin && tok != "" && m.replacedTwice(tokenHandle(tok), f) {
		// A token of a record whose successor a second login replaced
		// too: marker chains are one step long, so nothing is forwarded
		// (README "Known limits"). The model, which expected the newest
		// login's sign-in, missed a Renew's response answered before two
		// re-logins and landing after both (cookie/1 seed
		// 3058264180579589039 step 59). The same where two logins each
		// replaced the record: it names one successor. Any status: a
		// write verified with the record's token rotated it and, refused
		// as stale after both logins, sends the rotated token (cookie/1
		// seed 1134407080456928871 step 85; the model looked only at
		// answers of 200).
		m.forget(f.party, "a token of a record two logins replaced")
	}
	if f.resp.status != 200 {
		return
	}
	switch f.act {
	case actLogin:
		m.loginApplied(f, mp)
	case actWrite:
		m.writeApplied(f, mp)
	default:
		m.healedCopyApplied(f, mp)
	}
	if tok := lastToken(f.resp.cookies); f.act != actLogin && m.cutOffLoginToken(f, tok) {
		// A response answered before a newer login of the browser and
		// applied after it put back a login's token that the browser had
		// presented, of the record that login replaced: a re-login cuts
		// such a token off (DESIGN.md, "Superseded credentials": the
		// replaced record's presented token next to its session is what
		// a copy taken before the newer login holds), and the browser is
		// signed out. Its acknowledged writes stay in the newer login's
		// session, which it no longer holds ("Writes": a write is served
		// by the record it was written with). The model applied only a
		// login's late response this way and expected a late write's
		// response to leave the browser's data in place (memstore/1 seed
		// 1823257934927080459 step 43: a joined login's token, answered
		// to a write's first presentation of its twin's, landing after a
		// re-login).
		m.forget(f.party, "a login's presented token put back after a newer login")
		mp.exp = expAnon
	}
}

// cutOffLoginToken reports whether tok, set by f's response, is a token a
// login of f's browser set, presented before a newer login of the browser,
// answered after f, replaced its record.
func (m *simModel) cutOffLoginToken(f *simFlight, tok string) bool {
	t, ok := m.tokens[tok]
	if tok == "" || !ok || t.presented.IsZero() || !m.loginIssued(f.lineage, tok) {
		return false
	}
	replacedAt, ok := m.replacedByLaterLogin(f, t.handle)
	return ok && (t.presented.Before(replacedAt) || m.reLoginPresented(f, tok))
}

// reLoginPresented reports whether a login of f's browser answered after
// f, signed in, presented tok itself: it was presented before that login
// replaced its record (at one instant of the simulated clock, which
// presentedAt alone cannot order).
func (m *simModel) reLoginPresented(f *simFlight, tok string) bool {
	for _, o := range m.r.flights {
		if o.act == actLogin && o.lineage == f.lineage && o.token == tok && o.resp.status == 200 &&
			o.resp.user != "" && o.answeredStep > f.answeredStep {
			return true
		}
	}
	return false
}

// loginIssued reports whether a login of browser l set tok as its own
// token.
func (m *simModel) loginIssued(l int, tok string) bool {
	for _, o := range m.r.flights {
		if o.act == actLogin && o.lineage == l && o.resp.status == 200 && lastToken(o.resp.cookies) == tok {
			return true
		}
	}
	return false
}

// replacedTwice reports whether a login of f's browser, answered before f
// was applied, replaced record h, and another replaced that login's
// record, or h again: two logins that each presented h's token (one held
// since before a rotation of h, committing after a re-login from the
// rotated pair) make two records, and h names the newer its successor
// (DESIGN.md, "Grace period", forwarding: only that successor's session,
// the session it replaced, or the one h's own login replaced is
// forwarded from). A late response of h next to the session the other
// login marked is foreign (memstore/1 seed 3588641416372172197 step 44:
// a Renew's token, never presented, landing after both).
func (m *simModel) replacedTwice(h string, f *simFlight) bool {
	next := m.successors(h, f)
	for _, n := range next {
		if len(m.successors(n, f)) > 0 || n != next[0] {
			return true
		}
	}
	return false
}

// successorRenewed reports whether a Renew of a record that a login of
// f's browser made in place of record h was answered by now: a Renew is a
// rotation of the successor, and h's tokens are no longer forwarded to it.
func (m *simModel) successorRenewed(h string, f *simFlight) bool {
	for _, n := range m.successors(h, f) {
		for _, o := range m.r.flights {
			if o.act == actRenew && o.resp.status == 200 && o.resp.user != "" && o.answeredStep != 0 && tokenHandle(o.token) == n {
				return true
			}
		}
	}
	return false
}

// successors are the records that logins of f's browser, answered by now,
// made in place of record h (they presented its token, or were forwarded
// into it).
func (m *simModel) successors(h string, f *simFlight) []string {
	var out []string
	for _, o := range m.r.flights {
		if o.act != actLogin || o.lineage != f.lineage || m.r.parties[o.party].thief || o.resp.status != 200 ||
			o.resp.user == "" || o.answeredStep == 0 || (tokenHandle(o.token) != h && !loginForwardedInto(o, h)) {
			continue
		}
		if next := tokenHandle(lastToken(o.resp.cookies)); next != "" && next != h {
			out = append(out, next)
		}
	}
	return out
}

// notePair notes whether the browser's session cookie is surely its
// token's record's own after applying f: a response that sets both is a
// pair (a login's, but for a late one); one that sets the session cookie alone gives the own
// session only to a request served authenticated with the token the
// browser still holds (healing sends it again); one that sets the token
// alone keeps the pair only for a rotation of the record the request
// presented, next to the session cookie the browser still holds. Behind
// tossed cookies an unsure pair is not healed (DESIGN.md, "Tossed
// cookies"): the model forgets the browser.
func (m *simModel) notePair(f *simFlight, mp *mParty) {
	jar := m.r.parties[f.party].jar.vals
	tok, sess := jar[tokCookieName], jar[simSessionName]
	setsTok, setsSess := touchesCookie(f.resp.cookies, tokCookieName), touchesCookie(f.resp.cookies, simSessionName)
	switch {
	case setsTok && setsSess:
		// (A login's, unless another login of the browser answered after
		// it: its record may be replaced, its pair then forwarded.)
		mp.pairUnsure = tok == "" || sess == "" || m.loginAnsweredAfter(f) || m.renewAnsweredAfter(f)
		if f.act == actLogin && f.resp.status == 200 {
			mp.loginSession = sess
		}
	case setsSess:
		mp.pairUnsure = sess == "" || f.resp.user == "" || f.token != tok
	case setsTok:
		mp.pairUnsure = mp.pairUnsure || !m.tokenKeepsPair(f, mp, tok, sess)
	}
	if mp.pairUnsure && len(m.r.parties[f.party].jar.tossed) > 0 {
		m.forget(f.party, "tossed cookies in front of a session cookie not surely its record's")
	}
}

// tokenKeepsPair reports whether a response that set the token alone
// (now tok, next to sess) keeps the browser's pair its record's own: a
// rotation of the record the request presented next to the session
// cookie the browser still holds, or a rotation in flight across the
// browser's login that replaced its record, next to that login's own
// session cookie (forwarded, "Grace period": the successor's own cookie
// wins among several).
func (m *simModel) tokenKeepsPair(f *simFlight, mp *mParty, tok, sess string) bool {
	rotation := tok != "" && f.resp.user != "" && tokenHandle(f.token) == tokenHandle(tok) && f.session == sess
	forwarded := sess != "" && sess == mp.loginSession && f.sentStep <= mp.loginStep && m.loginReplaced(f, mp)
	return rotation || forwarded
}

// loginReplaced reports whether the browser's last login (mp's, whose
// record the browser's session cookie is) presented the record f
// presented, so replaced it: only a replaced record's rotation is
// forwarded, and only to its direct successor ("Grace period"). A
// cookieless double submit's other login replaced nothing; that record's
// rotation next to this login's session cookie is not forwarded: alone
// it is healed into its own record's session (DESIGN.md, "The user's
// other sessions"), behind tossed cookies it is foreign. Two logins in a
// row replaced f's record, then its successor: the successor is gone and
// the rotation is not forwarded.
func (m *simModel) loginReplaced(f *simFlight, mp *mParty) bool {
	for _, o := range m.r.flights {
		if o.act == actLogin && o.lineage == f.lineage && !m.r.parties[o.party].thief && o.resp.status == 200 &&
			o.token != "" && tokenHandle(o.token) == tokenHandle(f.token) &&
			tokenHandle(lastToken(o.resp.cookies)) == mp.loginHandle {
			return true
		}
	}
	return false
}

// loginAnsweredAfter reports whether a login of f's party succeeded after
// f was answered.
func (m *simModel) loginAnsweredAfter(f *simFlight) bool {
	for _, o := range m.r.flights {
		if o != f && o.party == f.party && o.act == actLogin && o.resp.status == 200 && o.answeredStep > f.answeredStep {
			return true
		}
	}
	return false
}

// renewAnsweredAfter reports whether a Renew of the record whose token f
// set was answered after f: on memstore and Redis it moved the record's
// session, so f's session cookie is the one that Renew replaced, healed
// alone, but behind tossed cookies not the record's own (DESIGN.md,
// "Tossed cookies"). The model took a joined login's late pair, applied
// after a Renew of its record, for the record's own and expected the
// browser signed in behind tossed cookies (redis/2 seed
// 4531887672877962921 step 76). On the cookie store a Renew keeps the
// session's identity (README, "Known limits").
func (m *simModel) renewAnsweredAfter(f *simFlight) bool {
	h := tokenHandle(lastToken(f.resp.cookies))
	if m.r.kind == "cookie" || h == "" {
		return false
	}
	for _, o := range m.r.flights {
		if o.act == actRenew && o.resp.status == 200 && o.resp.user != "" && o.answeredStep > f.answeredStep && tokenHandle(o.token) == h {
			return true
		}
	}
	return false
}

// noteSessionCookie notes an anonymous response's session cookie: one
// that expires a signed-in browser's, or the fresh session of a token
// whose session went away.
func (m *simModel) noteSessionCookie(f *simFlight, mp *mParty) {
	if mp.exp == expUser && f.sentStep < mp.loginStep && setsCookie(f.resp.cookies, simSessionName) {
		mp.lateSession = true
	}
	m.noteLateSession(f, mp)
	if f.act == actLogin && lastToken(f.resp.cookies) != "" {
		// A login's answer carries the pre-login verdict (anonymous) but
		// its session cookie is the new record's, signed in, not a fresh
		// anonymous session; and the browser holds the login's token now,
		// not the one that came alone. The model took that session for
		// the fresh one whenever loginApplied left its state as it was (a
		// request of the browser still in flight): a late response that
		// then put the ended token back beside it made a pair the server
		// rightly finds foreign (a signed-in session's cookie without its
		// token; DESIGN.md, "Verdicts"), which the model expected writable
		// (memstore/2 seed 9072270062857364189 step 64, redis-2pools/2
		// seed 3638099897827006621 step 57).
		mp.tokenAlone, mp.freshSession = "", ""
		return
	}
	if f.resp.user != "" {
		return
	}
	if mp.exp == expUser && expiresCookie(f.resp.cookies, simSessionName) {
		mp.sessionExpiredLate = true
	}

	if mp.tokenAlone == "" || f.sentStep < mp.aloneStep {
		// (A response to a request sent before: its session cookie is
		// not the fresh session, late-session-cookie's to judge.)
		return
	}
	for _, c := range f.resp.cookies {
		if c.Name == simSessionName && c.MaxAge >= 0 {
			mp.freshSession = c.Value
		}
	}
}

// noteLateSession notes the session cookie of an anonymous response sent
// before the browser's last login and applied after it, when the model
// knows what the server makes of it next to the login's token
// (lateAnonymousSession): a new session, or any session when the login
// marked none. A session the login's request presented too is the one
// the login marked: healed at any time, as the model expects already.
func (m *simModel) noteLateSession(f *simFlight, mp *mParty) {
	m.lateSessionReplaced(f, mp)
	if mp.exp != expUser || f.sentStep >= mp.loginStep || len(m.r.parties[f.party].jar.tossed) > 0 {
		return
	}
	v, _ := sessionCookieSet(f)
	switch {
	case v == "", f.resp.user != "":
		// (A signed-in response's session cookie is its record's own:
		// healed by a marker, or another record's, late-session-cookie's.)
	case !f.hasSession:
		mp.lateAnon, mp.lateAnonKind = v, lateFresh
	case mp.loginSent == "":
		mp.lateAnon, mp.lateAnonKind = v, lateUnlinked
	case f.resp.sid != "" && f.resp.sid != mp.loginSid:
		// Another anonymous session of the browser than the one the
		// login marked: a response of the browser's older session, put
		// back before the login, made the login mark that one (cookie/1
		// seed 4067604566396897065 step 96: the late write's session,
		// applied after the window, is foreign by the documented limit,
		// DESIGN.md "Cookieless sign-in"; the model expected the browser
		// signed in). Marked by a login of the user's, it is the user's
		// own session ("The user's other sessions"), healed at any time,
		// unless that login's record ended: the model forgets.
		if m.loginFrom(f.resp.sid, mp.user) {
			m.forget(f.party, "a late session that a login of the user marked")
			return
		}
		mp.lateAnon, mp.lateAnonKind = v, lateUnlinked
	}
}

// loginFrom reports whether a login of user, by any party, was served the
// session sid (its identity) and signed in: it marked that session.
func (m *simModel) loginFrom(sid, user string) bool {
	for _, o := range m.r.flights {
		if o.act == actLogin && o.user == user && o.resp.status == 200 && o.resp.sid == sid {
			return true
		}
	}
	return false
}

// lateSessionReplaced: a response applied over the late session cookie
// (lateAnon) takes it out of the jar. One served as the login's record
// (a request healed within the window and answered late) puts the
// record's own session cookie back beside its token: the browser is
// signed in again, nothing having ended. After any other the model
// forgets, where it expected the browser anonymous because of lateAnon.
func (m *simModel) lateSessionReplaced(f *simFlight, mp *mParty) {
	v, ok := sessionCookieSet(f)
	if mp.lateAnon == "" || !ok || v == mp.lateAnon {
		return
	}
	if mp.lateAnonStep != 0 && mp.exp == expAnon && mp.forgotStep == mp.lateAnonStep {
		if f.resp.user == mp.user && tokenHandle(f.token) == mp.loginHandle && v != "" {
			mp.exp = expUser
		} else {
			m.forget(f.party, "a response over the late session cookie")
		}
	}
	mp.lateAnon, mp.lateAnonKind, mp.lateAnonStep = "", 0, 0
}

// sessionCookieSet is the session cookie f's response sets ("" for an
// expiry), and whether it sets one.
func sessionCookieSet(f *simFlight) (string, bool) {
	v, ok := "", false
	for _, c := range f.resp.cookies {
		if c.Name == simSessionName {
			v, ok = c.Value, true
			if c.MaxAge < 0 {
				v = ""
			}
		}
	}
	return v, ok
}

// lateAnonymousSession sets what a request of a browser must be served
// as when it presents its last login's token next to a late anonymous
// session cookie (noteLateAnonymous). Within the login's window (until
// its record is first presented, or GracePeriod after the login,
// whichever is later; none when GracePeriod < 0) an unmarked session
// without a handle is the browser's late response, healed; after it,
// any such session is foreign until the browser signs in again, the
// acknowledged write in it hidden (DESIGN.md, "Cookieless sign-in": the
// limit is chosen, a token alone must not open a session). The model
// expected the browser signed in whenever the response landed, and
// classed the foreign answer as a fault (late-session-cookie). Near the
// window's edge, or where a marker may name the session, it forgets.
func (m *simModel) lateAnonymousSession(f *simFlight) {
	mp := m.parties[f.party]
	if mp.lateAnon == "" || m.r.parties[f.party].thief {
		return
	}
	if f.session != mp.lateAnon {
		mp.lateAnon, mp.lateAnonKind = "", 0 // the browser holds another session cookie now
		return
	}
	if mp.exp != expUser || tokenHandle(f.token) != mp.loginHandle || len(m.r.parties[f.party].jar.tossed) > 0 {
		return
	}
	h := m.handle(mp.loginHandle)
	if len(h.tokens) == 0 {
		return
	}
	// The record was created when its first token was issued: a login
	// commits and answers at one instant of the simulated clock. Shown
	// but not yet served: a held request may have presented it.
	grace, age := m.r.w.cfg.GracePeriod, m.now().Sub(m.tokens[h.tokens[0]].issuedAt)
	switch {
	case grace >= 0 && (age <= grace || !h.shown):
		// Within the window: healed, if nothing marked the session.
		if mp.lateAnonKind != lateFresh {
			m.forget(f.party, "late session within the login's window, maybe marked")
		}
	case grace < 0, h.presented:
		mp.exp, mp.dataKnown, mp.forgotStep, mp.lateAnonStep = expAnon, false, m.r.step, m.r.step
		mp.why += "late anonymous session after the login's window; "
	default:
		m.forget(f.party, "late anonymous session: the login's record maybe presented")
	}
}

// writeApplied marks a write applied; a browser whose data the model had
// forgotten holds, once nothing else of its is in flight, the session
// this write went into: it and every acknowledged write saved in that
// session after it.
func (m *simModel) writeApplied(f *simFlight, mp *mParty) {
	for _, ws := range [][]mWrite{mp.writes, mp.saved} {
		for i := range ws {
			if ws[i].v == f.value {
				ws[i].applyStep = m.r.step
			}
		}
	}
	if m.otherSignInsSession(f) {
		// Served next to the browser's token, that session cookie is
		// healed into the token's record's own session (DESIGN.md, "The
		// user's other sessions"): the write stays in its record's
		// session, not the browser's ("Writes"). The model expected the
		// write read back (redis-2pools/1 seed 1780565890198899471 step
		// 50: a double submit's second login, past the join window, and a
		// write of the re-login that replaced the first, landing last).
		mp.dataKnown = false
		return
	}
	tossed := len(m.r.parties[f.party].jar.tossed) > 0 // which session the server reads is its choice
	if mp.dataKnown || tossed || m.r.busy(f.party, f) || f.sentStep <= mp.forgotStep || f.answeredStep <= mp.emptiedStep {
		return
	}
	if tokenHandle(m.r.parties[f.party].jar.vals[tokCookieName]) != tokenHandle(f.token) {
		// The write's session cookie next to other credentials than the
		// write's (DESIGN.md, "Outcomes"): a signed-in session's cookie
		// whose token a Logout's response expired is foreign, its data
		// hidden; an anonymous session's cookie that a login retired, put
		// back next to the login's token, is healed into the record's
		// own session. Either way not the session this write went into.
		return
	}
	// The write itself, even where the model dropped it meanwhile: a
	// login of another user applied between its answer and its apply
	// drops it (it is that user's session's, not the browser's), but
	// when the browser holds the write's credentials again (its
	// responses applied out of order) the write is in the session it now
	// holds ("Writes"). Taking it only from mp.writes had the model
	// expect that session empty.
	// The later writes of its session likewise: a login of another
	// user applied meanwhile dropped those too, yet they are in the
	// session the browser holds again, saved after this one (memstore/1
	// seed 7222702662864141309 step 105: the model expected this write
	// where a later one of the same session was read).
	ws := []mWrite{{v: f.value, saveStep: f.answeredStep, applyStep: m.r.step, session: f.session, handle: servedHandle(f), sid: f.resp.sid}}
	for _, w := range mp.saved {
		if w.v != f.value && w.saveStep >= f.answeredStep && (f.session != "" && w.session == f.session || m.movedBy(f, w)) {
			ws = append(ws, w)
		}
	}
	mp.dataKnown, mp.writes = true, ws
	// A write held across a timeout is saved into a session whose record
	// the next request finds timed out (DESIGN.md, "Timeouts").
	m.timeouts(f.party)
}

// healedCopyApplied forgets the data of a browser on the cookie store
// that applies a signed-in response other than a write or a login
// carrying a session cookie (a heal's full copy, taken at its
// verification) after a write of the same record saved since that
// verification: a heal that takes over values from another cookie (a late
// anonymous session's, "Cookieless sign-in") is itself a data write, under
// last-write-wins between parallel data writes (DESIGN.md, "Writes"). The
// model expected the write read back (cookie/1 seed 3079403079439680019
// step 86: a Renew healed next to a late anonymous session, held while a
// write of the healed session was acknowledged and applied, landed last).
// A copy of another record than the write's (a heal answered after a
// re-login, or forwarded) is still checked: those are not sent.
func (m *simModel) healedCopyApplied(f *simFlight, mp *mParty) {
	if v, ok := sessionCookieSet(f); m.r.kind != "cookie" || f.act == actLogin || !ok || v == "" || servedHandle(f) == "" {
		return
	}
	for _, w := range mp.writes {
		if w.applyStep != 0 && w.saveStep > f.sentStep && w.handle == servedHandle(f) {
			mp.dataKnown = false // the sign-in is as the response says
			mp.why += "a healed copy taken before a write landed after it; "
			return
		}
	}
}

// otherSignInsSession reports whether write f's response, applied, put
// the session cookie of the record it was served as (alone, no token)
// next to a token of another record of the same user that the browser
// holds now: a sign-in of the browser that f's record did not make (a
// double submit's other record, a login that could not join). On
// memstore and Redis the server serves such a pair the token's record's
// own session; on the cookie store the cookie is the session, adopted as
// it is.
func (m *simModel) otherSignInsSession(f *simFlight) bool {
	if m.r.kind == "cookie" || touchesCookie(f.resp.cookies, tokCookieName) {
		return false
	}
	w, cur := servedHandle(f), tokenHandle(m.r.parties[f.party].jar.vals[tokCookieName])
	return w != "" && cur != "" && cur != w && m.handle(cur).user == m.handle(w).user
}

// movedBy reports whether w, saved after write f as the same record, went
// into the session a Renew moved f's to: on memstore and Redis f's session
// cookie, the pre-Renew one, is healed into the moved session, which holds
// w ("Writes"). The model, looking only at w's session cookie, expected
// f's value alone (memstore/2 seed 6757370099895870325 step 29). On the
// cookie store a Renew keeps the session cookie, and the copy applied last
// is the session.
func (m *simModel) movedBy(f *simFlight, w mWrite) bool {
	return m.r.kind != "cookie" && w.handle != "" && w.handle == servedHandle(f) && w.session != f.session
}

func (m *simModel) loginApplied(f *simFlight, mp *mParty) {
	if t, ok := m.tokens[lastToken(f.resp.cookies)]; ok {
		if replacedAt, ok := m.replacedByLaterLogin(f, t.handle); ok {
			// A newer login, sent with this login's credentials, replaced
			// its record before this response landed: the browser now
			// holds a replaced record's token. Forwarded only if the
			// browser never presented it, which the model cannot follow
			// (the successor may have rotated since); one it presented
			// is dead (DESIGN.md, "Outcomes": a thief's copy taken before
			// the newer login holds the very same bytes). Presented
			// before the newer login committed, that is: a presentation
			// after it was itself a forward of the replaced record's
			// token, which every such request is sent again, the same
			// forwarded token (DESIGN.md, "Ordering principle" 4); the
			// model, which counted any presentation, expected the browser
			// signed out where the server forwards it (cookie/1 seed
			// 1890706786875131333 step 85).
			m.forget(f.party, "a login's response landed after a newer login")
			if !t.presented.IsZero() && t.presented.Before(replacedAt) {
				mp.exp = expAnon
			}
			return
		}
	}
	h := m.handle(tokenHandle(lastToken(f.resp.cookies)))
	if !h.presented && len(h.tokens) > 0 && m.now().Sub(m.tokens[h.tokens[0]].issuedAt) >= time.Minute {
		// A login's response applied long after its record was made, the
		// record never presented: it may have ended (UnpresentedAge, DESIGN.md,
		// "Cookieless sign-in"), its session's data hidden with it
		// ("Endings"). timeouts says so only for a browser the model
		// expects signed in; unsure of the sign-in (a request of the
		// browser in flight), it kept the data the login carried
		// (cookie/1 seed 2601430577973471169 step 87: applied five
		// minutes late, read anonymous, expired).
		m.forget(f.party, "never presented")
	}
	if h.endedStep != 0 || h.maybeEnded || f.answeredStep < mp.forgotStep {
		// Unsure of the sign-in, not of what the login carried: over
		// another user's session it started empty all the same
		// (DESIGN.md, "Carry-over"). The model returned before loginData
		// and kept the previous user's writes where the login's record
		// was maybe ended (a waiting one over MaxUnpresented), expecting
		// them in the new user's session (memstore/1 seed
		// 4505153843345193727 step 97).
		mp.exp = expUnknown
		m.loginData(f, mp)
		return
	}
	if mp.exp == expUser && mp.user != f.user {
		mp.exp = expUnknown
	} else if addr := m.r.parties[f.party].addr; !sameNetwork(f.addr, addr) {
		// The login bound its record to the address the request left
		// from (it joins no login bound elsewhere); the browser has moved
		// on since (DESIGN.md, "IP binding"): as after an address change,
		// the model forgets.
		m.forget(f.party, "address changed")
	} else if mp.exp != expUnknown || !m.r.busy(f.party, f) {
		mp.exp, mp.user, mp.why, mp.sessionExpiredLate, mp.staleRevoke, mp.lateSession = expUser, f.user, "", false, false, false
		mp.loginAt, mp.loginHandle, mp.loginStep = f.answeredAt, tokenHandle(lastToken(f.resp.cookies)), m.r.step
		mp.tokenAlone, mp.freshSession = "", ""
		mp.loginSent, mp.lateAnon, mp.lateAnonKind, mp.lateAnonStep = f.session, "", 0, 0
		mp.loginSid = f.resp.sid
		m.timeouts(f.party)
	}
	m.loginData(f, mp)
	for _, o := range m.r.flights {
		overlaps := o.settledStep == 0 || o.settledStep >= f.sentStep
		if o.party == f.party && o.act == actLogin && o.user != f.user && overlaps {
			mp.exp = expUnknown // parallel logins of two users: which one is last is the server's order
		}
	}
}

// replacedByLaterLogin reports whether a login of f's browser, answered
// after f and served as a user of f's record h (it presented h's
// credentials, or was forwarded into h: loginForwardedInto), replaced h,
// and when the first such login committed (was answered).
func (m *simModel) replacedByLaterLogin(f *simFlight, h string) (time.Time, bool) {
	var at time.Time
	for _, o := range m.r.flights {
		if o.act == actLogin && o.lineage == f.lineage && !m.r.parties[o.party].thief && o.resp.status == 200 &&
			o.answeredStep > f.answeredStep && o.resp.user != "" && (tokenHandle(o.token) == h || loginForwardedInto(o, h)) &&
			(at.IsZero() || o.answeredAt.Before(at)) {
			at = o.answeredAt
		}
	}
	return at, !at.IsZero()
}

// loginForwardedInto reports whether login o presented the token of a
// record h had replaced and was forwarded into h before its handler
// signed in (its response sets a token of h before its own, of another
// record): the login then replaced h as a login on h's own token would.
// The model, which looked only at the token a login presented, held a
// response of h's login landing after such a login (and one more) as the
// browser's sign-in, where h's successor was replaced too and nothing is
// forwarded (memstore/1 seed 2170060667699695797 step 76: marker chains
// are one step long, README "Known limits").
func loginForwardedInto(o *simFlight, h string) bool {
	last := lastToken(o.resp.cookies)
	if tokenHandle(o.token) == h || tokenHandle(last) == h {
		return false
	}
	for _, c := range o.resp.cookies {
		if c.Name == tokCookieName && c.MaxAge >= 0 && c.Value != last && tokenHandle(c.Value) == h {
			return true
		}
	}
	return false
}

// loginData forgets a browser's data when a login may not carry it: over
// another user's session (it starts empty), or on the cookie store in
// parallel with a write (the last cookie applied wins).
func (m *simModel) loginData(f *simFlight, mp *mParty) {
	// Writes served as another user went into that user's session (a
	// parallel login of that user from the same session committed first,
	// and the browser wrote with its credentials before this login's
	// response landed): a login never carries them (DESIGN.md,
	// "Carry-over").
	mp.writes = slices.DeleteFunc(mp.writes, func(w mWrite) bool {
		u := m.values[w.v].user
		return u != "" && u != f.user
	})
	if prev := f.resp.user; prev != "" && prev != f.user {
		mp.dataKnown = false
		mp.emptiedStep = max(mp.emptiedStep, f.answeredStep)
	}
	if m.takenByOtherLogin(f) {
		mp.dataKnown = false
		mp.emptiedStep = max(mp.emptiedStep, f.answeredStep)
	}
	if f.token != "" && f.resp.user == "" && f.resp.reason != "" {
		// Its credentials had ended: the session cookie next to them is
		// most likely their tombstoned session, and a login over it
		// starts empty (DESIGN.md, "Carry-over").
		mp.dataKnown = false
		mp.emptiedStep = max(mp.emptiedStep, f.answeredStep)
	}
	if h, ok := m.sidRecord[f.resp.sid]; ok && f.resp.user == "" && m.handle(h).endedStep != 0 && m.handle(h).endedStep <= f.answeredStep {
		// An anonymous login from the session of a record that had
		// ended: its marker is a tombstone, and the login starts empty,
		// whatever the browser wrote into the emptied session since
		// (DESIGN.md, "Carry-over": nothing written after an ending is
		// carried). The model missed it where the browser held no token
		// any more and a late response had put the ended record's
		// session cookie back (memstore/1 seed 142430939348886725). On
		// the cookie store it missed it always: the session's identity
		// there (the ended record's handle, kept inside the emptied
		// session) was not reported (cookie/1 seed 3808317555585613871,
		// cookie/2 seed 5413655178831232915: a gin-logout or Logout, then
		// a late signed-in write's cookie, an anonymous write, a login).
		mp.dataKnown = false
		mp.emptiedStep = max(mp.emptiedStep, f.answeredStep)
	}
	if step, ok := m.sidEnded[f.resp.sid]; ok && f.resp.user == "" && step <= f.answeredStep {
		// The same, for a record the model learnt had timed out.
		mp.dataKnown = false
		mp.emptiedStep = max(mp.emptiedStep, f.answeredStep)
	}
	if m.wroteIntoAnotherSignIn(f, mp) {
		mp.dataKnown = false
		mp.emptiedStep = max(mp.emptiedStep, f.answeredStep)
	}
	if !f.hasSession {
		// A login from a browser that sent no session cookie makes its
		// own empty session: two such submits are two browsers
		// (DESIGN.md, "Cookieless sign-in"), and the writes saved before
		// it went into another session.
		mp.dataKnown = false
		mp.emptiedStep = max(mp.emptiedStep, f.answeredStep)
	}
	for _, w := range mp.writes {
		if m.r.kind == "cookie" && w.applyStep >= f.sentStep {
			mp.dataKnown = false
		}
	}
}

// servedHandle is the record a request was served as, "" where it was
// anonymous.
func servedHandle(f *simFlight) string {
	if f.resp.user == "" {
		return ""
	}
	return tokenHandle(f.token)
}

// wroteIntoAnotherSignIn reports whether the browser saved, while login f
// was in flight, a write as another record of f's user than the one f
// presented or made: a parallel login of the browser that could not join
// f's (a double submit's twin whose join target a newer login had
// replaced makes a record of its own, DESIGN.md, "Refusals") is another
// sign-in, and once f lands last the write is not the browser's
// ("Writes"). Which record holds what is then the order of the responses:
// the model forgets the data (memstore/2 seed 6988763901569779001 step
// 77).
func (m *simModel) wroteIntoAnotherSignIn(f *simFlight, mp *mParty) bool {
	own := tokenHandle(lastToken(f.resp.cookies))
	for _, w := range mp.writes {
		if w.handle != "" && w.handle != tokenHandle(f.token) && w.handle != own &&
			w.saveStep >= f.sentStep && m.values[w.v].user == f.user {
			return true
		}
	}
	return false
}

// takenByOtherLogin reports whether a login of another user from the same
// anonymous session was in flight with f: whichever marked the session
// first took it and its values, and the other starts empty (DESIGN.md,
// "Carry-over"). The order of the markers is the server's, so the model
// forgets the data. A twin login of f's user made a separate record then
// (it finds the other user's marker, not its twin's): a write into that
// record is not in f's, which the browser holds once f lands last
// (DESIGN.md, "Writes").
func (m *simModel) takenByOtherLogin(f *simFlight) bool {
	if f.resp.user != "" || f.session == "" {
		return false
	}
	for _, o := range m.r.flights {
		overlaps := (o.settledStep == 0 || o.settledStep >= f.sentStep) && o.sentStep <= f.answeredStep
		if o.party == f.party && o.act == actLogin && o.user != f.user && o.session == f.session && overlaps {
			return true
		}
	}
	return false
}

// onClock forgets sign-ins that may have timed out.
func (m *simModel) onClock() {
	for i := range m.parties {
		m.timeouts(i)
	}
}

// timeouts forgets a party's sign-in if it may have timed out: idle, past
// its absolute timeout, or (a rule may end it) never presented for a
// minute since its login.
func (m *simModel) timeouts(i int) {
	cfg, mp := m.r.w.cfg, m.parties[i]
	tok := m.r.parties[i].jar.vals[tokCookieName]
	if mp.exp != expUser && (!mp.dataKnown || tok == "") {
		return // (data the model knows next to a token is that record's session's: it ends with it)
	}
	h := m.handle(tokenHandle(tok))
	now := m.now()
	last := h.lastActive
	if mp.loginAt.After(last) {
		last = mp.loginAt
	}
	switch {
	case now.Sub(last) >= cfg.IdleTimeout-cfg.TouchInterval:
		m.forget(i, "idle timeout")
	case now.Sub(mp.loginAt) >= cfg.AbsoluteTimeout-cfg.TouchInterval:
		m.forget(i, "absolute timeout")
	case !h.presented && now.Sub(mp.loginAt) >= time.Minute:
		m.forget(i, "never presented")
	case m.forwardsInto(tokenHandle(tok), mp.loginHandle) && !m.handle(mp.loginHandle).presented && now.Sub(mp.loginAt) >= time.Minute:
		// A late response put back a token of the record the login
		// replaced: it is forwarded into the login's record, which ends
		// like any login's never presented within UnpresentedAge
		// (DESIGN.md, "Cookieless sign-in"). The model looked only at the
		// held token's record, presented before the login, and expected
		// the browser signed in (cookie/2 seed 6159144307836473635).
		m.forget(i, "never presented")
	}
}

// forwardsInto reports whether a login of the browser that presented a
// token of record h made record next (h replaced, next its successor):
// a late response of h is forwarded into next.
func (m *simModel) forwardsInto(h, next string) bool {
	if h == "" || next == "" || h == next {
		return false
	}
	for _, o := range m.r.flights {
		if o.act == actLogin && o.resp.user != "" && tokenHandle(o.token) == h && tokenHandle(lastToken(o.resp.cookies)) == next {
			return true
		}
	}
	return false
}

// ---- invariants ----

// checkAnswers (6): no 5xx without a store outage (the simulation has
// none); the sign-in route always answers (a correct password signs in).
func checkAnswers(m *simModel, f *simFlight) {
	r := f.resp
	if r.status >= 500 {
		m.r.violate("6 answers", "", "%s answered %d %s", f.act, r.status, r.code)
	}
	if f.act == actLogin && r.status != 200 {
		class := faultClass("")
		if r.code == "ip_mismatch" {
			class = faultIPLock
		}
		m.r.violate("6 answers", class, "POST /login as %s answered %d %s", f.user, r.status, r.code)
	}
}

// checkNoEscalation (1): a request is served with at most the privilege
// its credentials carried: no user without a token, no user the party's
// credentials never named, no step-up (MaxAuthAge) older credentials lack.
func checkNoEscalation(m *simModel, f *simFlight) {
	r := f.resp
	if r.user == "" {
		return
	}
	if f.token == "" {
		m.r.violate("1 no escalation", "", "served as %s without a token", r.user)
		return
	}
	if !m.userOfLineage(f.lineage, r.user) {
		m.r.violate("1 no escalation", "", "served as %s, a user the party's credentials never named", r.user)
	}
	if f.act != actAdmin || r.status != 200 {
		return
	}
	t := m.tokens[f.token]
	if t == nil || f.sentAt.Sub(t.bound) > simMaxAuthAge {
		bound := "never issued"
		if t != nil {
			bound = fmt.Sprintf("authenticated %v before", f.sentAt.Sub(t.bound))
		}
		m.r.violate("1 no escalation", "", "passed MaxAuthAge %v with a token %s", simMaxAuthAge, bound)
	}
}

func (m *simModel) userOfLineage(l int, user string) bool {
	for hv := range m.parties[l].handles {
		if m.handle(hv).user == user {
			return true
		}
	}
	return false
}

// checkEndedStaysEnded (3): after Logout or a revoke returned, no request
// verified later is served with that session, on any server; a replay the
// model is sure of is anonymous and ends the session; Renew on a session
// that ended while it was in flight does not report success.
func checkEndedStaysEnded(m *simModel, f *simFlight) {
	h := m.handle(tokenHandle(f.token))
	r := f.resp
	// Served as another user than the ended record's: a late response of a
	// record that a login of that user replaced, forwarded to the login's
	// own record (DESIGN.md, "Endings": the replaced record names its
	// successor), which did not end; whose data it sees is invariant 4's.
	if f.token != "" && r.user != "" && (h.user == "" || r.user == h.user) && h.endedStep != 0 && h.endedStep < f.sentStep && !m.loggedInSince(f.lineage, h.endedStep) {
		class := faultClass("")
		switch h.endWhy {
		case actGinLogout.String():
			class = faultGinLogout
		case "replay":
			class = faultOlderToken
		case "session lost":
			// The model ends the record it believes the browser's at a
			// request without the session cookie; with a login's answer
			// kept back that may be the wrong one (undecided: see the
			// cookie-gone row).
			class = faultCookieGone
		}
		m.r.violate("3 ended stays ended", class, "served as %s with a session ended at step %d (%s)", r.user, h.endedStep, h.endWhy)
	}
	if f.expectReplay {
		if r.user != "" {
			t := m.tokens[f.token]
			toks := m.handle(t.handle).tokens
			m.r.violate("3 ended stays ended", faultOlderToken, "a superseded token presented after its browser moved on was served as %s (%d of its record's %d tokens, first presented %s, late response %v)",
				r.user, slices.Index(toks, t.value)+1, len(toks), t.presented.Format("15:04:05.0"), t.lateFirst)
		}
		// A bound record's is refused, never ended (the replay rule's
		// exception). A record a login of the browser replaced before
		// this request was verified is not ended either: a replaced
		// record's token that is not forwarded is dead and ends nothing
		// (DESIGN.md, "Outcomes", the replaced rows), and its periodic
		// rotation's token, presented, is still forwarded to the
		// successor within the login's window ("Superseded
		// credentials"). The model ended it for the replay and then
		// called that forward a replayed session served again.
		hv := tokenHandle(f.token)
		if !m.boundAt(hv, f.sentStep+1) && !m.replacedByLogin(hv, m.tokens[f.token].lineage, f.sentStep+1) {
			m.end(hv, "replay")
		}
	}
	if f.act == actRenew && r.status == 200 && h.endedStep != 0 && h.endedStep >= f.sentStep {
		m.r.violate("3 ended stays ended", faultRenew, "Renew returned success on a session ended at step %d (%s) while it was in flight", h.endedStep, h.endWhy)
	}
}

// loggedInSince reports whether a login of lineage l succeeded after
// step: an ended record's late credentials may then be forwarded to it.
func (m *simModel) loggedInSince(l, step int) bool {
	for _, o := range m.r.flights {
		if o.act == actLogin && o.lineage == l && o.resp.status == 200 && o.answeredStep > step {
			return true
		}
	}
	return false
}

// checkDataIsolation (4): no user's session data is served to another
// user, nor to an anonymous request (the holder of an ended session).
func checkDataIsolation(m *simModel, f *simFlight) {
	r := f.resp
	if r.cart == "" {
		return
	}
	v, ok := m.values[r.cart]
	if !ok || v.user == "" || v.user == r.user {
		return
	}
	if r.user != "" {
		m.r.violate("4 data isolation", faultCarryOver, "served as %s with %s's data %q", r.user, v.user, r.cart)
		return
	}
	class := faultClass("")
	switch why := r.reason + " " + m.parties[f.party].why + m.parties[f.lineage].why; {
	case strings.Contains(why, "gin-logout"):
		class = faultGinLogout
	case strings.Contains(why, "revoke"), strings.Contains(why, "evicted"), strings.Contains(why, "expired"):
		class = faultRevokedData
	}
	m.r.violate("4 data isolation", class, "anonymous request served %s's data %q", v.user, r.cart)
}

// checkFreshSessionKeepsWrites (7): a write from a browser that sends no
// session cookie goes into a fresh session and is kept (Save succeeds),
// whatever token it still holds; so are the writes into that fresh
// session while the browser still holds the token.
func checkFreshSessionKeepsWrites(m *simModel, f *simFlight) {
	if f.act != actWrite || f.gate != "" || f.resp.status == 200 || f.resp.code == "ip_mismatch" || f.resp.reason == "ip_mismatch" {
		return // a held write may race a login (stale_credentials)
	}
	if m.loginMoved(f) {
		return
	}
	mp := m.parties[f.party]
	fresh := !f.hasSession || (mp.freshSession != "" && f.session == mp.freshSession && f.token == mp.tokenAlone && !m.r.parties[f.party].thief)
	if !fresh {
		return
	}
	class := faultClass("")
	if f.token != "" {
		class = faultCookieGone
	}
	m.r.violate("7 fresh session keeps writes", class, "a write into a fresh session (its token's session cookie gone) answered %d %s", f.resp.status, f.resp.code)
}

// loginMoved reports whether a login of f's party, answered before f and
// not applied (in flight or lost), may have moved the session f
// presented: a write into it is then refused as stale (DESIGN.md,
// "Writes"), the fresh session being the login's now.
func (m *simModel) loginMoved(f *simFlight) bool {
	for _, o := range m.r.flights {
		if o.party == f.party && o.act == actLogin && o.resp.status == 200 && o.answeredStep <= f.sentStep && (o.state == flLanded || o.state == flDropped) {
			return true
		}
	}
	return false
}

// checkSignInSurvives (2): a settled browser (no request of its own in
// flight) is signed in as its last successful login, in any order of its
// responses, unless the model knows better (signed out, revoked, replayed).
func checkSignInSurvives(m *simModel, f *simFlight) {
	mp := m.parties[f.party]
	if !f.probe || !f.resp.entered || m.r.parties[f.party].thief || mp.exp == expUnknown {
		return
	}
	want := ""
	if mp.exp == expUser {
		want = mp.user
	}
	if f.resp.user == want {
		return
	}
	m.r.violate("2 sign-in survives", signInClass(m, f), "settled browser expected signed in as %q, served as %q (%s %s)", want, f.resp.user, f.resp.code, f.resp.reason)
}

func signInClass(m *simModel, f *simFlight) faultClass {
	why := f.resp.reason + " " + f.resp.code
	switch {
	case f.resp.reason == "foreign_session" && m.parties[f.party].lateSession:
		return faultLateSession
	case len(m.r.parties[f.party].jar.tossed) > 0:
		return faultTossed
	case f.token != "" && !f.hasSession && m.parties[f.party].sessionExpiredLate:
		return faultStaleExpiry
	case f.resp.reason == "foreign_session":
		return foreignClass(m, f)
	case f.resp.reason == "revoked" && m.parties[f.party].staleRevoke:
		return faultStaleRevoke
	case strings.Contains(why, "evicted"):
		return faultCookielessEvict
	case strings.Contains(why, "ip_mismatch"):
		return faultIPLock
	}
	return supersededClass(m, f, why)
}

// supersededClass classifies a browser signed out by its own superseded
// credentials.
func supersededClass(m *simModel, f *simFlight, why string) faultClass {
	t := m.tokens[f.token]
	expired, mismatch := strings.Contains(why, "expired"), strings.Contains(why, "token_mismatch")
	switch {
	case strings.Contains(why, "replay"), f.firstShown && mismatch:
		return faultLateReplay
	case tokenHandle(f.token) != m.parties[f.party].loginHandle && expired:
		return faultLateReplay // a late response of the record its last login replaced
	case t != nil && t.lateFirst && (expired || mismatch):
		return faultLateReplay // credentials superseded before they were ever presented
	case mismatch:
		return faultOlderToken // a token two rotations back, within the window: not in today's one-deep history
	case expired:
		return faultSignInExpired // the record of its last login is gone or ended: undecided
	}
	return ""
}

// foreignClass classifies a session hidden as foreign: tossed cookies in
// front, a session cookie that went away while the token stayed, or a
// late response's session cookie over a newer login's.
func foreignClass(m *simModel, f *simFlight) faultClass {
	switch {
	case m.parties[f.party].lateSession:
		return faultLateSession
	case len(m.r.parties[f.party].jar.tossed) > 0:
		return faultTossed
	case m.parties[f.party].tokenAlone != "" && f.token == m.parties[f.party].tokenAlone:
		// (Only next to the very token that came without its session: a
		// browser that holds another token since, a login's, is hidden
		// by a session cookie landed over that login's.)
		return faultCookieGone
	}
	return faultLateSession
}

// checkAckedWritesKept (5): a settled browser reads the last write Save
// acknowledged: on server stores the last saved among those at least as
// new as the last one whose response it applied; on the cookie store the
// last one applied (last write wins between parallel data writes).
func checkAckedWritesKept(m *simModel, f *simFlight) {
	mp := m.parties[f.party]
	if !f.probe || !f.resp.entered || !mp.dataKnown || m.r.parties[f.party].thief {
		return
	}
	ok := acceptable(mp.writes, m.r.kind == "cookie")
	if slices.Contains(ok, f.resp.cart) {
		return
	}
	class := faultLostWrite
	switch f.resp.reason {
	case "":
	case "foreign_session":
		class = foreignClass(m, f)
	default:
		class = faultRevokedData // written into an ended session, acknowledged, then hidden
	}
	if (class == faultLostWrite || class == faultRevokedData) && m.staleUndoAfter(mp) {
		class = faultTwoPoolsUndo
	}
	m.r.violate("5 acked writes kept", class, "read cart %q, expected one of %q", f.resp.cart, ok)
}

// staleUndoAfter reports whether, on Redis with two pools, a stale
// session write into the session of one of the browser's applied
// acknowledged writes was refused after that write was saved: refused
// after it was saved, it may have been undone by deleting the session,
// the acknowledged write with it. Save checks the marker before it
// writes there too, so only a marker set between that check and the
// write leaves such an undo (README, "Known limits"; DESIGN.md,
// "Writes"); the check for it is on.
func (m *simModel) staleUndoAfter(mp *mParty) bool {
	if m.r.kind != "redis-2pools" {
		return false
	}
	for _, w := range mp.writes {
		if w.applyStep == 0 || w.sid == "" {
			continue
		}
		for _, o := range m.r.flights {
			if o.resp.code == "stale_credentials" && o.resp.sid == w.sid && o.answeredStep > w.saveStep {
				return true
			}
		}
	}
	return false
}

func acceptable(ws []mWrite, cookieStore bool) []string {
	last := -1
	for i, w := range ws {
		if w.applyStep == 0 {
			continue
		}
		if last < 0 || (cookieStore && w.applyStep > ws[last].applyStep) || (!cookieStore && w.saveStep > ws[last].saveStep) {
			last = i
		}
	}
	if last < 0 {
		return []string{""}
	}
	if cookieStore {
		return []string{ws[last].v}
	}
	var out []string
	for _, w := range ws {
		if w.saveStep >= ws[last].saveStep {
			out = append(out, w.v)
		}
	}
	return out
}

// checkSessionLimit (6): MaxSessionsPerUser holds among the sessions that
// have been presented.
func checkSessionLimit(m *simModel) {
	limit := m.r.w.cfg.MaxSessionsPerUser
	if limit == 0 {
		return
	}
	for _, u := range simUsers {
		list, err := m.r.w.servers[0].guard.Sessions(context.Background(), u)
		if err != nil {
			m.r.violate("6 answers", "", "Sessions(%s): %v", u, err)
			return
		}
		n := 0
		for _, s := range list {
			if m.handle(s.Handle).presented {
				n++
			}
		}
		m.r.checks++
		if n > limit {
			m.r.violate("6 session limit", "", "%s has %d presented live sessions, limit %d", u, n, limit)
		}
	}
}

func setsCookie(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

// touchesCookie reports whether a response sets or expires the cookie.
func touchesCookie(cs []*http.Cookie, name string) bool {
	return slices.ContainsFunc(cs, func(c *http.Cookie) bool { return c.Name == name })
}

func expiresCookie(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// lastToken is the last token cookie value a response sets ("" for none).
func lastToken(cs []*http.Cookie) string {
	v := ""
	for _, c := range cs {
		if c.Name == tokCookieName && c.MaxAge >= 0 {
			v = c.Value
		}
	}
	return v
}
