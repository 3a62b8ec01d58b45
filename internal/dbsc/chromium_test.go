package dbsc

// The packaged Chromium against a tiny TLS server built from this package
// alone: it registers after a sign-in, and refreshes once when the bound
// cookie is missing.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// smokeServer plays a site that binds its session: one user, one session.
type smokeServer struct {
	t        *testing.T
	verifier *Verifier
	auth     string // the authorization value of the registration offer
	// challengeOnRegistration sends a challenge with the registration
	// answer, so the first refresh carries a proof; without it the first
	// refresh POST is answered 403 with one.
	challengeOnRegistration bool
	// endOnRefresh answers the first refresh with the ending JSON.
	endOnRefresh bool

	mu          sync.Mutex
	key         Key
	sessionID   string
	bound       string // the bound cookie's latest value
	registered  int
	refreshes   int // successful refreshes
	refreshPOST int // refresh requests, with or without a proof
	refusals    []error
	dataCookies []string // the bound cookie each /data received
	done        chan struct{}
}

const smokePage = `<!doctype html><title>signed in</title><script>
(async () => {
  for (let i = 0; i < 300; i++) {
    if ((await (await fetch('/status')).text()) === 'registered') break;
    await new Promise(r => setTimeout(r, 100));
  }
  await fetch('/expire');
  await fetch('/data');
  await fetch('/data');
  await fetch('/done');
})();
</script>`

func (s *smokeServer) boundCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: "bound", Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}

func (s *smokeServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin", s.signin)
	mux.HandleFunc("POST /dbsc/register", s.register)
	mux.HandleFunc("POST /dbsc/refresh", s.refresh)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.registered > 0 {
			fmt.Fprint(w, "registered")
		}
	})
	mux.HandleFunc("GET /expire", func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, s.boundCookie("", -1))
	})
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		value := ""
		if c, err := r.Cookie("bound"); err == nil {
			value = c.Value
		}
		s.dataCookies = append(s.dataCookies, value)
	})
	mux.HandleFunc("GET /done", func(http.ResponseWriter, *http.Request) { close(s.done) })
	return mux
}

// signin stands for a password check: it sets the ordinary session cookie
// and offers registration.
func (s *smokeServer) signin(w http.ResponseWriter, r *http.Request) {
	offer, err := s.verifier.Offer(r.Context(), "signin", "/dbsc/register", s.auth)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	h, err := offer.Header()
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set(HeaderRegistration, h)
	http.SetCookie(w, &http.Cookie{Name: "auth", Value: "user", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	fmt.Fprint(w, smokePage)
}

func (s *smokeServer) register(w http.ResponseWriter, r *http.Request) {
	proof, err := ProofJWT(r.Header)
	var key Key
	if err == nil {
		key, err = s.verifier.Registration(r.Context(), "signin", proof, s.auth)
	}
	if err != nil {
		s.refuse(w, err)
		return
	}
	s.mu.Lock()
	s.key, s.sessionID = key, mustChallenge(s.t)[:16]
	s.registered++
	s.mu.Unlock()
	s.answer(w, r, s.challengeOnRegistration)
}

func (s *smokeServer) refresh(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.refreshPOST++
	key, sid := s.key, s.sessionID
	s.mu.Unlock()
	if got, err := SessionID(r.Header); err != nil || got != sid {
		s.refuse(w, fmt.Errorf("session id %q: %v", got, err))
		return
	}
	if s.endOnRefresh {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(EndingJSON(sid))
		return
	}
	proof, err := ProofJWT(r.Header)
	if err == nil {
		err = s.verifier.Refresh(r.Context(), sid, proof, key)
	}
	if err != nil {
		// No proof, or a refused one: 403 and a fresh challenge, so the
		// browser signs again.
		if !errors.Is(err, ErrNoProof) {
			s.mu.Lock()
			s.refusals = append(s.refusals, err)
			s.mu.Unlock()
		}
		s.challenge(w, r, sid)
		w.WriteHeader(http.StatusForbidden)
		return
	}
	s.mu.Lock()
	s.refreshes++
	s.mu.Unlock()
	s.answer(w, r, true)
}

// answer sets a new bound cookie and sends the complete instructions,
// with a fresh challenge if withChallenge, so that the next refresh is a
// single POST.
func (s *smokeServer) answer(w http.ResponseWriter, r *http.Request, withChallenge bool) {
	s.mu.Lock()
	s.bound = mustChallenge(s.t)
	cookie, sid := s.boundCookie(s.bound, 600), s.sessionID
	s.mu.Unlock()
	in, err := NewInstructions(sid, "/dbsc/refresh", "https://"+r.Host, cookie)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	body, err := in.JSON()
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if withChallenge {
		s.challenge(w, r, sid)
	}
	http.SetCookie(w, cookie)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (s *smokeServer) challenge(w http.ResponseWriter, r *http.Request, sid string) {
	c, err := s.verifier.Challenges.Issue(r.Context(), sid)
	if err != nil {
		s.t.Errorf("issue: %v", err)
		return
	}
	h, err := Challenge{Value: c, SessionID: sid}.Header()
	if err != nil {
		s.t.Errorf("challenge header: %v", err)
		return
	}
	w.Header().Set(HeaderChallenge, h)
}

func (s *smokeServer) refuse(w http.ResponseWriter, err error) {
	s.mu.Lock()
	s.refusals = append(s.refusals, err)
	s.mu.Unlock()
	w.WriteHeader(http.StatusForbidden)
}

// startChromium runs the packaged Chromium headless on url, trusting the
// server's certificate by its public key, and kills it (its process group,
// by PID) when the test ends.
func startChromium(t *testing.T, srv *httptest.Server, url string) *bytes.Buffer {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("Chromium not found: install the Debian package chromium to run this test")
	}
	spki := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--user-data-dir="+t.TempDir(),
		"--no-first-run", "--no-default-browser-check", "--disable-gpu",
		"--enable-features=DeviceBoundSessions:RefreshQuota/false,EnableBoundSessionCredentialsSoftwareKeysForManualTesting",
		"--ignore-certificate-errors-spki-list="+base64.StdEncoding.EncodeToString(spki[:]),
		url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return &out
}

func TestChromiumRegistersAndRefreshes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	for _, tc := range []struct {
		name           string
		offered        []Algorithm
		challengeFirst bool
		wantAlg        Algorithm
		wantPOSTs      int // refresh POSTs: 1 with a cached challenge, 2 without
	}{
		{"ES256 with a cached challenge", DefaultAlgorithms, true, ES256, 1},
		{"RS256 only", []Algorithm{RS256}, true, RS256, 1},
		{"no cached challenge: 403 then a proof", DefaultAlgorithms, false, ES256, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSmokeServer(t, tc.offered)
			s.challengeOnRegistration = tc.challengeFirst
			s.run(t)
			s.mu.Lock()
			defer s.mu.Unlock()
			s.checkRegistered(t, tc.wantAlg)
			if s.refreshes != 1 || s.refreshPOST != tc.wantPOSTs {
				t.Errorf("%d successful refreshes in %d POSTs, want 1 in %d; refusals %v", s.refreshes, s.refreshPOST, tc.wantPOSTs, s.refusals)
			}
			// The held request and the one after it carry the new cookie.
			if len(s.dataCookies) != 2 || s.dataCookies[0] != s.bound || s.dataCookies[1] != s.bound {
				t.Errorf("bound cookies received %q, want the refreshed %q twice", s.dataCookies, s.bound)
			}
		})
	}
}

// The ending JSON answered to a refresh ends the session in Chromium: the
// held request goes out without the bound cookie, and the next request
// that lacks it causes no refresh. Chromium also ends a session on a
// partial configuration, so this run cannot tell continue:false from
// continue:true; TestInstructionsJSON pins the bytes.
func TestChromiumEndsOnContinueFalse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	s := newSmokeServer(t, nil)
	s.challengeOnRegistration = true
	s.endOnRefresh = true
	s.run(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkRegistered(t, ES256)
	if s.refreshPOST != 1 {
		t.Errorf("%d refresh POSTs, want 1: the session should have ended at the first", s.refreshPOST)
	}
	if len(s.dataCookies) != 2 || s.dataCookies[0] != "" || s.dataCookies[1] != "" {
		t.Errorf("bound cookies received %q, want none", s.dataCookies)
	}
}

func newSmokeServer(t *testing.T, offered []Algorithm) *smokeServer {
	return &smokeServer{
		t:        t,
		verifier: &Verifier{Algorithms: offered, Challenges: &Challenges{Store: &MemoryChallenges{}}},
		auth:     mustChallenge(t),
		done:     make(chan struct{}),
	}
}

// checkRegistered asserts one registration with a key for alg and no
// refused proof; s.mu is held.
func (s *smokeServer) checkRegistered(t *testing.T, alg Algorithm) {
	t.Helper()
	if s.registered != 1 || s.key.Algorithm != alg {
		t.Fatalf("%d registrations with %s, want 1 with %s; refusals %v", s.registered, s.key.Algorithm, alg, s.refusals)
	}
	if len(s.refusals) > 0 {
		t.Errorf("refused proofs: %v", s.refusals)
	}
}

// run serves the site over TLS on loopback, points Chromium at its sign-in
// page and waits until the page's script is done.
func (s *smokeServer) run(t *testing.T) {
	srv := httptest.NewUnstartedServer(s.routes())
	srv.StartTLS()
	t.Cleanup(srv.Close)
	out := startChromium(t, srv, srv.URL+"/signin")
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("Chromium did not finish in 60 s; its output:\n%s", tail(out.String(), 40))
	}
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
