package main

// The example application: every ginsecure feature on a few small pages.
// main.go only parses flags and listens; the browser test builds the same
// application in-process through newApp.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// options is what main's flags set.
type options struct {
	Redis        string        // host:port or unix:/path/to/socket; empty keeps everything in this process
	Secret       string        // session cookie signing key; empty: random (shared through Redis with -redis)
	Grace        time.Duration // ginsecure.Config.GracePeriod
	Rotate       time.Duration // ginsecure.Config.RotateEvery
	AdminAuthAge time.Duration // Policy.MaxAuthAge of /admin
	AccessLog    bool          // gin's request log
	Logger       *slog.Logger  // security events; nil: slog.Default()
	OnEvent      func(ginsecure.Event)
	Now          func() time.Time // ginsecure.Config.Now; the browser test moves it
	Origin       string           // the app's public origin (https://host); empty: the request's scheme and Host
	Store        storeext.Store   // the security records' store; nil: memory, or Redis with Redis (tests put a failing one here)
	// DeviceBinding turns on device-bound sessions (DBSC): main does when
	// it serves HTTPS, since browsers offer DBSC only over TLS they trust.
	DeviceBinding bool
}

// demoPassword is every demo user's password; the login page shows it.
const demoPassword = "demo"

type user struct {
	ID, Name string
	Admin    bool
}

var users = map[string]user{
	"alice": {ID: "alice", Name: "Alice Liddell", Admin: true},
	"bob":   {ID: "bob", Name: "Bob Hope"},
}

func demoUsers() []user { return []user{users["alice"], users["bob"]} }

// sessionCookie is the gin-contrib session's cookie. Its options are
// Secure, HttpOnly, SameSite=Lax and Path=/ with no Domain, so the __Host-
// prefix holds: browsers refuse the cookie from a sibling subdomain.
//
// Browsers treat http://localhost as a secure context: they accept Secure
// and __Host- cookies from it over plain HTTP. Any other plain-HTTP host
// would silently lose both cookies, so serve anything but localhost over TLS.
const sessionCookie = "__Host-example"

type app struct {
	seq    atomic.Int64 // numbers requests in order of arrival (the parallel page)
	engine *gin.Engine
	guard  *ginsecure.Guard
	pages  map[string]*template.Template
	cop    *http.CrossOriginProtection
	opts   options
	close  func() error
}

// newApp builds the application. close releases the Redis pool, if any.
func newApp(opts options) (*app, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.AdminAuthAge == 0 {
		opts.AdminAuthAge = 5 * time.Minute
	}
	// Zero takes ginsecure's default; the pages show the value in force.
	if opts.Grace == 0 {
		opts.Grace = ginsecure.DefaultGracePeriod
	}
	if opts.Rotate == 0 {
		opts.Rotate = ginsecure.DefaultRotateEvery
	}
	a := &app{opts: opts, cop: http.NewCrossOriginProtection(), close: func() error { return nil }}
	if opts.Origin != "" {
		// Behind a proxy that rewrites Host, the public origin is not the
		// Host the app sees.
		if err := a.cop.AddTrustedOrigin(opts.Origin); err != nil {
			return nil, fmt.Errorf("-origin: %w", err)
		}
	}

	var sessStore sessions.Store
	secStore := opts.Store                 // nil: ginsecure's memory store
	var challenges storeext.ChallengeStore // nil: in memory
	if opts.Redis != "" {
		// One pool for both stores, built here rather than by redistore's
		// constructors: theirs PING on every borrow, doubling round trips.
		// redisstore.NewSessionStore builds gin-contrib's Redis session
		// store on it, so that a request's record and session are read in
		// one round trip.
		network, addr := "tcp", opts.Redis
		if path, ok := strings.CutPrefix(addr, "unix:"); ok {
			network, addr = "unix", path
		}
		pool := &redis.Pool{
			MaxIdle:     16,
			IdleTimeout: 4 * time.Minute,
			Dial: func() (redis.Conn, error) {
				return redis.Dial(network, addr, redis.DialConnectTimeout(2*time.Second),
					redis.DialReadTimeout(2*time.Second), redis.DialWriteTimeout(2*time.Second))
			},
		}
		a.close = pool.Close
		secret, err := sharedSecret(pool, opts.Secret)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("redis %s: %w", addr, err)
		}
		if sessStore, err = redisstore.NewSessionStore(pool, [][]byte{secret}); err != nil {
			pool.Close()
			return nil, err
		}
		secStore = redisstore.New(pool, redisstore.WithPrefix("ginsecure-example:"))
		challenges = redisstore.NewChallengeStore(pool, "ginsecure-example:")
	} else {
		secret := []byte(opts.Secret)
		if len(secret) == 0 {
			secret = randomKey()
		}
		sessStore = cookie.NewStore(secret)
	}
	sessStore.Options(sessions.Options{
		Path: "/", MaxAge: int((12 * time.Hour).Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})

	guard, err := ginsecure.New(ginsecure.Config{
		Store:        secStore,
		GracePeriod:  opts.Grace,
		RotateEvery:  opts.Rotate,
		Logger:       opts.Logger,
		OnEvent:      opts.OnEvent,
		ErrorHandler: a.refused,
		Now:          opts.Now,
		// Browsers with DBSC bind the session to a key on the device at
		// sign-in; others are served as before.
		DeviceBinding: ginsecure.DeviceBinding{Enabled: opts.DeviceBinding, Challenges: challenges},
	})
	if err != nil {
		a.close()
		return nil, err
	}
	a.guard = guard
	if a.pages, err = parsePages(); err != nil {
		a.close()
		return nil, err
	}
	a.routes(sessStore)
	return a, nil
}

// sharedSecret returns the session signing key. Two instances on one Redis
// must sign cookies with the same key to share sessions; without -secret
// the first instance stores a random one in Redis and the others read it.
func sharedSecret(pool *redis.Pool, secret string) ([]byte, error) {
	if secret != "" {
		return []byte(secret), nil
	}
	conn := pool.Get()
	defer conn.Close()
	const key = "ginsecure-example:cookie-secret"
	if _, err := conn.Do("SET", key, hex.EncodeToString(randomKey()), "NX"); err != nil {
		return nil, err
	}
	s, err := redis.String(conn.Do("GET", key))
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(s)
}

func randomKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return k
}

func (a *app) routes(sessStore sessions.Store) {
	r := gin.New()
	// ginsecure reads c.RemoteIP() unless told to trust proxy headers; this
	// line only quiets gin's warning about trusting every proxy.
	_ = r.SetTrustedProxies(nil)
	if a.opts.AccessLog {
		r.Use(gin.Logger())
	}
	r.Use(gin.Recovery())
	a.engine = r

	static, _ := fs.Sub(staticFS, "static")
	r.StaticFS("/static", http.FS(static))
	r.GET("/favicon.ico", func(c *gin.Context) { c.FileFromFS("favicon.svg", http.FS(static)) })

	// Everything else goes through the CSRF check, the session and ginsecure.
	chain := []gin.HandlerFunc{a.arrival, a.sameOrigin, sessions.Sessions(sessionCookie, sessStore), a.guard.Middleware()}
	site := r.Group("/", append(chain, countVisits)...)
	// Unknown paths get the example's own page, signed-in header included,
	// rather than gin's plain-text 404.
	r.NoRoute(append(chain, func(c *gin.Context) {
		a.renderError(c, http.StatusNotFound, "Page not found", "There is no page at "+c.Request.URL.Path+".")
	})...)
	site.GET("/", func(c *gin.Context) {
		if _, ok := ginsecure.UserID(c); ok {
			c.Redirect(http.StatusSeeOther, "/profile")
			return
		}
		c.Redirect(http.StatusSeeOther, "/login")
	})
	site.GET("/login", a.loginPage)
	site.POST("/login", a.sameOriginForm, a.login)
	site.POST("/logout", a.sameOriginForm, a.logout)
	site.GET("/parallel", a.page("parallel"))
	site.GET("/api/me", a.me)

	signedIn := site.Group("/", a.guard.Require(ginsecure.Policy{Authenticated: true}))
	signedIn.GET("/profile", a.profile)
	signedIn.GET("/sessions", a.sessionsPage)
	signedIn.POST("/sessions/revoke", a.revokeOne)
	signedIn.POST("/sessions/revoke-others", a.revokeOthers)
	signedIn.POST("/sessions/revoke-all", a.revokeAll)
	signedIn.POST("/password", a.changePassword)
	signedIn.POST("/reauth", a.reauth)
	signedIn.POST("/demo/renew", a.renewNow)

	// The admin console asks for more: the very IP address of the login
	// (a stolen session is useless from the next desk) and a password
	// typed within AdminAuthAge (a session left open at lunch is not
	// enough). refused renders the "confirm your password" form.
	admin := site.Group("/admin", a.guard.Require(ginsecure.Policy{
		Authenticated: true,
		IPBinding:     ginsecure.IPExact(),
		MaxAuthAge:    a.opts.AdminAuthAge,
	}), a.requireAdmin)
	admin.GET("", a.adminPage)
	admin.POST("/revoke-user", a.adminRevokeUser)
}

// sameOrigin refuses cross-site POSTs (CSRF). SameSite=Lax already keeps
// both cookies off cross-site POSTs in current browsers, but not off
// same-site ones (a sibling subdomain) nor off older browsers; the
// Sec-Fetch-Site and Origin headers that net/http's CrossOriginProtection
// checks close that without a token in every form.
func (a *app) sameOrigin(c *gin.Context) {
	if err := a.cop.Check(c.Request); err != nil {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "cross_origin"})
		return
	}
	c.Next()
}

// sameOriginForm guards the sign-in and sign-out forms (login and logout
// CSRF): the POST must come from a page of this app's own origin. SameSite
// cookies do not stop these two: a sign-in needs no cookie at all (a
// foreign form can sign the browser into the attacker's account), and a
// sibling subdomain is same-site, so its forms carry Lax cookies.
// Browsers send Origin on every POST; without it (an old browser) the
// Referer must name this origin; with neither the request is refused.
func (a *app) sameOriginForm(c *gin.Context) {
	from := c.GetHeader("Origin")
	if from == "" {
		if ref, err := url.Parse(c.GetHeader("Referer")); err == nil && ref.Host != "" {
			from = ref.Scheme + "://" + ref.Host
		}
	}
	if from == "" || from != a.ownOrigin(c) {
		if !wantsHTML(c) {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "cross_origin"})
			return
		}
		c.Abort()
		a.renderError(c, http.StatusForbidden, "Refused", "This form was not sent from a page of this site.")
		return
	}
	c.Next()
}

// ownOrigin is the app's origin: -origin when given (behind a proxy that
// rewrites Host), else the scheme and Host of the request, which a page of
// another origin cannot choose.
func (a *app) ownOrigin(c *gin.Context) string {
	if a.opts.Origin != "" {
		return a.opts.Origin
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

// arrival numbers each request as it arrives, before its cookies are read:
// the parallel page compares the numbers of its fetches with those around
// a rotation to tell the requests answered before it from those that
// arrived after it with the old cookies (the grace window).
func (a *app) arrival(c *gin.Context) {
	c.Set("arrival", a.seq.Add(1))
	c.Next()
}

// countVisits keeps a page counter in the gin-contrib session: application
// data that ginsecure carries across sign-in when it regenerates the
// session ID.
func countVisits(c *gin.Context) {
	if c.Request.Method != http.MethodGet || strings.HasPrefix(c.Request.URL.Path, "/api/") {
		c.Next()
		return
	}
	s := sessions.Default(c)
	n, _ := s.Get("visits").(int)
	s.Set("visits", n+1)
	_ = s.Save()
	c.Next()
}

func (a *app) requireAdmin(c *gin.Context) {
	id, _ := ginsecure.UserID(c)
	if !users[id].Admin {
		c.Abort()
		a.renderError(c, http.StatusForbidden, "Administrators only", "Only alice may open the admin console. Sign in as alice to try it.")
		return
	}
	c.Next()
}

// wantsHTML tells page navigations from fetch calls, which get JSON.
func wantsHTML(c *gin.Context) bool {
	return strings.Contains(c.GetHeader("Accept"), "text/html")
}

// refused is the Guard's ErrorHandler. Fetch calls get the default JSON
// answer; a page navigation gets a page: the "confirm your password" form
// when a policy wants a recent login, else the login page with the reason.
// The Guard has already expired dead cookies and aborts after this.
func (a *app) refused(c *gin.Context, err error) {
	if !wantsHTML(c) {
		body := gin.H{"error": ginsecure.ErrorCode(err)}
		if by := ginsecure.RevokeReasonOf(err); by != "" {
			body["reason"] = by // as the default handler: who signed the session out
		}
		c.AbortWithStatusJSON(ginsecure.ErrorStatus(err), body)
		return
	}
	switch {
	case errors.Is(err, ginsecure.ErrReauthRequired):
		id, _ := ginsecure.UserID(c)
		a.render(c, http.StatusForbidden, "reauth", gin.H{
			"Next": c.Request.URL.RequestURI(), "User": users[id], "MaxAge": a.opts.AdminAuthAge,
		})
	case ginsecure.ErrorStatus(err) == http.StatusUnauthorized:
		q := url.Values{"reason": {ginsecure.ErrorCode(err)}}
		if by := ginsecure.RevokeReasonOf(err); by != "" {
			q.Set("by", string(by)) // who signed the session out
		}
		if c.Request.Method == http.MethodGet {
			q.Set("next", c.Request.URL.RequestURI()) // back here after sign-in; a POST cannot be replayed
		}
		c.Redirect(http.StatusSeeOther, "/login?"+q.Encode())
	case errors.Is(err, ginsecure.ErrStoreUnavailable):
		a.outage(c)
	default:
		a.renderError(c, ginsecure.ErrorStatus(err), "Request refused", reasonText(ginsecure.ErrorCode(err), ""))
	}
}

// outagePage is what an outage page says for one action: what did not
// happen, in the words of what the visitor was doing.
type outagePage struct {
	Title, Text string
	RetryLogout bool // offer the sign-out again
}

// outages, by the request's method and route. Every other request (a
// page) gets pageOutage.
var outages = map[string]outagePage{
	"POST /login": {Title: "Could not sign in",
		Text: "The session store cannot be reached right now, so you are not signed in. Please try again in a moment."},
	"POST /logout": {Title: "Could not sign out", RetryLogout: true,
		Text: "The session store cannot be reached right now, so the sign-out did not finish and this browser may still be signed in. Please try again in a moment."},
	"POST /sessions/revoke": {Title: "Could not sign that session out",
		Text: "The session store cannot be reached right now, so that session is still signed in. Please try again in a moment."},
	"POST /sessions/revoke-others": {Title: "Could not sign out your other sessions",
		Text: "The session store cannot be reached right now, so your other sessions are still signed in. Please try again in a moment."},
	"POST /sessions/revoke-all": {Title: "Could not sign out everywhere",
		Text: "The session store cannot be reached right now, so your sessions are still signed in, this one included. Please try again in a moment."},
	"POST /password": {Title: "Could not finish the password change",
		Text: "The session store cannot be reached right now, so your other sessions were not signed out. Please try again in a moment."},
	"POST /reauth": {Title: "Could not confirm your password",
		Text: "The session store cannot be reached right now, so the admin console stays locked. Please try again in a moment."},
	"POST /admin/revoke-user": {Title: "Could not sign that user out",
		Text: "The session store cannot be reached right now, so that user's sessions are still signed in. Please try again in a moment."},
}

var pageOutage = outagePage{Title: "Session store unreachable",
	Text: "This page needs the session store, which cannot be reached right now. Nothing was signed out: try again in a moment."}

// outage answers a request the store could not serve (ErrStoreUnavailable)
// with a 503 page that fits the action taken. The session may well be
// intact: the page must not look signed out (see render).
func (a *app) outage(c *gin.Context) {
	c.Header("Retry-After", "5")
	p, ok := outages[c.Request.Method+" "+c.FullPath()]
	if !ok {
		p = pageOutage
	}
	if !wantsHTML(c) {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": ginsecure.ErrorCode(ginsecure.ErrStoreUnavailable)})
		return
	}
	a.render(c, http.StatusServiceUnavailable, "error", gin.H{
		"Title": p.Title, "Text": p.Text, "Status": http.StatusServiceUnavailable, "RetryLogout": p.RetryLogout, "Back": retryTarget(c),
	})
}

// retryTarget is where "try again" leads: the page itself for a GET, the
// page whose form was sent for a POST (its Referer's path, kept on this
// site), else the start.
func retryTarget(c *gin.Context) string {
	if c.Request.Method == http.MethodGet {
		return c.Request.URL.RequestURI()
	}
	if ref, err := url.Parse(c.GetHeader("Referer")); err == nil {
		return safeNext(ref.RequestURI(), "/")
	}
	return "/"
}

// reasonText explains on the login page why the browser is signed out:
// code is the refusal's ErrorCode, by the RevokeReason of a revocation.
func reasonText(code, by string) string {
	switch code {
	case "":
		return ""
	case "signed_out":
		return "You signed out."
	case "no_session":
		return "Please sign in to see that page."
	case "revoked":
		return revokedText(ginsecure.RevokeReason(by))
	case "evicted":
		return "You signed in somewhere else, which signed this browser out."
	case "idle_timeout":
		return "You were signed out after a period of inactivity."
	case "expired":
		// A timeout, a sign-out from another tab, or a store that lost
		// its data (a restart without persistence): the same answer.
		return "Please sign in again."
	case "replay":
		return "Old credentials were used again after they were replaced, so the session was ended to protect you."
	case "ip_mismatch":
		return "This session was signed in on another network: sign in again from this one."
	case "token_mismatch":
		return "This browser's credentials did not match, so the session was ended."
	case "store_unavailable":
		return "The session store cannot be reached right now. Nothing was signed out: try again in a moment."
	case "stale_credentials":
		return "The request carried credentials that had just been replaced. Nothing was changed: try again."
	case "tls_required":
		return "This page needs HTTPS."
	default:
		return "Please sign in again."
	}
}

// revokedText says who signed the session out, from the reason the revoke
// call was given (ginsecure.RevokeReason).
func revokedText(by ginsecure.RevokeReason) string {
	switch by {
	case ginsecure.ReasonOtherDevice:
		return "You signed this browser out from another of your devices."
	case ginsecure.ReasonAdmin:
		return "An administrator signed this session out."
	case ginsecure.ReasonSelf:
		return "You signed out everywhere, this browser included."
	case ginsecure.ReasonPasswordChange:
		return "Your password was changed, which signed this browser out. Sign in with the new password."
	default:
		return "This session was signed out."
	}
}

// safeNext keeps redirects on this site: a path, never "//host" or a URL.
func safeNext(next, fallback string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return fallback
	}
	return next
}

func passwordOK(id, password string) bool {
	_, known := users[id]
	ok := subtle.ConstantTimeCompare([]byte(password), []byte(demoPassword)) == 1
	return known && ok
}

func (a *app) loginPage(c *gin.Context) {
	if _, ok := ginsecure.UserID(c); ok {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query("next"), "/profile"))
		return
	}
	reason, by := c.Query("reason"), c.Query("by")
	if err := ginsecure.FailureReason(c); err != nil {
		reason, by = ginsecure.ErrorCode(err), string(ginsecure.RevokeReasonOf(err))
	}
	a.render(c, http.StatusOK, "login", gin.H{
		"Reason": reasonText(reason, by), "Next": safeNext(c.Query("next"), ""),
		"Users": demoUsers(), "Password": demoPassword,
	})
}

// login checks the password and calls ginsecure.Login, which regenerates
// the session ID (fixation) and binds the new session to alice or bob and
// to this IP address. A fetch gets JSON, a form a redirect.
func (a *app) login(c *gin.Context) {
	id := strings.TrimSpace(c.PostForm("username"))
	if !passwordOK(id, c.PostForm("password")) {
		if !wantsHTML(c) {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "bad_credentials"})
			return
		}
		a.render(c, http.StatusUnauthorized, "login", gin.H{
			"Error": "Unknown user or wrong password.", "Username": id,
			"Next": safeNext(c.PostForm("next"), ""), "Users": demoUsers(), "Password": demoPassword,
		})
		return
	}
	from := a.seq.Load()
	if err := ginsecure.Login(c, id); err != nil {
		a.fail(c, err)
		return
	}
	if !wantsHTML(c) {
		c.JSON(http.StatusOK, gin.H{"user": id, "from": from, "to": a.seq.Load()})
		return
	}
	c.Redirect(http.StatusSeeOther, safeNext(c.PostForm("next"), "/profile"))
}

// logout signs this browser out. A Logout that fails did not finish the
// sign-out, so the page says that, and offers to try again, rather than
// suggesting the user sign in again: ErrStoreUnavailable is an outage
// (retry), ErrNoSession a request that proved nothing (a session cookie
// without its token), ErrNoMiddleware a programming error (500).
func (a *app) logout(c *gin.Context) {
	err := ginsecure.Logout(c)
	if err == nil {
		c.Redirect(http.StatusSeeOther, "/login?reason=signed_out")
		return
	}
	a.opts.Logger.Warn("example: sign-out failed", "err", err)
	if errors.Is(err, ginsecure.ErrStoreUnavailable) {
		a.outage(c)
		return
	}
	status, text := ginsecure.ErrorStatus(err), "This request did not carry the session's credentials, so nothing was signed out."
	if errors.Is(err, ginsecure.ErrMisconfigured) {
		text = "The server is misconfigured."
	}
	if !wantsHTML(c) {
		c.JSON(status, gin.H{"error": ginsecure.ErrorCode(err)})
		return
	}
	a.render(c, status, "error", gin.H{"Title": "Could not sign out", "Text": text, "Status": status, "RetryLogout": true})
}

// fail answers an error of Login, Renew or a store call; a store outage
// gets the outage page of the action taken.
func (a *app) fail(c *gin.Context, err error) {
	status := ginsecure.ErrorStatus(err)
	a.opts.Logger.Warn("example: request failed", "path", c.Request.URL.Path, "err", err)
	if errors.Is(err, ginsecure.ErrStoreUnavailable) {
		a.outage(c)
		return
	}
	if !wantsHTML(c) {
		c.JSON(status, gin.H{"error": ginsecure.ErrorCode(err)})
		return
	}
	text := reasonText(ginsecure.ErrorCode(err), "")
	if status == http.StatusInternalServerError {
		text = "The server is misconfigured."
	}
	a.renderError(c, status, "Something went wrong", text)
}

// me answers who this request is, for fetch calls: always 200, so that the
// parallel page can tell "refused" from "anonymous". cred is a short
// fingerprint of the cookies the request carried, so the page can show
// which requests left the browser with credentials that have since been
// replaced (it reveals nothing about them).
func (a *app) me(c *gin.Context) {
	id, ok := ginsecure.UserID(c)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"user": id, "signed_in": ok, "cred": credFingerprint(c.Request), "arrival": c.GetInt64("arrival")})
}

func credFingerprint(r *http.Request) string {
	var sess, tok string
	if ck, err := r.Cookie(sessionCookie); err == nil {
		sess = ck.Value
	}
	if ck, err := r.Cookie(ginsecure.DefaultCookieName); err == nil {
		tok = ck.Value
	}
	if sess == "" && tok == "" {
		return "none"
	}
	sum := sha256.Sum256([]byte(sess + "\x00" + tok))
	return hex.EncodeToString(sum[:4])
}

// renewNow rotates the credentials right now, as a privilege change would:
// the parallel page calls it while its fetches are in flight.
// Its answer gives the arrival numbers just before and just after the
// rotation, so the page can tell which fetches arrived after it.
func (a *app) renewNow(c *gin.Context) {
	from := a.seq.Load()
	if err := ginsecure.Renew(c); err != nil {
		c.JSON(http.StatusConflict, gin.H{"error": ginsecure.ErrorCode(err)})
		return
	}
	c.JSON(http.StatusOK, gin.H{"renewed": true, "from": from, "to": a.seq.Load()})
}

func (a *app) profile(c *gin.Context) {
	list, err := a.guard.SessionsOf(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	var cur ginsecure.SessionInfo
	for _, s := range list {
		if s.Current {
			cur = s
		}
	}
	a.render(c, http.StatusOK, "profile", gin.H{"Current": cur, "Count": len(list)})
}

func (a *app) sessionsPage(c *gin.Context) {
	list, err := a.guard.SessionsOf(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	// Newest first reads better on a page.
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	a.render(c, http.StatusOK, "sessions", gin.H{"Sessions": list})
}

// revokeOne signs out one of the user's other sessions. RevokeSession
// checks the handle belongs to this user, so a forged form cannot end
// somebody else's session.
func (a *app) revokeOne(c *gin.Context) {
	id, _ := ginsecure.UserID(c)
	err := a.guard.RevokeSession(reqCtx(c), id, c.PostForm("handle"), ginsecure.ReasonOtherDevice)
	switch {
	case errors.Is(err, ginsecure.ErrNoSession):
		flash(c, "That session had already ended.")
	case err != nil:
		a.fail(c, err)
		return
	default:
		flash(c, "Signed that session out. It is refused at its next request, on every server.")
	}
	c.Redirect(http.StatusSeeOther, "/sessions")
}

// revokeOthers signs out every other session of the user: each is told
// it was signed out from another of the user's devices.
func (a *app) revokeOthers(c *gin.Context) {
	n, err := a.guard.RevokeOthers(c, ginsecure.ReasonOtherDevice)
	if err != nil {
		a.fail(c, err)
		return
	}
	flash(c, fmt.Sprintf("Signed out %d other session(s). This browser stays signed in.", n))
	c.Redirect(http.StatusSeeOther, "/sessions")
}

// revokeAll signs out every session of the user, this one included: the
// next page learns from the record that the user did it (ReasonSelf).
func (a *app) revokeAll(c *gin.Context) {
	id, _ := ginsecure.UserID(c)
	if _, err := a.guard.RevokeUser(reqCtx(c), id, ginsecure.ReasonSelf); err != nil {
		a.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/profile")
}

// changePassword is the demo's password change: every demo user keeps the
// password "demo", but what a change must do happens: every other session
// is signed out, told why (ReasonPasswordChange), and this browser's
// credentials rotate (Renew), as after any change of privilege.
func (a *app) changePassword(c *gin.Context) {
	id, _ := ginsecure.UserID(c)
	if !passwordOK(id, c.PostForm("password")) {
		flash(c, "Wrong current password: nothing changed.")
		c.Redirect(http.StatusSeeOther, "/profile")
		return
	}
	n, err := a.guard.RevokeOthers(c, ginsecure.ReasonPasswordChange)
	if err == nil {
		err = ginsecure.Renew(c)
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	flash(c, fmt.Sprintf("Password changed (the demo keeps %q). Signed out %d other session(s); this browser has new credentials.", demoPassword, n))
	c.Redirect(http.StatusSeeOther, "/profile")
}

// reauth is the "confirm your password" step of the admin console: the
// password is checked again and ginsecure.Renew resets the login time
// (and rotates the credentials, since privilege went up).
func (a *app) reauth(c *gin.Context) {
	id, _ := ginsecure.UserID(c)
	next := safeNext(c.PostForm("next"), "/admin")
	if !passwordOK(id, c.PostForm("password")) {
		a.render(c, http.StatusForbidden, "reauth", gin.H{
			"Next": next, "User": users[id], "MaxAge": a.opts.AdminAuthAge, "Error": "Wrong password.",
		})
		return
	}
	if err := ginsecure.Renew(c); err != nil {
		a.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, next)
}

type userSessions struct {
	User     user
	Sessions []ginsecure.SessionInfo
}

func (a *app) adminPage(c *gin.Context) {
	var all []userSessions
	for _, u := range demoUsers() {
		list, err := a.guard.Sessions(reqCtx(c), u.ID)
		if err != nil {
			a.fail(c, err)
			return
		}
		all = append(all, userSessions{User: u, Sessions: list})
	}
	a.render(c, http.StatusOK, "admin", gin.H{"All": all, "MaxAge": a.opts.AdminAuthAge})
}

// adminRevokeUser signs out every session of a user (an account locked
// after a breach), on every server sharing the store.
func (a *app) adminRevokeUser(c *gin.Context) {
	target := c.PostForm("user")
	if _, ok := users[target]; !ok {
		a.renderError(c, http.StatusBadRequest, "Unknown user", "There is no such demo user.")
		return
	}
	n, err := a.guard.RevokeUser(reqCtx(c), target, ginsecure.ReasonAdmin)
	if err != nil {
		a.fail(c, err)
		return
	}
	flash(c, fmt.Sprintf("Signed out %d session(s) of %s.", n, target))
	c.Redirect(http.StatusSeeOther, "/admin")
}

func flash(c *gin.Context, msg string) {
	s := sessions.Default(c)
	s.AddFlash(msg)
	_ = s.Save()
}
