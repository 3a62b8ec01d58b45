package ginsecure_test

// The simulation's steps: small typed values, generated at random from the
// state of the run, each with a String for the trace.

import (
	"fmt"
	"math/rand/v2"
	"time"
)

type stepKind uint8

const (
	stSend          stepKind = iota // a party sends a request (answered at once, or held in its handler)
	stDoubleLogin                   // a party submits the sign-in form twice, both held
	stRelease                       // a held request goes on and is answered
	stApply                         // a party's browser applies an answered response's Set-Cookie
	stDrop                          // an answered response is lost on its way
	stSteal                         // the thief copies a browser's cookies (and maybe its network)
	stClock                         // time passes
	stAddr                          // a party's address changes
	stRevokeUser                    // an administrator revokes every session of a user
	stRevokeSession                 // a user revokes one session (a browser's) from elsewhere
	stClearSession                  // a party's session cookie is gone (expired, deleted), its token kept
	stClearAll                      // a party clears all its cookies
	stToss                          // a sibling subdomain tosses session cookies in front of a party's
)

var stepKindNames = [...]string{"send", "double-login", "release", "apply", "drop", "steal", "clock", "addr",
	"revoke-user", "revoke-session", "clear-session-cookie", "clear-cookies", "toss"}

func (k stepKind) String() string { return stepKindNames[k] }

// simStep is one step of a sequence.
type simStep struct {
	kind   stepKind
	party  int
	act    simAct
	user   string // login's or revoke's user
	held   bool   // stSend: held in its handler
	late   bool   // stSend, stRelease: the response is not applied at once
	srv    int
	flight int           // stRelease, stApply, stDrop: the request's number
	d      time.Duration // stClock
	addr   string        // stAddr
}

func (s simStep) String() string {
	p := fmt.Sprintf("P%d", s.party)
	switch s.kind {
	case stSend:
		x := fmt.Sprintf("%s %s %s", p, s.kind, s.act)
		if s.act == actLogin {
			x += " as " + s.user
		}
		x += fmt.Sprintf(" to S%d", s.srv)
		if s.held {
			x += " (held)"
		} else if s.late {
			x += " (answer kept back)"
		}
		return x
	case stDoubleLogin:
		return fmt.Sprintf("%s %s as %s to S%d", p, s.kind, s.user, s.srv)
	case stRelease:
		if s.late {
			return fmt.Sprintf("%s #%d (answer kept back)", s.kind, s.flight)
		}
		return fmt.Sprintf("%s #%d", s.kind, s.flight)
	case stApply, stDrop:
		return fmt.Sprintf("%s #%d", s.kind, s.flight)
	case stClock:
		return fmt.Sprintf("%s +%v", s.kind, s.d)
	case stAddr:
		return fmt.Sprintf("%s %s %s", p, s.kind, s.addr)
	case stRevokeUser:
		return fmt.Sprintf("%s %s", s.kind, s.user)
	}
	return p + " " + s.kind.String()
}

// clockMoves cross every window and timeout of simConfig: the grace
// period, the unconfirmed grace (30 s), TouchInterval, MaxAuthAge and
// RotateEvery, IdleTimeout, AbsoluteTimeout.
var clockMoves = []struct {
	d time.Duration
	w int
}{
	{500 * time.Millisecond, 6}, {time.Second, 6}, {2 * time.Second, 4}, {3 * time.Second, 6},
	{31 * time.Second, 4}, {61 * time.Second, 3}, {simMaxAuthAge + time.Second, 3},
	{16 * time.Minute, 1}, {31 * time.Minute, 1}, {2*time.Hour + time.Minute, 1},
}

// weighted picks an index by weight.
func weighted(rng *rand.Rand, ws []int) int {
	total := 0
	for _, w := range ws {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range ws {
		if n < w {
			return i
		}
		n -= w
	}
	return len(ws) - 1
}

// browserActs and thiefActs are what a party may send, with weights.
var (
	browserActs = []simAct{actRead, actWrite, actAdmin, actLogin, actLogout, actGinLogout, actRenew, actRevokeOthers}
	browserActW = []int{24, 20, 8, 12, 3, 3, 5, 2}
	thiefActs   = []simAct{actRead, actWrite, actAdmin, actLogout, actGinLogout, actRenew, actRevokeOthers}
	thiefActW   = []int{20, 10, 4, 2, 2, 3, 2}
)

// next generates the next step from the run's state.
func (r *simRun) next() simStep {
	kinds := []stepKind{stSend, stDoubleLogin, stRelease, stApply, stDrop, stSteal, stClock, stAddr,
		stRevokeUser, stRevokeSession, stClearSession, stClearAll, stToss}
	held, landed := r.flightsIn(flHeld), r.flightsIn(flLanded)
	ws := []int{40, 4, 0, 0, 0, 3, 10, 2, 1, 2, 2, 2, 1}
	if len(held) > 0 {
		ws[2] = 16
	}
	if len(landed) > 0 {
		ws[3], ws[4] = 20, 2
	}
	s := simStep{kind: kinds[weighted(r.rng, ws)], party: r.rng.IntN(len(r.parties)), srv: r.rng.IntN(len(r.w.servers))}
	switch s.kind {
	case stSend:
		r.fillSend(&s)
	case stDoubleLogin:
		s.party, s.user = r.rng.IntN(r.browsers), r.userFor(s.party)
	case stRelease:
		s.flight, s.late = held[r.rng.IntN(len(held))], r.rng.IntN(4) == 0
	case stApply, stDrop:
		s.flight = landed[r.rng.IntN(len(landed))]
	case stSteal:
		s.party = r.rng.IntN(r.browsers)
	case stClock:
		i := r.rng.IntN(len(clockMoves))
		if r.rng.IntN(10) < clockMoves[i].w {
			s.d = clockMoves[i].d
		} else {
			s.d = clockMoves[r.rng.IntN(4)].d
		}
	case stAddr:
		s.addr = r.newAddr(s.party)
	case stRevokeUser:
		s.user = simUsers[r.rng.IntN(len(simUsers))]
	case stRevokeSession, stClearSession, stToss:
		s.party = r.rng.IntN(r.browsers)
	}
	return s
}

var simUsers = []string{"alice", "bob", "carol"}

// userFor is the user a browser signs in as: mostly its own, sometimes
// another (a login over another user's live session).
func (r *simRun) userFor(party int) string {
	if r.rng.IntN(5) == 0 {
		return simUsers[r.rng.IntN(len(simUsers))]
	}
	return simUsers[party%len(simUsers)]
}

func (r *simRun) fillSend(s *simStep) {
	p := r.parties[s.party]
	if p.thief {
		s.act = thiefActs[weighted(r.rng, thiefActW)]
	} else {
		s.act = browserActs[weighted(r.rng, browserActW)]
	}
	if s.act == actLogin {
		s.user = r.userFor(s.party)
	}
	r.fillDeviceAct(s)
	s.held = r.rng.IntN(10) < 3
	s.late = !s.held && r.rng.IntN(6) == 0
	if s.act == actRenew && !s.held {
		s.late = r.rng.IntN(2) == 0 // its old credentials then go on working within the window, without the step-up
	}
}

// newAddr is a new address for a party: another host in the same IPv6
// /64, another IPv4 address, or the other address family.
func (r *simRun) newAddr(party int) string {
	n := r.rng.IntN(200) + 2
	switch r.rng.IntN(3) {
	case 0:
		return fmt.Sprintf("[2001:db8:%d::%d]:443", party+1, n)
	case 1:
		return fmt.Sprintf("[2001:db8:%d:1::%d]:443", party+1, n)
	}
	return fmt.Sprintf("198.51.%d.%d:443", party+1, n)
}
