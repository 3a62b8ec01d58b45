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
	"strings"
	"sync"
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
	status  int
	user    string
	cookies []*http.Cookie
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
		User string `json:"user"`
	}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &body)
	}
	return raceReply{status: resp.StatusCode, user: body.User, cookies: resp.Cookies()}, nil
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
	raceLoginWriters    = []raceRequest{{"POST", "/cart?item=late"}, {"GET", "/silent?write=late"}, {"GET", "/raw-save"}, {"POST", "/logout"}}
	racePeriodicWriters = []raceRequest{{"POST", "/me/write"}, {"GET", "/silent?write=late"}, {"GET", "/raw-save?body=1"}, {"POST", "/cart?item=late"}, {"POST", "/logout"}}
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
		case rq.path == "/logout" && rp.status == http.StatusConflict:
			// Logout on retired credentials signs nobody out and says so
			// (ErrStaleCredentials); the jar check below proves the
			// browser is still signed in.
		case rp.status >= 300 || (!login && !noUser && rp.user != it.user):
			tally.add(func(r *raceTally) { r.refusals++ })
			tally.example("straggler %s %s of %s: %d %q", rq.method, rq.path, it.user, rp.status, rp.user)
		}
		if i > raceStragglers && graceCookies(rp.cookies) != "" {
			// A late straggler always presents retired credentials.
			tally.add(func(r *raceTally) { r.clobbers++ })
			tally.example("late straggler %s %s of %s set %q", rq.method, rq.path, it.user, graceCookies(rp.cookies))
		}
	}
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
	t.Logf("%s: %d rotations (logins and periodic), %d requests, %d false refusals, %d lost logins, %d escalations, %d late straggler responses setting our cookies, %d distinct jars verified, %d grace-served events (%d rotation races lost), %v",
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
		n := map[string]int{"cookie": raceRotationsCookie, "memstore": raceRotationsMemstore, "redis": raceRotationsRedis}[kind]
		if testing.Short() {
			n /= 4
		}
		e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(graceRoutes))
		tally := runGraceRace(t, e, n)
		if tally.refusals != 0 || tally.lost != 0 || tally.escalations != 0 || tally.clobbers != 0 {
			t.Errorf("%d false refusals, %d lost logins, %d escalations, %d clobbering responses; want all 0",
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
