package main

// A real browser against the example app: headless Chromium (the Debian
// package chromium) driven over the DevTools protocol by chromedp.
//
// Two servers run the same app in-process:
//
//   - http://localhost:<port>, the default way to run the example: sign in
//     through the form, press the parallel page's buttons, look at the pages.
//   - https://127.0.0.1:<port> with HTTP/2, where every fetch shares one
//     connection. There the test holds parallel requests at the door (before
//     gin, so before their cookies are read) until a sign-in, a Renew, or a
//     move of the app's clock past RotateEvery has happened, which makes
//     every one of them a straggler carrying the old credentials: the race
//     is forced, not left to the speed of the machine.
//     Over HTTP/1.1 the browser opens at most six connections per host, and
//     the held requests would block the sign-in itself.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/ginsecure/ginsecure"
)

// artifactDir keeps screenshots after the test (gitignored).
const artifactDir = "testdata/artifacts"

// browserWait bounds every wait on the browser: generous, since a loaded CI
// machine may be slow to start Chromium; never a pass/fail criterion.
const browserWait = 60 * time.Second

const parallelFetches = 20

// testRotate is long enough that no periodic rotation happens unless the
// test moves the clock, however slow the machine.
const testRotate = 10 * time.Minute

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "headless Chromium not found: install the Debian package chromium (apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so this is a failure, not a skip")
	}
	t.Skip(msg)
	return ""
}

// events records the app's security events.
type events struct {
	mu   sync.Mutex
	list []ginsecure.Event
}

func (e *events) add(ev ginsecure.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
}

func (e *events) count(kind ginsecure.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// gate holds requests whose URL has ?hold=1 before they reach the app,
// and records the Set-Cookie lines of their responses.
type gate struct {
	mu      sync.Mutex
	held    int
	open    chan struct{}
	cookies []string
	// hold picks the requests to hold; nil: those with ?hold=1.
	hold func(*http.Request) bool
	// renewed receives after each POST /demo/renew has been answered.
	renewed chan struct{}
	// renewAfter, when set, holds POST /demo/renew until that many
	// numbered fetches (/api/me?i=) have reached the server: a loaded
	// machine may otherwise dispatch the page's fetches only after the
	// rotation answered, with the new cookies.
	renewAfter int
	apiSeen    int
}

func newGate() *gate { return &gate{open: make(chan struct{}), renewed: make(chan struct{}, 16)} }

func (g *gate) holds(r *http.Request) bool {
	g.mu.Lock()
	hold := g.hold
	g.mu.Unlock()
	if hold != nil {
		return hold(r)
	}
	return r.URL.Query().Get("hold") != ""
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		if r.URL.Path == "/api/me" && r.URL.Query().Get("i") != "" {
			g.apiSeen++
		}
		wait := r.URL.Path == "/demo/renew" && g.renewAfter > 0
		g.mu.Unlock()
		for deadline := time.Now().Add(browserWait); wait && time.Now().Before(deadline); {
			g.mu.Lock()
			wait = g.apiSeen < g.renewAfter
			g.mu.Unlock()
			time.Sleep(time.Millisecond)
		}
		if !g.holds(r) {
			h.ServeHTTP(w, r)
			if r.URL.Path == "/demo/renew" {
				g.renewed <- struct{}{}
			}
			return
		}
		g.mu.Lock()
		g.held++
		open := g.open
		g.mu.Unlock()
		select {
		case <-open:
		case <-r.Context().Done():
			return
		}
		h.ServeHTTP(w, r)
		g.mu.Lock()
		g.cookies = append(g.cookies, w.Header().Values("Set-Cookie")...)
		g.mu.Unlock()
	})
}

// waitHeld waits until n requests are held.
func (g *gate) waitHeld(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d parallel fetches reached the server", held, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// release lets the held requests through.
func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

// reset arms the gate for the next round and returns the Set-Cookie lines
// of the round before; call it once the browser has all the answers.
func (g *gate) reset() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.cookies
	g.held, g.cookies, g.open = 0, nil, make(chan struct{})
	return c
}

// clock is the app's clock; the test moves it instead of sleeping.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func newTestApp(t *testing.T, ev *events, clk *clock) *app {
	t.Helper()
	a, err := newApp(options{
		Now: clk.now,
		// A grace window far longer than the test needs, so that no result
		// depends on the speed of the machine; RotateEvery must exceed it.
		Grace:   20 * time.Second,
		Rotate:  testRotate,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnEvent: ev.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close() })
	return a
}

// newBrowser starts headless Chromium with an empty profile.
func newBrowser(t *testing.T, exe string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	dir, err := os.MkdirTemp("", "ginsecure-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // runs after the browser is closed below
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(dir),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.WindowSize(1100, 900),
		chromedp.Flag("no-sandbox", true), // tests may run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	ctx, tcancel := context.WithTimeout(ctx, 4*browserWait)
	t.Cleanup(tcancel)
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval runs JavaScript in the page, awaiting a promise, and decodes the
// result into T.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(artifactDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, _ := filepath.Abs(filepath.Join(artifactDir, name+".png"))
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// meResult is /api/me as the page's fetch saw it.
type meResult struct {
	I           int    `json:"i"`
	Status      int    `json:"status"`
	ContentType string `json:"type"`
	User        string `json:"user"`
	SignedIn    bool   `json:"signed_in"`
	Cred        string `json:"cred"`
	Error       string `json:"error"`
}

// meJS fetches /api/me; query is appended to the URL.
func meJS(query string) string {
	return `fetch("/api/me` + query + `", {cache: "no-store", headers: {Accept: "application/json"}})
	  .then(async r => { const b = await r.json(); return {status: r.status, type: r.headers.get("content-type") || "", user: b.user, signed_in: b.signed_in, cred: b.cred}; })
	  .catch(e => ({status: 0, error: String(e)}))`
}

func me(t *testing.T, ctx context.Context) meResult {
	t.Helper()
	return eval[meResult](t, ctx, meJS(""))
}

// postJS POSTs a form with fetch, as the page would, and returns the status.
func postJS(path string, form map[string]string) string {
	body := "undefined"
	if form != nil {
		b, _ := json.Marshal(form)
		body = "new URLSearchParams(" + string(b) + ")"
	}
	return `fetch(` + jsString(path) + `, {method: "POST", headers: {Accept: "application/json"}, body: ` + body + `}).then(r => r.status)`
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	if testing.Short() {
		t.Skip("starts a browser")
	}
	t.Run("pages over http://localhost", func(t *testing.T) { testPages(t, exe) })
	t.Run("forced races over HTTP/2", func(t *testing.T) { testForcedRaces(t, exe) })
	t.Run("store outage", func(t *testing.T) { testStoreOutage(t, exe) })
}

// testPages uses the example as a person would, over plain HTTP on
// localhost: the Secure and __Host- cookies must work there.
func testPages(t *testing.T, exe string) {
	ev, clk := &events{}, &clock{}
	a := newTestApp(t, ev, clk)
	srv := httptest.NewServer(a.engine)
	t.Cleanup(srv.Close)
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	ctx := newBrowser(t, exe)

	// Sign in through the form.
	do(t, ctx, "open the login page",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	screenshot(t, ctx, "login")
	signIn(t, ctx, base, "alice")
	if m := me(t, ctx); m.Status != 200 || m.User != "alice" {
		t.Fatalf("/api/me after sign-in: %+v; the browser did not keep the Secure/__Host- cookies over http://localhost", m)
	}
	// The profile shows the session's handle whole (22 base64url
	// characters, which may contain "-"), as the sessions page lists it.
	handle := eval[string](t, ctx, `document.getElementById("handle").textContent`)
	if len(handle) != 22 || strings.ContainsAny(handle, "…. ") {
		t.Errorf("profile shows the session as %q, want the whole 22-character handle", handle)
	}
	screenshot(t, ctx, "profile")

	// An unknown path: the example's own 404 page, with the signed-in
	// header, not gin's plain text; and a favicon.
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/no-such-page"))
	if err != nil || resp.Status != http.StatusNotFound {
		t.Fatalf("unknown path: %v %+v, want 404", err, resp)
	}
	if ok := eval[bool](t, ctx, `document.getElementById("error-page") !== null && document.querySelector("form.who") !== null`); !ok {
		t.Errorf("the 404 page is not the example's page with the signed-in header")
	}
	screenshot(t, ctx, "not-found")
	if icon := eval[string](t, ctx, `fetch("/favicon.ico").then(r => r.status + " " + r.headers.get("content-type"))`); !strings.HasPrefix(icon, "200 image/svg+xml") {
		t.Errorf("/favicon.ico: %s, want 200 image/svg+xml", icon)
	}

	// The parallel page's button: 20 fetches, a forced rotation among them.
	run := pressFire(t, ctx, base, "renew")
	if run.OK != parallelFetches || run.SawUser != parallelFetches || run.SideStatus != 200 || run.After.User != "alice" {
		t.Fatalf("parallel page, rotation: %d/%d succeeded, %d saw alice, renew %d, afterwards %q",
			run.OK, parallelFetches, run.SawUser, run.SideStatus, run.After.User)
	}
	checkSplit(t, "parallel page, rotation", run)
	t.Logf("parallel page, rotation: %d/%d succeeded, %d saw alice, %d left with the pre-rotation cookies: %d answered before the rotation, %d after it in the grace window, %d during it; %d left with the new cookies; still signed in as %s",
		run.OK, parallelFetches, run.SawUser, run.Old, run.AnsweredBefore, run.Grace, run.During, run.Fresh, run.After.User)
	screenshot(t, ctx, "parallel-rotation")

	// Where you're signed in: a second browser (its own cookies) signs in
	// as alice; the first signs it out, then "everywhere else", then
	// changes the password. Each time the second browser's sign-in page
	// says who ended its session.
	other, cancelOther := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelOther()
	confirms, otherConfirms := answerDialogs(t, ctx), answerDialogs(t, other)
	signIn(t, other, base, "alice")
	do(t, ctx, "open the sessions page", chromedp.Navigate(base+"/sessions"), chromedp.WaitVisible(chromedp.ID("revoke-others")))
	if n := eval[int](t, ctx, `document.querySelectorAll("table.sessions tbody tr").length`); n != 2 {
		t.Fatalf("sessions page lists %d sessions, want 2", n)
	}
	screenshot(t, ctx, "sessions")
	do(t, ctx, "revoke the other session", chromedp.Submit(chromedp.CSS(`form[action="/sessions/revoke"]`)))
	waitFor(t, ctx, "the sessions page after the revocation", flashJS("/sessions", "Signed that session out"))
	expectSignedOut(t, other, base, "revoked", "other_device", "You signed this browser out from another of your devices.")
	screenshot(t, other, "signed-out-other-device")
	signIn(t, other, base, "alice")
	do(t, ctx, "open the sessions page", chromedp.Navigate(base+"/sessions"), chromedp.WaitVisible(chromedp.ID("revoke-others")))
	do(t, ctx, "sign out everywhere else", chromedp.Click(chromedp.ID("revoke-others")))
	waitFor(t, ctx, "the sessions page after signing out everywhere else", flashJS("/sessions", "Signed out 1 other session"))
	expectSignedOut(t, other, base, "revoked", "other_device", "You signed this browser out from another of your devices.")
	if m := me(t, ctx); m.User != "alice" {
		t.Fatalf("signed out by our own \"everywhere else\": %+v", m)
	}
	signIn(t, other, base, "alice")
	do(t, ctx, "change the password", chromedp.Navigate(base+"/profile"), chromedp.WaitVisible(chromedp.ID("password-change")),
		chromedp.SendKeys(chromedp.ID("current-password"), demoPassword))
	do(t, ctx, "submit the password change", chromedp.Submit(chromedp.ID("password-change")))
	waitFor(t, ctx, "the profile after the password change", flashJS("/profile", "Password changed"))
	expectSignedOut(t, other, base, "revoked", "password_changed", "Your password was changed, which signed this browser out.")
	screenshot(t, other, "signed-out-password-change")
	if m := me(t, ctx); m.User != "alice" {
		t.Fatalf("signed out by our own password change: %+v", m)
	}

	// The admin console: fine right after sign-in; after MaxAuthAge it asks
	// for the password again, and Renew lets the browser back in.
	do(t, ctx, "open the admin console", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.ID("admin")))
	screenshot(t, ctx, "admin")

	// Its destructive button asks first: dismissed, bob stays signed in;
	// confirmed, bob's page says an administrator signed him out.
	signIn(t, other, base, "bob")
	do(t, ctx, "reload the admin console", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.ID("revoke-user-bob")))
	confirms.accept.Store(false)
	do(t, ctx, "press bob's sign-out button, then dismiss the question", chromedp.Click(chromedp.ID("revoke-user-bob")))
	if q := confirms.last(t); !strings.Contains(q, "Sign out all 1 of bob's sessions?") {
		t.Errorf("the admin console's sign-out button asked %q", q)
	}
	if m := me(t, other); m.User != "bob" {
		t.Fatalf("a dismissed confirmation signed bob out: %+v", m)
	}
	confirms.accept.Store(true)
	do(t, ctx, "press bob's sign-out button, then confirm", chromedp.Click(chromedp.ID("revoke-user-bob")))
	confirms.last(t)
	waitFor(t, ctx, "the admin console after signing bob out", flashJS("/admin", "Signed out 1 session(s) of bob"))
	expectSignedOut(t, other, base, "revoked", "admin", "An administrator signed this session out.")
	screenshot(t, other, "signed-out-admin")
	clk.advance(6 * time.Minute) // past the admin group's MaxAuthAge of 5m
	resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(base+"/admin"))
	if err != nil || resp.Status != http.StatusForbidden {
		t.Fatalf("admin console after MaxAuthAge: %v %+v, want 403 and the password form", err, resp)
	}
	do(t, ctx, "the confirm-password form", chromedp.WaitVisible(chromedp.ID("reauth")), chromedp.SendKeys(chromedp.ID("password"), "demo"))
	screenshot(t, ctx, "reauth")
	do(t, ctx, "confirm the password", chromedp.Submit(chromedp.ID("reauth")))
	// The password form's page is /admin too: wait until it is gone and
	// the console has loaded, or the sign-out below may act on a page
	// that the form's navigation is about to replace.
	waitFor(t, ctx, "the admin console after confirming the password", `location.pathname === "/admin" && document.getElementById("reauth") === null && document.getElementById("admin") !== null && document.readyState === "complete"`)

	// Sign out; then alice, on the second browser, signs out everywhere.
	do(t, ctx, "sign out", chromedp.Submit(chromedp.CSS("form.who")))
	waitFor(t, ctx, "the login page after signing out", `location.pathname === "/login" && location.search.includes("signed_out") && document.readyState === "complete"`)
	if m := me(t, ctx); m.User != "" {
		t.Fatalf("/api/me after sign-out: %+v", m)
	}
	signIn(t, other, base, "alice")
	do(t, other, "open the sessions page", chromedp.Navigate(base+"/sessions"), chromedp.WaitVisible(chromedp.ID("revoke-all")))
	otherConfirms.accept.Store(true)
	do(t, other, "sign out everywhere", chromedp.Click(chromedp.ID("revoke-all")))
	if q := otherConfirms.last(t); !strings.Contains(q, "Sign out everywhere, this browser included?") {
		t.Errorf("the sign-out-everywhere button asked %q", q)
	}
	waitFor(t, other, "the login page after signing out everywhere", reasonJS("revoked", "self", "You signed out everywhere, this browser included."))
	screenshot(t, other, "signed-out-self")

	// The page's sign-in race, from a signed-out page: afterwards its
	// header shows the signed-in user without a reload.
	run = pressFire(t, ctx, base, "login")
	if run.OK != parallelFetches || run.Escalated != 0 || run.SideStatus != 200 || run.After.User != "alice" {
		t.Fatalf("parallel page, sign-in race: %d/%d succeeded, %d escalated, login %d, afterwards %q",
			run.OK, parallelFetches, run.Escalated, run.SideStatus, run.After.User)
	}
	checkSplit(t, "parallel page, sign-in race", run)
	waitFor(t, ctx, "the parallel page's header after its sign-in",
		`document.querySelector("header.top form.who") !== null && document.querySelector('header.top nav a[href="/profile"]') !== null && !document.querySelector('header.top nav a[href="/login"]')`)
	t.Logf("parallel page, sign-in race: %d/%d succeeded, %d left signed out (%d answered before the sign-in, %d after it in the grace window, none of them saw alice), %d saw alice; signed in as %s afterwards",
		run.OK, parallelFetches, run.Old, run.AnsweredBefore, run.Grace, run.SawUser, run.After.User)
	screenshot(t, ctx, "parallel-signin")
	// The revocations asked for: one session each from the sessions page,
	// "everywhere else" and the password change; bob's by the admin;
	// alice's one session by "everywhere".
	noAlarms(t, ev, 5)
}

// dialogs answers a page's JavaScript dialogs (window.confirm) as accept
// says, and keeps their questions.
type dialogs struct {
	accept    atomic.Bool
	questions chan string
}

func answerDialogs(t *testing.T, ctx context.Context) *dialogs {
	t.Helper()
	d := &dialogs{questions: make(chan string, 16)}
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range opening {
			if err != nil {
				return
			}
			d.questions <- ev.Message
			accept := d.accept.Load()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
			}()
		}
	}()
	return d
}

// last returns the question of the next dialog the page opened.
func (d *dialogs) last(t *testing.T) string {
	t.Helper()
	select {
	case q := <-d.questions:
		return q
	case <-time.After(browserWait):
		t.Fatal("the page asked no confirmation")
		return ""
	}
}

// reasonJS holds on the login page that gives the reason code (and
// revocation reason by) in its URL and says text.
func reasonJS(code, by, text string) string {
	cond := `location.pathname === "/login" && document.readyState === "complete" && location.search.includes(` + jsString("reason="+code) + `)`
	if by != "" {
		cond += ` && location.search.includes(` + jsString("by="+by) + `)`
	}
	return cond + ` && (document.getElementById("reason") || {}).textContent === ` + jsString(text)
}

// signIn signs in through the login form.
func signIn(t *testing.T, ctx context.Context, base, user string) {
	t.Helper()
	do(t, ctx, "open the login page",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), demoPassword),
	)
	do(t, ctx, "submit the login form", chromedp.Submit(chromedp.ID("login")))
	waitFor(t, ctx, "the profile after signing in as "+user,
		`location.pathname === "/profile" && document.readyState === "complete" && document.body.textContent.includes(`+jsString("signed in as "+user)+`)`)
}

// waitFor waits until the JavaScript condition holds in the page. It asks
// the page itself, again and again, rather than watching protocol events,
// which may still belong to the page before a navigation.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %s never held (at %s, last error %v)", what, cond, loc, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// flashJS holds when the page at path shows a flash message containing msg.
func flashJS(path, msg string) string {
	return `location.pathname === ` + jsString(path) + ` && document.readyState === "complete" && ` +
		`Array.from(document.querySelectorAll(".note.ok")).some(n => n.textContent.includes(` + jsString(msg) + `))`
}

// expectSignedOut opens the profile and expects the login page, with the
// reason code (and the revocation's reason, by) in its URL, saying text.
func expectSignedOut(t *testing.T, ctx context.Context, base, reason, by, text string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/profile"))
	if err != nil {
		t.Fatalf("open the profile: %v", err)
	}
	if resp.Status != http.StatusOK || !strings.Contains(resp.URL, "/login?") || !strings.Contains(resp.URL, "reason="+reason) ||
		(by != "" && !strings.Contains(resp.URL, "by="+by)) {
		m := me(t, ctx)
		t.Fatalf("profile of a %s session: %d %s, want the login page with reason=%s by=%s (me: %+v)", reason, resp.Status, resp.URL, reason, by, m)
	}
	if got := eval[string](t, ctx, `(document.getElementById("reason") || {}).textContent || ""`); !strings.HasPrefix(got, text) {
		t.Fatalf("the login page after a %s (%s) session says %q, want %q", reason, by, got, text)
	}
}

type pageRun struct {
	OK             int        `json:"ok"`
	SawUser        int        `json:"sawUser"`
	Old            int        `json:"old"`
	AnsweredBefore int        `json:"answeredBefore"`
	Grace          int        `json:"grace"`
	During         int        `json:"during"`
	Fresh          int        `json:"fresh"`
	Escalated      int        `json:"escalated"`
	SideStatus     int        `json:"sideStatus"`
	After          meResult   `json:"after"`
	Results        []meResult `json:"results"`
}

// checkSplit: every fetch of the parallel page is counted once: with the
// old cookies, answered before the rotation, after it (grace window) or
// during it; or held back by the browser until it had the new cookies.
func checkSplit(t *testing.T, what string, run pageRun) {
	t.Helper()
	if n := run.AnsweredBefore + run.Grace + run.During + run.Fresh; n != parallelFetches || run.Old+run.Fresh != parallelFetches {
		t.Errorf("%s: %d before + %d grace + %d during + %d with new cookies = %d (old %d), want %d",
			what, run.AnsweredBefore, run.Grace, run.During, run.Fresh, n, run.Old, parallelFetches)
	}
}

func pressFire(t *testing.T, ctx context.Context, base, mode string) pageRun {
	t.Helper()
	do(t, ctx, "open the parallel page",
		chromedp.Navigate(base+"/parallel"),
		chromedp.WaitVisible(chromedp.CSS(`#fire[data-mode="`+mode+`"]`)),
	)
	return clickFire(t, ctx)
}

// clickFire presses the parallel page's button and returns its result.
func clickFire(t *testing.T, ctx context.Context) pageRun {
	t.Helper()
	do(t, ctx, "press the button", chromedp.Click(chromedp.ID("fire")))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.lastRun !== undefined`, chromedp.WithPollingTimeout(browserWait))); err != nil {
		t.Fatalf("the parallel page never finished: %v", err)
	}
	return eval[pageRun](t, ctx, `window.lastRun`)
}

// testForcedRaces holds 20 parallel fetches at the server's door until a
// sign-in, a forced rotation, then a periodic rotation has happened: each
// of them is a straggler carrying the old cookies.
func testForcedRaces(t *testing.T, exe string) {
	ev, clk := &events{}, &clock{}
	a := newTestApp(t, ev, clk)
	g := newGate()
	srv := httptest.NewUnstartedServer(g.wrap(a.engine))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // Chromium's spare connections close unused
	srv.StartTLS()
	t.Cleanup(srv.Close)
	// The server's certificate is made up for the test.
	ctx := newBrowser(t, exe, chromedp.Flag("ignore-certificate-errors", true))

	do(t, ctx, "open the login page", chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("username")))
	if proto := eval[string](t, ctx, `performance.getEntriesByType("navigation")[0].nextHopProtocol`); proto != "h2" {
		t.Fatalf("the browser speaks %q to the test server, want h2 (one connection for every fetch)", proto)
	}
	anon := me(t, ctx)
	if anon.User != "" || anon.Cred == "none" {
		t.Fatalf("before sign-in: %+v, want an anonymous session (the login page counts visits in it)", anon)
	}

	// race fires the fetches, waits until the server holds all of them,
	// runs trigger, lets them through, and checks what each one saw.
	race := func(name string, before meResult, wantUser string, trigger func()) []string {
		t.Helper()
		eval[bool](t, ctx, `window.held = Promise.all(Array.from({length: `+fmt.Sprint(parallelFetches)+`}, (_, i) => `+meJS(`?hold=1&i=" + i + "`)+`)); true`)
		g.waitHeld(t, parallelFetches)
		trigger()
		g.release()
		results := eval[[]meResult](t, ctx, `window.held`)
		setCookies := g.reset()
		if len(results) != parallelFetches {
			t.Fatalf("%s: %d results, want %d", name, len(results), parallelFetches)
		}
		for i, r := range results {
			if r.Status != 200 || !strings.HasPrefix(r.ContentType, "application/json") {
				t.Errorf("%s, fetch %d: %+v, want 200 JSON", name, i, r)
			}
			if r.Cred != before.Cred {
				t.Errorf("%s, fetch %d carried %q, not the earlier cookies %q: the race was not forced", name, i, r.Cred, before.Cred)
			}
			if r.User != wantUser {
				t.Errorf("%s, fetch %d saw %q, want %q", name, i, r.User, wantUser)
			}
		}
		after := me(t, ctx)
		if after.User != "alice" || after.Cred == before.Cred {
			t.Fatalf("after the %s: %+v; want alice on new cookies (old: %s)", name, after, before.Cred)
		}
		t.Logf("%s: %d/%d fetches answered 200 JSON, all on the earlier cookies, all saw %q; signed in as alice on new cookies afterwards",
			name, len(results), parallelFetches, wantUser)
		return setCookies
	}

	// 1. Fetches that left signed out, served after a sign-in: never alice.
	lines := race("sign-in race", anon, "", func() {
		if st := eval[int](t, ctx, postJS("/login", map[string]string{"username": "alice", "password": "demo"})); st != 200 {
			t.Fatalf("sign-in while fetches are held: %d", st)
		}
	})
	checkCookies(t, "sign-in race", lines, 0, false)

	// 2. Fetches that left before Renew, served after it: still alice (the
	// privilege they left with); their pre-Renew session cookie is healed
	// (the renewed session's cookie is sent again), and no token is set.
	graceBefore := ev.count(ginsecure.EventGraceServed)
	lines = race("forced rotation race", me(t, ctx), "alice", func() {
		if st := eval[int](t, ctx, postJS("/demo/renew", nil)); st != 200 {
			t.Fatalf("rotation while fetches are held: %d", st)
		}
	})
	checkCookies(t, "forced rotation race", lines, 0, true)
	if n := ev.count(ginsecure.EventGraceServed) - graceBefore; n < parallelFetches {
		t.Errorf("forced rotation race: %d grace_served events, want at least %d", n, parallelFetches)
	}

	// 3. All fetches due a periodic rotation at once: one rotates, the
	// others lose the race and are served as stragglers, which are sent the
	// same pending token: one token in all the responses.
	lines = race("periodic rotation race", me(t, ctx), "alice", func() { clk.advance(testRotate + time.Second) })
	checkCookies(t, "periodic rotation race", lines, 1, false)

	// Renew refuses a request on retired credentials: this one succeeding
	// shows the browser holds the live ones, not grace-served leftovers.
	if st := eval[int](t, ctx, postJS("/demo/renew", nil)); st != 200 {
		t.Fatalf("a rotation after the races: %d; the browser is not on the live credentials", st)
	}
	if m := me(t, ctx); m.User != "alice" {
		t.Fatalf("signed out at the end: %+v", m)
	}

	// The parallel page's own button, with the fetches sent after the
	// rotation request held until it has been answered: those arrive after
	// the rotation with the old cookies (grace window), the others are
	// answered at once, before it. The page must tell the two apart.
	do(t, ctx, "open the parallel page", chromedp.Navigate(srv.URL+"/parallel"), chromedp.WaitVisible(chromedp.CSS(`#fire[data-mode="renew"]`)))
	const late = parallelFetches/2 + 1 // the page sends POST /demo/renew after fetch #10
	for drained := false; !drained; {
		// Earlier renews left their signals: only this run's may release.
		select {
		case <-g.renewed:
		default:
			drained = true
		}
	}
	g.mu.Lock()
	g.hold = func(r *http.Request) bool {
		var i int
		_, err := fmt.Sscan(r.URL.Query().Get("i"), &i)
		return r.URL.Path == "/api/me" && err == nil && i >= late
	}
	g.apiSeen, g.renewAfter = 0, parallelFetches // every fetch left with the old cookies
	g.mu.Unlock()
	go func() {
		<-g.renewed
		g.release()
	}()
	run := clickFire(t, ctx)
	g.mu.Lock()
	g.hold, g.renewAfter = nil, 0
	g.mu.Unlock()
	g.reset()
	checkSplit(t, "parallel page over HTTP/2, late fetches held", run)
	if held := parallelFetches - late; run.Grace < held || run.SawUser != parallelFetches || run.After.User != "alice" {
		t.Errorf("parallel page over HTTP/2: %d in the grace window (want at least the %d held), %d saw alice, afterwards %q",
			run.Grace, held, run.SawUser, run.After.User)
	}
	if dots := eval[int](t, ctx, `document.querySelectorAll("#r-cells li.grace").length`); dots != run.Grace {
		t.Errorf("parallel page: %d squares with the grace dot, want %d", dots, run.Grace)
	}
	t.Logf("parallel page over HTTP/2: %d answered before the rotation, %d in the grace window after it, %d during it",
		run.AnsweredBefore, run.Grace, run.During)
	screenshot(t, ctx, "h2-parallel")
	noAlarms(t, ev, 0)
}

// testStoreOutage: a sign-out that the store cannot write is reported as
// not done, and a page served while the store is down does not look
// signed out; once the store is back, the session is still there.
func testStoreOutage(t *testing.T, exe string) {
	ev, clk := &events{}, &clock{}
	store := newFlakyStore()
	a, err := newApp(options{
		Now: clk.now, Grace: 20 * time.Second, Rotate: testRotate, Store: store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnEvent: ev.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close() })
	srv := httptest.NewServer(a.engine)
	t.Cleanup(srv.Close)
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	ctx := newBrowser(t, exe)
	signIn(t, ctx, base, "bob")

	// The sign-out cannot be written: still signed in, and told so.
	store.mode.Store(storeWritesFail)
	do(t, ctx, "sign out", chromedp.Submit(chromedp.CSS("form.who")))
	waitFor(t, ctx, "the failed sign-out page", `document.readyState === "complete" && document.getElementById("retry-logout") !== null`)
	text := eval[string](t, ctx, `document.body.innerText`)
	if !strings.Contains(text, "Could not sign out") || !strings.Contains(text, "did not finish") || strings.Contains(text, "Something went wrong") || !strings.Contains(text, "Bob Hope") {
		t.Errorf("failed sign-out page says:\n%s", text)
	}
	screenshot(t, ctx, "logout-failed")

	// Every action gets an outage page in its own words: signing out the
	// other sessions (refused by the Guard before the handler ran) and
	// signing in (Login's error), each with a way back to try again.
	store.mode.Store(storeUp)
	do(t, ctx, "open the sessions page", chromedp.Navigate(base+"/sessions"), chromedp.WaitVisible(chromedp.ID("revoke-others")))
	store.mode.Store(storeDown)
	do(t, ctx, "sign out everywhere else", chromedp.Click(chromedp.ID("revoke-others")))
	waitFor(t, ctx, "the outage page of signing out the other sessions", `document.readyState === "complete" && document.getElementById("try-again") !== null`)
	text = eval[string](t, ctx, `document.body.innerText`)
	if !strings.Contains(text, "Could not sign out your other sessions") || !strings.Contains(text, "still signed in") || strings.Contains(text, "Nothing was signed out: try") {
		t.Errorf("the outage page of signing out the other sessions says:\n%s", text)
	}
	if back := eval[string](t, ctx, `document.getElementById("try-again").getAttribute("href")`); back != "/sessions" {
		t.Errorf("its \"try again\" leads to %q, want /sessions", back)
	}
	screenshot(t, ctx, "outage-revoke-others")
	anon, cancelAnon := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelAnon()
	do(t, anon, "open the login page with the store down", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"), chromedp.SendKeys(chromedp.ID("password"), demoPassword))
	do(t, anon, "sign in with the store down", chromedp.Submit(chromedp.ID("login")))
	waitFor(t, anon, "the outage page of signing in", `document.readyState === "complete" && document.getElementById("try-again") !== null`)
	text = eval[string](t, anon, `document.body.innerText`)
	if !strings.Contains(text, "Could not sign in") || !strings.Contains(text, "you are not signed in") || strings.Contains(text, "signed out") {
		t.Errorf("the outage page of signing in says:\n%s", text)
	}
	screenshot(t, anon, "outage-signin")

	// The store is down: the page must not look signed out.
	store.mode.Store(storeDown)
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/profile"))
	if err != nil || resp.Status != http.StatusServiceUnavailable {
		t.Fatalf("profile with the store down: %v %+v, want 503", err, resp)
	}
	text = eval[string](t, ctx, `document.body.innerText`)
	if !strings.Contains(text, "Session status unavailable") || strings.Contains(text, "Sign in") || strings.Contains(text, "shown") {
		t.Errorf("the 503 page looks signed out:\n%s", text)
	}
	screenshot(t, ctx, "store-down")

	// Back up: the session was never lost; now the sign-out works.
	store.mode.Store(storeUp)
	if m := me(t, ctx); m.User != "bob" {
		t.Fatalf("after the outage: %+v, want bob still signed in", m)
	}
	do(t, ctx, "open the profile", chromedp.Navigate(base+"/profile"), chromedp.WaitVisible(chromedp.CSS("form.who")))
	do(t, ctx, "sign out", chromedp.Submit(chromedp.CSS("form.who")))
	waitFor(t, ctx, "the login page after signing out", `location.pathname === "/login" && location.search.includes("signed_out") && document.readyState === "complete"`)
	if m := me(t, ctx); m.User != "" {
		t.Fatalf("/api/me after sign-out: %+v", m)
	}

	// The store loses its data (a restart without persistence): the
	// browser is told to sign in again, not that it timed out.
	signIn(t, ctx, base, "bob")
	store.lose()
	expectSignedOut(t, ctx, base, "expired", "", "Please sign in again.")
	screenshot(t, ctx, "store-lost")
	noAlarms(t, ev, 0)
}

// checkCookies: the no-clobber rule, seen on the wire. Stragglers' responses
// set neither cookie; tokens counts the responses that may set a new token
// (the winner of a periodic rotation).
// checkCookies checks the Set-Cookie lines of a race's responses: at most
// tokens different token values (one rotation mints one token; stragglers
// may be sent that same pending token again, never another), and session
// cookies only where healing may re-send the record's own session (healed).
func checkCookies(t *testing.T, what string, lines []string, tokens int, healed bool) {
	t.Helper()
	distinct := map[string]bool{}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, ginsecure.DefaultCookieName+"="):
			v, _, _ := strings.Cut(l, ";")
			distinct[v] = true
		case strings.HasPrefix(l, sessionCookie+"=") && !healed:
			t.Errorf("%s: a straggler's response set the session cookie: %.60s", what, l)
		}
	}
	if len(distinct) != tokens {
		t.Errorf("%s: responses set %d different tokens, want %d", what, len(distinct), tokens)
	}
}

// noAlarms: nothing in the test may look like an attack to the Guard, and
// only the revocations the test asked for happened.
func noAlarms(t *testing.T, ev *events, revokes int) {
	t.Helper()
	for _, k := range []ginsecure.EventKind{ginsecure.EventReplay, ginsecure.EventTokenMismatch, ginsecure.EventIPMismatch, ginsecure.EventIdentityMismatch} {
		if n := ev.count(k); n > 0 {
			t.Errorf("%d %s events", n, k)
		}
	}
	if n := ev.count(ginsecure.EventRevoke); n != revokes {
		t.Errorf("%d revoke events, want %d", n, revokes)
	}
}
