package ginsecure_test

// The simulation's world: real Guards on real gin engines with real
// gin-contrib session stores, one or two servers sharing them, and parties
// (browsers and a thief) whose cookie jars the simulation keeps itself.
// Requests go straight into the engine (ServeHTTP), so the simulation picks
// every party's address and the order of everything: a request is either
// answered at once or held inside its handler (a gate) until a later step
// releases it; its Set-Cookie headers are applied when a step says so, or
// never.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-contrib/sessions/memstore"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// simMaxAuthAge is the /admin route's Policy.MaxAuthAge: the step-up
// privilege a Renew (or login) grants for this long.
const simMaxAuthAge = 5 * time.Minute

// simSessionName is the gin-contrib session's (and its cookie's) name.
const simSessionName = "app"

// simAct is what a request asks the app to do.
type simAct uint8

const (
	actRead simAct = iota
	actWrite
	actAdmin
	actLogin
	actLogout
	actGinLogout
	actRenew
	actRevokeOthers
	actBound    // GET /bound: a route with Policy.DeviceBound (simulation_dbsc_test.go)
	actRegister // the browser's device-binding registration (Middleware answers it)
	actRefresh  // the browser's device-binding refresh (Middleware answers it)
)

var simActNames = [...]string{"read", "write", "admin", "login", "logout", "gin-logout", "renew", "revoke-others", "bound", "dbsc-register", "dbsc-refresh"}

func (a simAct) String() string { return simActNames[a] }

// path is the route of the act.
func (a simAct) path() string { return "/" + a.String() }

// simServer is one app instance: a Guard and its engine.
type simServer struct {
	guard  *ginsecure.Guard
	engine *gin.Engine
}

// simRedis is the Redis of one store kind, kept for every seed of a test
// (flushed between seeds): its pools, one or two per server.
type simRedis struct {
	srv   *redistest.Server
	sess  []*redis.Pool // per server: the session store's pool
	recs  []*redis.Pool // per server: the record store's pool
	gsess []sessions.Store
}

func newSimRedis(t testing.TB, kind string, servers int) *simRedis {
	r := &simRedis{srv: redistest.Start(t)}
	for i := 0; i < servers; i++ {
		p := r.srv.Pool()
		rp := p
		if kind == "redis-2pools" {
			rp = r.srv.Pool()
		}
		st, err := redisstore.NewSessionStore(p, [][]byte{sessionSecret})
		if err != nil {
			t.Fatal(err)
		}
		r.sess, r.recs, r.gsess = append(r.sess, p), append(r.recs, rp), append(r.gsess, st)
	}
	return r
}

func (r *simRedis) flush() error {
	c := r.sess[0].Get()
	defer c.Close()
	_, err := c.Do("FLUSHALL")
	return err
}

// simWorld is everything one sequence runs against.
type simWorld struct {
	kind    string
	clock   *testClock
	cfg     ginsecure.Config
	servers []*simServer
	gates   *simGates
}

// newSimWorld builds the servers of one sequence. On memstore every server
// shares one gin-contrib memstore and one ginsecure Store value; on the
// cookie store every server has its own cookie store (same secret) and
// shares the ginsecure Store; on Redis every server has its own pools.
func newSimWorld(t testing.TB, kind string, servers int, cfg ginsecure.Config, rd *simRedis) *simWorld {
	w := &simWorld{kind: kind, clock: newClock(), gates: newSimGates()}
	cfg.Now, cfg.Logger = w.clock.Now, discardLogger()
	challenges := simChallengeStores(kind, servers, cfg, rd)
	var shared storeext.Store
	var mem sessions.Store
	switch kind {
	case "memstore":
		mem = memstore.NewStore(sessionSecret)
		fallthrough
	case "cookie":
		shared = ginsecure.NewMemoryStore()
	}
	for i := 0; i < servers; i++ {
		c := cfg
		var st sessions.Store
		switch kind {
		case "cookie":
			st, c.Store = cookie.NewStore(sessionSecret), shared
		case "memstore":
			st, c.Store = mem, shared
		default:
			st, c.Store = rd.gsess[i], redisstore.New(rd.recs[i], redisstore.WithPrefix("gs:"))
		}
		if i == 0 || kind != "memstore" {
			st.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		if challenges != nil {
			c.DeviceBinding.Challenges = challenges[i]
		}
		g, err := ginsecure.New(c)
		if err != nil {
			t.Fatal(err)
		}
		r := gin.New()
		r.Use(sessions.Sessions(simSessionName, st), g.Middleware())
		installSimRoutes(r, g, w.gates)
		installSimBoundRoute(r, g, w.gates)
		w.servers = append(w.servers, &simServer{guard: g, engine: r})
	}
	w.cfg = cfg
	return w
}

// simGates hold requests inside their handlers: a request sent with
// ?gate=ID signals that it entered its handler (after Middleware and any
// Require) and waits there until the step that releases it.
type simGates struct {
	mu sync.Mutex
	m  map[string]*hold
}

func newSimGates() *simGates { return &simGates{m: map[string]*hold{}} }

func (s *simGates) get(id string) *hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[id]
	if !ok {
		x = &hold{entered: make(chan struct{}), release: make(chan struct{})}
		s.m[id] = x
	}
	return x
}

func (s *simGates) free(id string) {
	x := s.get(id)
	x.once.Do(func() { close(x.release) })
}

// simEntry is what a handler saw when it was entered: the request's user
// and the session's cart, before the act.
type simEntry struct {
	user   string
	cart   any
	reason string // why a presented session did not pass, if it did not
	sid    string // the served session's ID (memstore, Redis; on the cookie store its identity, SessionIdentity)
}

// enter is the handler every simulation route starts with: it notes what
// the verified request is served as, then waits at its gate, if any.
func (s *simGates) enter(c *gin.Context) {
	u, _ := ginsecure.UserID(c)
	sess := sessions.Default(c)
	e := simEntry{user: u, cart: sess.Get("cart"), sid: sess.ID()}
	if e.sid == "" {
		// The cookie store has no session ID: its identity, the record's
		// handle or the ID ginsecure keeps inside it, survives an ending's
		// emptying as the memory stores' IDs do, so that the model sees a
		// login over an ended record's session there too (cookie/1 seed
		// 3808317555585613871).
		e.sid = ginsecure.SessionIdentity(c)
	}
	if err := ginsecure.FailureReason(c); err != nil {
		e.reason = ginsecure.ErrorCode(err)
	}
	c.Set("sim.entry", e)
	id := c.Query("gate")
	if id == "" {
		return
	}
	x := s.get(id)
	close(x.entered)
	select {
	case <-x.release:
	case <-time.After(holdTimeout):
		c.AbortWithStatusJSON(http.StatusGatewayTimeout, gin.H{"error": "gate " + id + " never released"})
	}
}

// installSimRoutes is the simulation's app: one route per act, each
// answering what the request was served as on entry ("user", "cart") and
// the act's error code, if any.
func installSimRoutes(r *gin.Engine, g *ginsecure.Guard, gates *simGates) {
	authed := g.Require(ginsecure.Policy{Authenticated: true})
	admin := g.Require(ginsecure.Policy{Authenticated: true, MaxAuthAge: simMaxAuthAge})
	answer := func(act func(c *gin.Context) error) gin.HandlerFunc {
		return func(c *gin.Context) {
			v, _ := c.Get("sim.entry")
			e, _ := v.(simEntry)
			h := gin.H{"user": e.user, "cart": e.cart, "reason": e.reason, "sid": e.sid}
			if err := act(c); err != nil {
				h["error"] = ginsecure.ErrorCode(err)
				c.JSON(ginsecure.ErrorStatus(err), h)
				return
			}
			c.JSON(http.StatusOK, h)
		}
	}
	none := func(*gin.Context) error { return nil }
	r.GET(actRead.path(), gates.enter, answer(none))
	r.GET(actAdmin.path(), admin, gates.enter, answer(none))
	r.POST(actWrite.path(), gates.enter, answer(func(c *gin.Context) error {
		s := sessions.Default(c)
		s.Set("cart", c.Query("v"))
		return s.Save()
	}))
	r.POST(actLogin.path(), gates.enter, answer(func(c *gin.Context) error { return ginsecure.Login(c, c.Query("user")) }))
	r.POST(actLogout.path(), gates.enter, answer(ginsecure.Logout))
	r.POST(actGinLogout.path(), gates.enter, answer(func(c *gin.Context) error {
		s := sessions.Default(c)
		s.Clear()
		s.Options(sessions.Options{Path: "/", MaxAge: -1})
		return s.Save()
	}))
	r.POST(actRenew.path(), authed, gates.enter, answer(ginsecure.Renew))
	r.POST(actRevokeOthers.path(), authed, gates.enter, answer(func(c *gin.Context) error {
		_, err := g.RevokeOthers(c)
		return err
	}))
}

// simResp is a response as the party's network received it.
type simResp struct {
	status  int
	entered bool   // the handler ran (not refused by Middleware or Require)
	user    string // served as, on entry to the handler
	cart    string // the session's cart on entry ("" for none)
	code    string // the error code, if any
	reason  string // why the presented session did not pass, if it did not
	sid     string // the served session's ID on entry ("" on the cookie store)
	cookies []*http.Cookie
	header  http.Header    // the response's headers (device binding's offer and challenge)
	body    map[string]any // the JSON body (device binding's instructions)
}

func (r simResp) String() string {
	s := fmt.Sprintf("%d user=%q", r.status, r.user)
	if r.cart != "" {
		s += fmt.Sprintf(" cart=%q", r.cart)
	}
	if r.code != "" {
		s += " error=" + r.code
	}
	if r.reason != "" {
		s += " reason=" + r.reason
	}
	var names []string
	for _, c := range r.cookies {
		n := shortCookieName(c.Name)
		if c.MaxAge < 0 {
			n += "(expire)"
		}
		names = append(names, n)
	}
	if len(names) > 0 {
		s += " set=" + strings.Join(names, ",")
	}
	return s
}

func shortCookieName(n string) string {
	if n == tokCookieName {
		return "token"
	}
	return n
}

// simJar is a party's cookie jar: one value per name, plus cookies a
// sibling subdomain tossed in front of them.
type simJar struct {
	vals   map[string]string
	tossed []string // "name=value" sent before the jar's own cookies
}

func newSimJar() *simJar { return &simJar{vals: map[string]string{}} }

func (j *simJar) header() string {
	parts := append([]string(nil), j.tossed...)
	for _, n := range []string{simSessionName, tokCookieName} {
		if v, ok := j.vals[n]; ok {
			parts = append(parts, n+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

// apply stores a response's Set-Cookie headers as a browser does (an
// expiry deletes).
func (j *simJar) apply(cs []*http.Cookie) {
	for _, c := range cs {
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Unix(1, 0))) {
			delete(j.vals, c.Name)
			continue
		}
		j.vals[c.Name] = c.Value
	}
}

func (j *simJar) copyFrom(o *simJar) {
	j.vals = map[string]string{}
	for k, v := range o.vals {
		j.vals[k] = v
	}
}

// serve sends one request into a server's engine. With a gate it returns
// once the request is inside its handler, or answered (refused before it);
// the response then arrives on done.
func (w *simWorld) serve(srv int, act simAct, query, addr, cookieHdr, gate string) (done chan simResp) {
	target := act.path() + "?" + query
	if gate != "" {
		target += "&gate=" + gate
	}
	method := http.MethodPost
	if act == actRead || act == actAdmin || act == actBound {
		method = http.MethodGet
	}
	req := httptest.NewRequest(method, "https://app.example"+target, nil).WithContext(context.Background())
	req.RemoteAddr, req.TLS = addr, &tls.ConnectionState{}
	if cookieHdr != "" {
		req.Header.Set("Cookie", cookieHdr)
	}
	done = make(chan simResp, 1)
	go func() {
		rec := httptest.NewRecorder()
		w.servers[srv].engine.ServeHTTP(rec, req)
		done <- parseSimResp(rec)
	}()
	if gate == "" {
		return done
	}
	x := w.gates.get(gate)
	select {
	case <-x.entered:
	case r := <-done:
		done <- r // refused before its handler: answered already
	case <-time.After(holdTimeout):
		panic("simulation: request " + gate + " neither entered its handler nor was answered")
	}
	return done
}

func parseSimResp(rec *httptest.ResponseRecorder) simResp {
	res := rec.Result()
	out := simResp{status: res.StatusCode, cookies: res.Cookies(), header: res.Header}
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	out.body = body
	_, out.entered = body["user"]
	out.user, _ = body["user"].(string)
	out.cart, _ = body["cart"].(string)
	out.code, _ = body["error"].(string)
	out.reason, _ = body["reason"].(string)
	out.sid, _ = body["sid"].(string)
	return out
}

// tokenHandle is the record handle a token cookie's value names ("" for
// none): the value is "1.<handle>.<secret>".
func tokenHandle(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}
