package ginsecure_test

// The stress test of the grace window: real goroutines over the real TLS
// server, many logins and periodic rotations, each raced by parallel
// requests that carry the cookies from before the rotation. Whatever order
// the browser applies the responses' Set-Cookie headers in, it must end
// signed in as the right user; no straggler may be refused inside the
// window or see a user it did not have.

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

const (
	// raceRotations is how many rotations (half logins, half periodic)
	// each kind of session store goes through; ginsecure's memory store
	// takes the most on the cookie store, the cheapest to serve (memstore
	// deep-copies every session with gob, Redis pays round trips). -short
	// divides them by 4.
	raceRotationsCookie   = 1040
	raceRotationsMemstore = 240
	raceRotationsRedis    = 240
	// raceRotationsNoGrace is the detector's run with GracePeriod -1.
	raceRotationsNoGrace = 32
	// raceBrowsers browsers go through a round at once.
	raceBrowsers = 8
	// raceStragglers requests race each rotating request, released
	// together with it; the writers follow with the same old cookies
	// after its response came back (these write the session).
	raceStragglers = 8
	// racePerms random orders of applying the responses' Set-Cookie.
	racePerms = 4
)

// raceTally counts what the stress test measures.
type raceTally struct {
	mu          sync.Mutex
	rotations   int
	requests    int
	refusals    int // a straggler refused (or not served as its user) inside the window
	escalations int // a straggler of a login that saw the new user
	lost        int // a browser that did not end signed in as its user
	clobbers    int // straggler responses that set one of our cookies
	states      int // distinct cookie jars verified
	examples    []string
}

func (r *raceTally) add(f func(r *raceTally)) { r.mu.Lock(); f(r); r.mu.Unlock() }

func (r *raceTally) example(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.examples) < 5 {
		r.examples = append(r.examples, fmt.Sprintf(format, args...))
	}
}

// raceClient sends raw requests whose cookies the test sets explicitly: no
// shared jar decides what a request carries.
type raceClient struct {
	e  *env
	hc *http.Client
	u  *url.URL
}

type raceReply struct {
	status    int
	user      string
	entryUser string // /hold: the user seen when the handler was entered
	errCode   string
	cookies   []*http.Cookie
}

func newRaceClient(e *env) *raceClient {
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 256
	u, _ := url.Parse(e.srv.URL)
	e.t.Cleanup(tr.CloseIdleConnections) // before the server closes: cleanups run last first
	return &raceClient{e: e, hc: &http.Client{Transport: tr}, u: u}
}

func (rc *raceClient) send(method, path string, cookies []*http.Cookie) (raceReply, error) {
	req, err := http.NewRequest(method, rc.e.srv.URL+path, nil)
	if err != nil {
		return raceReply{}, err
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := rc.hc.Do(req)
	if err != nil {
		return raceReply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return raceReply{}, err
	}
	var body struct {
		User      string `json:"user"`
		EntryUser string `json:"entry_user"`
		Error     string `json:"error"`
	}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &body)
	}
	return raceReply{status: resp.StatusCode, user: body.User, entryUser: body.EntryUser, errCode: body.Error, cookies: resp.Cookies()}, nil
}

// jarFrom applies cookie sets in order, as a browser applies responses.
func (rc *raceClient) jarFrom(sets ...[]*http.Cookie) []*http.Cookie {
	jar, _ := cookiejar.New(nil)
	for _, s := range sets {
		jar.SetCookies(rc.u, s)
	}
	return jar.Cookies(rc.u)
}

func cookieKey(cs []*http.Cookie) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Name + "=" + c.Value + ";")
	}
	return b.String()
}

// raceIteration is one rotation of one browser and what came back.
type raceIteration struct {
	user    string
	old     []*http.Cookie // what the browser held before the rotation
	replies []raceReply    // replies[0] answered the rotating request
}

// raceRequest is one straggler: where it goes and whether the user may see
// itself there.
type raceRequest struct{ method, path string }

var (
	// Read-only: raced with the rotation itself. A straggler processed
	// before the rotation committed is simply not stale, so racing writes
	// there would prove nothing about the no-clobber rule.
	raceLoginReaders    = []raceRequest{{"GET", "/public"}, {"GET", "/cart"}, {"GET", "/silent"}, {"GET", "/me"}}
	racePeriodicReaders = []raceRequest{{"GET", "/me"}, {"GET", "/public"}, {"GET", "/cart"}, {"GET", "/silent"}}
	// Writers: sent after the rotating response came back, still with the
	// old cookies, still inside the window.
	raceLoginWriters = []raceRequest{{"POST", "/cart?item=late"}, {"GET", "/silent?write=late"}, {"GET", "/raw-save"}, {"POST", "/logout"}}
	// (No Logout among the periodic writers: with the pre-rotation token
	// inside the window it signs the browser out, as it must.)
	racePeriodicWriters = []raceRequest{{"POST", "/me/write"}, {"GET", "/silent?write=late"}, {"GET", "/raw-save?body=1"}, {"POST", "/cart?item=late"}}
)

// race sends rotating and the stragglers together (released by one
// channel), then the late writers, all with the old cookies, and judges
// every straggler's reply.
func (rc *raceClient) race(t *testing.T, tally *raceTally, it *raceIteration, rotating raceRequest, readers, writers []raceRequest, login bool) {
	replies := make([]raceReply, 1+raceStragglers)
	errs := make([]error, len(replies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replies {
		rq := rotating
		if i > 0 {
			rq = readers[(i-1)%len(readers)]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			replies[i], errs[i] = rc.send(rq.method, rq.path, it.old)
		}()
	}
	close(start)
	wg.Wait()
	late := make([]raceReply, len(writers))
	lateErrs := make([]error, len(writers))
	start = make(chan struct{})
	for i, rq := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			late[i], lateErrs[i] = rc.send(rq.method, rq.path, it.old)
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range append(errs, lateErrs...) {
		if err != nil {
			t.Errorf("transport: %v", err)
		}
	}

	reqs := append([]raceRequest{rotating}, make([]raceRequest, raceStragglers)...)
	for i := 1; i < len(reqs); i++ {
		reqs[i] = readers[(i-1)%len(readers)]
	}
	reqs = append(reqs, writers...)
	it.replies = append(replies, late...)
	tally.add(func(r *raceTally) { r.rotations++; r.requests += len(it.replies) })

	if rot := it.replies[0]; rot.status != http.StatusOK || rot.user != it.user {
		tally.add(func(r *raceTally) { r.refusals++ })
		tally.example("%s %s of %s: %d %q", rotating.method, rotating.path, it.user, rot.status, rot.user)
	}
	for i := 1; i < len(it.replies); i++ {
		rp, rq := it.replies[i], reqs[i]
		noUser := strings.HasPrefix(rq.path, "/silent") || rq.path == "/raw-save" || rq.path == "/logout" // replies that name nobody
		switch {
		case rp.user != "" && (login || rp.user != it.user):
			tally.add(func(r *raceTally) { r.escalations++ })
			tally.example("straggler %s %s of %s saw %q", rq.method, rq.path, it.user, rp.user)
		case login && rq.path == "/me" && rp.status == http.StatusUnauthorized:
			// Anonymous, as a login's straggler must be.
		case login && rp.status == http.StatusConflict:
			// A pre-login write of the session the login retired is
			// refused (ErrStaleCredentials), never silently dropped.
		case rp.status >= 300 || (!login && !noUser && rp.user != it.user):
			tally.add(func(r *raceTally) { r.refusals++ })
			tally.example("straggler %s %s of %s: %d %q", rq.method, rq.path, it.user, rp.status, rp.user)
		}
	}
	// One rotation mints one token: whichever request won the rotation,
	// every other response may carry that pending token again, never
	// another (older or rival credentials).
	tokens := map[string]bool{}
	for _, rp := range it.replies {
		if tok := tokenOf(rp.cookies); tok != "" {
			tokens[tok] = true
		}
	}
	if len(tokens) > 1 {
		tally.add(func(r *raceTally) { r.clobbers++ })
		tally.example("rotation of %s: responses set %d different tokens", it.user, len(tokens))
	}
}

// tokenOf is the token cookie's value a response sets, or "".
func tokenOf(cs []*http.Cookie) string {
	for _, c := range cs {
		if c.Name == graceTokenCookie {
			return c.Value
		}
	}
	return ""
}

// settle applies every reply's Set-Cookie in racePerms orders (the first
// with the rotating reply first, so every straggler lands after it) and
// checks, past the window, that each resulting jar is signed in as the
// user. It returns the browser's cookies for its next rotation, or nil if
// it ended signed out.
func (rc *raceClient) settle(t *testing.T, tally *raceTally, it *raceIteration, rng *rand.Rand) []*http.Cookie {
	seen := map[string]bool{}
	var next []*http.Cookie
	lost := false
	order := make([]int, len(it.replies))
	for p := range racePerms {
		for i := range order {
			order[i] = i
		}
		if p > 0 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		sets := [][]*http.Cookie{it.old}
		for _, i := range order {
			sets = append(sets, it.replies[i].cookies)
		}
		jar := rc.jarFrom(sets...)
		k := cookieKey(jar)
		if seen[k] {
			continue
		}
		seen[k] = true
		r, err := rc.send("GET", "/me", jar)
		if err != nil {
			t.Errorf("transport: %v", err)
			continue
		}
		tally.add(func(r *raceTally) { r.states++; r.requests++ })
		if r.status != http.StatusOK || r.user != it.user {
			lost = true
			tally.example("browser of %s after order %v: /me %d %q", it.user, order, r.status, r.user)
			continue
		}
		if next == nil {
			next = jar
		}
	}
	if lost {
		tally.add(func(r *raceTally) { r.lost++ })
		return nil
	}
	return next
}

// runGraceRace drives rotations through e: rounds of raceBrowsers fresh
// browsers that each sign in (raced), then rotate periodically (raced).
func runGraceRace(t *testing.T, e *env, rotations int) *raceTally {
	rc := newRaceClient(e)
	tally := &raceTally{}
	rng := rand.New(rand.NewPCG(1, uint64(rotations)))
	began := time.Now()
	for round := 0; tally.rotations < rotations && !t.Failed(); round++ {
		its := make([]*raceIteration, raceBrowsers)
		var wg sync.WaitGroup
		for b := range its {
			its[b] = &raceIteration{user: fmt.Sprintf("u%d-%d", round, b)}
			wg.Add(1)
			go func() {
				defer wg.Done()
				it := its[b]
				cart, err := rc.send("POST", "/cart?item=apple", nil)
				if err != nil || cart.status != http.StatusOK {
					t.Errorf("cart: %v %d", err, cart.status)
					return
				}
				it.old = rc.jarFrom(cart.cookies)
				rc.race(t, tally, it, raceRequest{"POST", "/login?user=" + it.user}, raceLoginReaders, raceLoginWriters, true)
			}()
		}
		wg.Wait()
		e.clock.Advance(graceWindow + time.Second)
		for _, it := range its {
			it.old = rc.settle(t, tally, it, rng)
		}

		e.clock.Advance(graceRotateEvery)
		for _, it := range its {
			if it.old == nil {
				continue // lost at login, counted
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc.race(t, tally, it, raceRequest{"GET", "/me"}, racePeriodicReaders, racePeriodicWriters, false)
			}()
		}
		wg.Wait()
		e.clock.Advance(graceWindow + time.Second)
		for _, it := range its {
			if it.old != nil && it.replies != nil {
				rc.settle(t, tally, it, rng)
			}
		}
	}
	t.Logf("%s: %d rotations (logins and periodic), %d requests, %d false refusals, %d lost logins, %d escalations, %d rotations whose responses set rival tokens, %d distinct jars verified, %d grace-served events (%d rotation races lost), %v",
		e.kind, tally.rotations, tally.requests, tally.refusals, tally.lost, tally.escalations, tally.clobbers, tally.states,
		e.events.count(ginsecure.EventGraceServed), e.events.countDetail("lost the rotation race"), time.Since(began).Round(time.Millisecond))
	for _, ex := range tally.examples {
		t.Log("  e.g. " + ex)
	}
	return tally
}

// TestGraceRaceNeverRefusesNorLosesLogins: thousands of rotations raced by
// parallel stragglers end with 0 false refusals, 0 lost logins and 0
// escalations, on every store.
func TestGraceRaceNeverRefusesNorLosesLogins(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		n := map[string]int{"cookie": raceRotationsCookie, "memstore": raceRotationsMemstore, "redis": raceRotationsRedis, "redis-2pools": raceRotationsRedis}[kind]
		if testing.Short() {
			n /= 4
		}
		e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(graceRoutes))
		tally := runGraceRace(t, e, n)
		if tally.refusals != 0 || tally.lost != 0 || tally.escalations != 0 || tally.clobbers != 0 {
			t.Errorf("%d false refusals, %d lost logins, %d escalations, %d rotations with rival tokens; want all 0",
				tally.refusals, tally.lost, tally.escalations, tally.clobbers)
		}
	})
}

// TestGraceRaceDetectsRefusalsWithoutGrace runs the same race with the
// window disabled: stragglers are then refused as replays and the session
// they revoke signs the browser out. The race test sees both, so its zeros
// above mean something.
func TestGraceRaceDetectsRefusalsWithoutGrace(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(-1), withRoutes(graceRoutes))
		tally := runGraceRace(t, e, raceRotationsNoGrace)
		if tally.refusals == 0 || tally.lost == 0 {
			t.Errorf("without a grace window: %d refusals, %d lost logins; the race test should have seen both", tally.refusals, tally.lost)
		}
	})
}

// countDetail counts events whose Detail is d.
func (l *eventLog) countDetail(d string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Detail == d {
			n++
		}
	}
	return n
}

// The sign-in race: one browser signs in while its own parallel
// requests carry the cookies from before the login, some of them held
// inside their handler (verified before the login, answering and saving the
// session after it), and the browser applies the responses' Set-Cookie in
// completion order, login(s) first and login(s) last. Every order must end
// signed in as the login's user, and no request whose cookies predate the
// login may see that user.

// loginCyclesEnv sets how many sign-in cycles each store goes through
// (default 1000; -short takes a tenth).
const loginCyclesEnv = "GINSECURE_RACE_CYCLES"

// loginCycleBatch cycles run at once; the clock moves between batches.
const loginCycleBatch = 8

// loginShapes are the cycles' shapes, taken in turn.
var loginShapes = []string{"pre-login", "held pre-login", "held re-login", "double login"}

// cycleReq is one request of a cycle.
type cycleReq struct {
	method, path string
	login        bool   // a POST /login of the cycle
	hold         string // the hold's id for /hold routes
}

// loginCycle is one browser's sign-in and what came back.
type loginCycle struct {
	n      int
	shape  string
	user   string         // whom the login signs in
	before string         // whom the browser was signed in as ("" for a visitor)
	old    []*http.Cookie // the cookies every request of the cycle carries
	carts  map[string]bool
	reqs   []cycleReq
	got    []raceReply
	done   []int64 // completion sequence of each reply
}

// loginTally counts what the sign-in race measures.
type loginTally struct {
	mu          sync.Mutex
	cycles      int
	requests    int
	jars        int            // distinct jars verified
	lostCycles  int            // cycles in which some order ended signed out (or the login failed)
	lostJars    int            // jars that ended signed out
	lostByShape map[string]int // lostCycles by shape
	escalations int            // a request with pre-login cookies that saw the new user
	errors      int            // 5xx, a timed-out hold or a transport error
	carryMisses int            // a jar whose cart is not one written before the login
	stale       int            // pre-login writes refused with 409 stale_credentials
	examples    []string
}

func (lt *loginTally) add(f func(lt *loginTally)) { lt.mu.Lock(); f(lt); lt.mu.Unlock() }

func (lt *loginTally) example(format string, args ...any) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if len(lt.examples) < 8 {
		lt.examples = append(lt.examples, fmt.Sprintf(format, args...))
	}
}

// setup gives the cycle's browser its pre-login state: an anonymous
// session with a cart, and for the re-login shape a sign-in as alice.
func (c *loginCycle) setup(rc *raceClient) error {
	c.carts = map[string]bool{}
	item := fmt.Sprintf("c%d", c.n)
	cart, err := rc.send("POST", "/cart?item="+item, nil)
	if err != nil || cart.status != http.StatusOK {
		return fmt.Errorf("cycle %d: anonymous POST /cart: %v %d", c.n, err, cart.status)
	}
	c.carts[item] = true
	c.old = rc.jarFrom(cart.cookies)
	c.user = fmt.Sprintf("u%d", c.n)
	if c.shape == "held re-login" {
		c.before, c.user = fmt.Sprintf("alice%d", c.n), fmt.Sprintf("bob%d", c.n)
		r, err := rc.send("POST", "/login?user="+c.before, c.old)
		if err != nil || r.status != http.StatusOK || r.user != c.before {
			return fmt.Errorf("cycle %d: login %s: %v %d %q", c.n, c.before, err, r.status, r.user)
		}
		c.old = rc.jarFrom(c.old, r.cookies)
	}
	return nil
}

// fire sends the cycle's requests and records their replies in completion
// order. Held requests enter their handler before the login is sent and
// are released only after its response came back.
func (c *loginCycle) fire(rc *raceClient, seq *atomic.Int64) error {
	n := c.n
	login := cycleReq{method: "POST", path: "/login?user=" + c.user, login: true}
	hold := func(route, write string, k int) cycleReq {
		id := fmt.Sprintf("%d-%d", n, k)
		p := route + "?id=" + id
		if write != "" {
			p += "&write=" + write
		}
		return cycleReq{method: "GET", path: p, hold: id}
	}
	var free, held []cycleReq // free race the login; held wait around it
	switch c.shape {
	case "pre-login":
		free = []cycleReq{login,
			{method: "GET", path: "/public"}, {method: "GET", path: "/cart"},
			{method: "POST", path: fmt.Sprintf("/cart?item=p%d", n)}, {method: "GET", path: fmt.Sprintf("/silent?write=s%d", n)},
			{method: "GET", path: "/public"}, {method: "POST", path: fmt.Sprintf("/cart?item=q%d", n)}}
		c.carts[fmt.Sprintf("p%d", n)], c.carts[fmt.Sprintf("q%d", n)] = true, true
	case "held pre-login":
		held = []cycleReq{hold("/hold", fmt.Sprintf("h%d", n), 1), hold("/hold", "", 2)}
		free = []cycleReq{login, {method: "GET", path: "/cart"}, {method: "POST", path: fmt.Sprintf("/cart?item=p%d", n)},
			{method: "GET", path: fmt.Sprintf("/silent?write=s%d", n)}}
		c.carts[fmt.Sprintf("h%d", n)], c.carts[fmt.Sprintf("p%d", n)] = true, true
	case "held re-login":
		held = []cycleReq{hold("/hold/auth", fmt.Sprintf("h%d", n), 1), hold("/hold", fmt.Sprintf("g%d", n), 2), hold("/hold/auth", "", 3)}
		free = []cycleReq{login, {method: "GET", path: "/me"}, {method: "POST", path: fmt.Sprintf("/cart?item=p%d", n)},
			{method: "GET", path: "/public"}, {method: "POST", path: "/me/write"}}
	case "double login":
		free = []cycleReq{login, login, {method: "GET", path: "/public"}, {method: "GET", path: "/cart"}}
	}
	c.reqs = append(append([]cycleReq{}, free...), held...)
	c.got = make([]raceReply, len(c.reqs))
	c.done = make([]int64, len(c.reqs))
	errs := make([]error, len(c.reqs))
	send := func(i int) {
		r, err := rc.send(c.reqs[i].method, c.reqs[i].path, c.old)
		c.got[i], errs[i], c.done[i] = r, err, seq.Add(1)
	}
	var heldWG, freeWG sync.WaitGroup
	finished := make([]chan struct{}, len(c.reqs))
	for i := len(free); i < len(c.reqs); i++ {
		finished[i] = make(chan struct{})
		heldWG.Add(1)
		go func() { defer heldWG.Done(); defer close(finished[i]); send(i) }()
	}
	var holdErr error
	for i := len(free); i < len(c.reqs); i++ {
		// Entered its handler, or answered without (refused before it).
		select {
		case <-rc.e.holds.get(c.reqs[i].hold).entered:
		case <-finished[i]:
		case <-time.After(holdTimeout):
			holdErr = fmt.Errorf("cycle %d: %s never entered its handler", n, c.reqs[i].path)
		}
	}
	start := make(chan struct{})
	loginsDone := make(chan struct{}, len(free))
	for i := range free {
		freeWG.Add(1)
		go func() {
			defer freeWG.Done()
			<-start
			send(i)
			if c.reqs[i].login {
				loginsDone <- struct{}{}
			}
		}()
	}
	close(start)
	for _, q := range free {
		if q.login {
			select {
			case <-loginsDone:
			case <-time.After(holdTimeout):
				holdErr = fmt.Errorf("cycle %d: the login never answered", n)
			}
		}
	}
	for _, h := range held {
		rc.e.holds.free(h.hold)
	}
	freeWG.Wait()
	heldWG.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return holdErr
}

// judge checks every reply: logins sign in their user; no request with the
// pre-login cookies sees that user (or anyone but the one it was sent as).
func (c *loginCycle) judge(lt *loginTally) (loginOK bool) {
	loginOK = true
	for i, r := range c.got {
		q := c.reqs[i]
		lt.add(func(lt *loginTally) { lt.requests++ })
		if q.login {
			if r.status != http.StatusOK || r.user != c.user {
				loginOK = false
				lt.example("cycle %d (%s): %s %s: %d %q %s", c.n, c.shape, q.method, q.path, r.status, r.user, r.errCode)
			}
			continue
		}
		for _, seen := range []string{r.user, r.entryUser} {
			if seen != "" && seen != c.before {
				lt.add(func(lt *loginTally) { lt.escalations++ })
				lt.example("cycle %d (%s): %s %s with the cookies from before the login saw %q (was %q)", c.n, c.shape, q.method, q.path, seen, c.before)
			}
		}
		switch {
		case r.status >= 500:
			lt.add(func(lt *loginTally) { lt.errors++ })
			lt.example("cycle %d (%s): %s %s: %d %s", c.n, c.shape, q.method, q.path, r.status, r.errCode)
		case r.status == http.StatusConflict && r.errCode == "stale_credentials":
			lt.add(func(lt *loginTally) { lt.stale++ })
		}
	}
	return loginOK
}

// orders are the orders the browser applies the replies in: completion
// order, logins first, logins last (each login last where there are two).
func (c *loginCycle) orders() map[string][]int {
	byDone := make([]int, len(c.got))
	for i := range byDone {
		byDone[i] = i
	}
	sort.Slice(byDone, func(a, b int) bool { return c.done[byDone[a]] < c.done[byDone[b]] })
	var logins, others []int
	for _, i := range byDone {
		if c.reqs[i].login {
			logins = append(logins, i)
		} else {
			others = append(others, i)
		}
	}
	out := map[string][]int{
		"completion":  byDone,
		"login first": append(append([]int{}, logins...), others...),
	}
	for k, l := range logins {
		o := append([]int{}, others...)
		for _, m := range logins {
			if m != l {
				o = append(o, m)
			}
		}
		out[fmt.Sprintf("login %d of %d last", k+1, len(logins))] = append(o, l)
	}
	return out
}

// settle applies the replies in every order of c.orders and checks each
// resulting jar (past the grace window): GET /me signs in the login's user,
// and once its response is applied so does GET /cart, whose cart is one
// written before the login (the visitor's cart is carried over).
func (c *loginCycle) settle(rc *raceClient, lt *loginTally) {
	lost := false
	seen := map[string]bool{}
	for name, order := range c.orders() {
		sets := [][]*http.Cookie{c.old}
		for _, i := range order {
			sets = append(sets, c.got[i].cookies)
		}
		jar := rc.jarFrom(sets...)
		if k := cookieKey(jar); seen[k] {
			continue
		} else {
			seen[k] = true
		}
		lt.add(func(lt *loginTally) { lt.jars++ })
		me, err := rc.send("GET", "/me", jar)
		if err != nil {
			lt.add(func(lt *loginTally) { lt.errors++ })
			lt.example("cycle %d: GET /me: %v", c.n, err)
			continue
		}
		var cart raceReply
		var cartVal any
		if me.status == http.StatusOK && me.user == c.user {
			cart, cartVal, err = rc.sendCart(rc.jarFrom(jar, me.cookies))
			if err != nil {
				lt.add(func(lt *loginTally) { lt.errors++ })
				lt.example("cycle %d: GET /cart: %v", c.n, err)
				continue
			}
		}
		switch {
		case me.status != http.StatusOK || me.user != c.user:
			lost = true
			lt.add(func(lt *loginTally) { lt.lostJars++ })
			lt.example("cycle %d (%s), %s: GET /me %d %q %s; want %q (jar sets %s)", c.n, c.shape, name, me.status, me.user, me.errCode, c.user, c.describe(order))
		case cart.status != http.StatusOK || cart.user != c.user:
			lost = true
			lt.add(func(lt *loginTally) { lt.lostJars++ })
			lt.example("cycle %d (%s), %s: GET /me healed, then GET /cart %d %q; want %q", c.n, c.shape, name, cart.status, cart.user, c.user)
		case c.before == "" && !c.carts[fmt.Sprint(cartVal)]:
			lt.add(func(lt *loginTally) { lt.carryMisses++ })
			lt.example("cycle %d (%s), %s: cart %v after the login; want one written before it", c.n, c.shape, name, cartVal)
		}
	}
	if lost {
		lt.add(func(lt *loginTally) { lt.lostCycles++; lt.lostByShape[c.shape]++ })
	}
}

// describe names which reply set which of our cookies, in order applied.
func (c *loginCycle) describe(order []int) string {
	var parts []string
	for _, i := range order {
		if s := graceCookies(c.got[i].cookies); s != "" {
			parts = append(parts, c.reqs[i].method+" "+c.reqs[i].path+"→"+s)
		}
	}
	return strings.Join(parts, ", ")
}

// sendCart is GET /cart returning the cart too.
func (rc *raceClient) sendCart(jar []*http.Cookie) (raceReply, any, error) {
	req, err := http.NewRequest("GET", rc.e.srv.URL+"/cart", nil)
	if err != nil {
		return raceReply{}, nil, err
	}
	for _, c := range jar {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := rc.hc.Do(req)
	if err != nil {
		return raceReply{}, nil, err
	}
	defer resp.Body.Close()
	var body struct {
		User string `json:"user"`
		Cart any    `json:"cart"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return raceReply{}, nil, err
	}
	return raceReply{status: resp.StatusCode, user: body.User, cookies: resp.Cookies()}, body.Cart, nil
}

// runLoginCycles drives cycles sign-in cycles through e.
func runLoginCycles(t *testing.T, e *env, cycles int) *loginTally {
	rc := newRaceClient(e)
	rc.hc.Timeout = 3 * holdTimeout // every request bounded
	lt := &loginTally{lostByShape: map[string]int{}}
	var seq atomic.Int64
	for base := 0; base < cycles && !t.Failed(); base += loginCycleBatch {
		batch := make([]*loginCycle, min(loginCycleBatch, cycles-base))
		for i := range batch {
			n := base + i
			batch[i] = &loginCycle{n: n, shape: loginShapes[n%len(loginShapes)]}
		}
		phase := func(f func(c *loginCycle) error) {
			var wg sync.WaitGroup
			for _, c := range batch {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f(c); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		phase(func(c *loginCycle) error { return c.setup(rc) })
		e.clock.Advance(graceWindow + time.Second) // the setup's own login settles
		phase(func(c *loginCycle) error {
			if err := c.fire(rc, &seq); err != nil {
				lt.add(func(lt *loginTally) { lt.errors++ })
				return err
			}
			lt.add(func(lt *loginTally) { lt.cycles++ })
			if !c.judge(lt) {
				lt.add(func(lt *loginTally) { lt.lostCycles++; lt.lostByShape[c.shape]++ })
				c.got = nil // nothing to settle: the login itself failed
			}
			return nil
		})
		e.clock.Advance(graceWindow + time.Second) // judge the jars past the window
		phase(func(c *loginCycle) error {
			if c.got != nil {
				c.settle(rc, lt)
			}
			return nil
		})
	}
	return lt
}

// TestGraceRaceSignInSurvivesEveryResponseOrder: at least 1000 sign-in
// cycles per store (GINSECURE_RACE_CYCLES), each raced by the browser's
// own requests with the cookies from before the login, end with 0 lost
// sign-ins and 0 escalations whatever order the responses are applied in.
func TestGraceRaceSignInSurvivesEveryResponseOrder(t *testing.T) {
	cycles := 1000
	if v := os.Getenv(loginCyclesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", loginCyclesEnv, v)
		}
		cycles = n
	}
	if testing.Short() {
		cycles = max(cycles/10, len(loginShapes))
	}
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		began := time.Now()
		lt := runLoginCycles(t, e, cycles)
		t.Logf("%s: %d cycles, %d requests, %d jars verified: %d lost sign-ins (cycles; %d jars) %v, %d escalations, %d server errors, %d carry-over misses, %d pre-login writes refused as stale; %v",
			kind, lt.cycles, lt.requests, lt.jars, lt.lostCycles, lt.lostJars, lt.lostByShape, lt.escalations, lt.errors, lt.carryMisses, lt.stale,
			time.Since(began).Round(time.Millisecond))
		for _, ex := range lt.examples {
			t.Log("  e.g. " + ex)
		}
		if lt.lostCycles != 0 || lt.escalations != 0 || lt.errors != 0 {
			t.Errorf("%d lost sign-ins, %d escalations, %d server errors; want 0", lt.lostCycles, lt.escalations, lt.errors)
		}
		if lt.carryMisses != 0 {
			// Reported, not failed: which pre-login write a login carries
			// over when two logins race is not pinned by DESIGN.md.
			t.Logf("NOTE: %d jars lost the cart written before the login (carry-over)", lt.carryMisses)
		}
	})
}
