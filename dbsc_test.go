package ginsecure_test

// Device-bound sessions end to end: a Go client plays the browser on the
// DBSC wire format (its own keys, its own JWK and JWS encoding), against
// real gin over httptest on memstore and Redis.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
)

// signer is the browser's key pair for one bound session.
type signer struct {
	alg string
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
}

var (
	rsaOnce sync.Once
	rsaPair [2]*rsa.PrivateKey
)

func newSigner(t testing.TB, alg string, i int) *signer {
	t.Helper()
	if alg == "RS256" {
		rsaOnce.Do(func() {
			for j := range rsaPair {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err)
				}
				rsaPair[j] = k
			}
		})
		return &signer{alg: alg, rsa: rsaPair[i]}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{alg: alg, ec: k}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *signer) jwk() map[string]string {
	if s.ec != nil {
		var x, y [32]byte
		s.ec.X.FillBytes(x[:])
		s.ec.Y.FillBytes(y[:])
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(x[:]), "y": b64(y[:])}
	}
	return map[string]string{"kty": "RSA", "n": b64(s.rsa.N.Bytes()), "e": b64(big.NewInt(int64(s.rsa.E)).Bytes())}
}

// jws signs header and claims as a compact JWS, as Chromium does (ES256:
// r||s, 64 bytes; RS256: PKCS #1 v1.5).
func (s *signer) jws(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	if s.ec != nil {
		r, ss, err := ecdsa.Sign(rand.Reader, s.ec, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	} else {
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, s.rsa, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	}
	return input + "." + b64(sig)
}

func (s *signer) registration(t testing.TB, challenge, authorization string) string {
	return s.jws(t, map[string]any{"alg": s.alg, "typ": "dbsc+jwt", "jwk": s.jwk()},
		map[string]any{"jti": challenge, "authorization": authorization})
}

func (s *signer) refresh(t testing.TB, challenge string) string {
	return s.jws(t, map[string]any{"alg": s.alg, "typ": "dbsc+jwt"}, map[string]any{"jti": challenge})
}

var (
	regParam       = regexp.MustCompile(`;\s*(path|challenge|authorization)="([^"]*)"`)
	challengeValue = regexp.MustCompile(`^"([^"]+)";id="([^"]+)"$`)
)

// offer reads the Secure-Session-Registration header of a response.
func offer(r reply) (path, challenge, authorization string, ok bool) {
	v := r.header.Get("Secure-Session-Registration")
	if v == "" {
		return "", "", "", false
	}
	for _, m := range regParam.FindAllStringSubmatch(v, -1) {
		switch m[1] {
		case "path":
			path = m[2]
		case "challenge":
			challenge = m[2]
		case "authorization":
			authorization = m[2]
		}
	}
	return path, challenge, authorization, strings.HasPrefix(v, "(ES256 RS256)")
}

// device is the browser's DBSC session: its key, identifier and the
// challenge it cached from the last answer.
type device struct {
	t         testing.TB
	b         *browser
	key       *signer
	id        string
	refresh   string
	challenge string
}

// cache keeps the challenge an answer carries, as Chromium does; it must
// name the session.
func (d *device) cache(r reply) {
	d.t.Helper()
	m := challengeValue.FindStringSubmatch(r.header.Get("Secure-Session-Challenge"))
	if m == nil || (d.id != "" && m[2] != d.id) {
		d.t.Fatalf("answer %d carries no challenge for %q: %q", r.status, d.id, r.header.Get("Secure-Session-Challenge"))
	}
	d.challenge = m[1]
}

// register answers the offer of a login's response with key.
func register(t testing.TB, b *browser, login reply, key *signer) *device {
	t.Helper()
	path, challenge, auth, ok := offer(login)
	if !ok {
		t.Fatalf("login response offers no registration: %v", login.header)
	}
	r := b.do(http.MethodPost, path, "Secure-Session-Response", key.registration(t, challenge, auth))
	if r.status != http.StatusOK {
		t.Fatalf("registration: %d %v", r.status, r.body)
	}
	d := &device{t: t, b: b, key: key}
	d.id, _ = r.body["session_identifier"].(string)
	d.refresh, _ = r.body["refresh_url"].(string)
	scope, _ := r.body["scope"].(map[string]any)
	creds, _ := r.body["credentials"].([]any)
	if d.id == "" || d.refresh == "" || scope["include_site"] != false || len(creds) != 1 {
		t.Fatalf("registration answer is not complete instructions: %v", r.body)
	}
	cred, _ := creds[0].(map[string]any)
	if cred["name"] != ginsecure.DefaultCookieName || cred["attributes"] != "Path=/; Secure; HttpOnly; SameSite=Lax" {
		t.Fatalf("bound credential %v is not the token cookie as it is sent", cred)
	}
	d.cache(r)
	return d
}

// post sends a refresh with the cached challenge signed by signWith (the
// device's key unless a test forges one).
func (d *device) post(proof string) reply {
	d.t.Helper()
	hdr := []string{"Sec-Secure-Session-Id", d.id}
	if proof != "" {
		hdr = append(hdr, "Secure-Session-Response", proof)
	}
	return d.b.do(http.MethodPost, d.refresh, hdr...)
}

// refreshOK refreshes with a valid proof and checks the answer.
func (d *device) refreshOK() reply {
	d.t.Helper()
	r := d.post(d.key.refresh(d.t, d.challenge))
	if r.status != http.StatusOK || r.body["session_identifier"] != d.id || r.body["continue"] != nil || !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		d.t.Fatalf("refresh: %d %v", r.status, r.body)
	}
	d.cache(r)
	return r
}

// refused checks that a refresh was answered 403 with a fresh challenge
// and no token, and caches the challenge.
func (d *device) refused(r reply, what string) {
	d.t.Helper()
	if r.status != http.StatusForbidden || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		d.t.Fatalf("%s: %d %v, want 403 without a token", what, r.status, r.body)
	}
	d.cache(r)
}

// ended checks a continue:false answer.
func (d *device) ended(r reply, what string) {
	d.t.Helper()
	if r.status != http.StatusOK || r.body["continue"] != false || r.body["session_identifier"] != d.id || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		d.t.Fatalf("%s: %d %v, want continue:false", what, r.status, r.body)
	}
}

// dropToken removes the token cookie from the browser's jar, as its
// expiry does.
func (b *browser) dropToken() {
	u, _ := url.Parse(b.e.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: ginsecure.DefaultCookieName, Path: "/", Secure: true, MaxAge: -1}})
}

func tokenMaxAge(r reply) int {
	for _, c := range r.cookies {
		if c.Name == ginsecure.DefaultCookieName {
			return c.MaxAge
		}
	}
	return -2
}

// deviceRoutes adds a route group that requires a device-bound session.
func deviceRoutes(r *gin.Engine, g *ginsecure.Guard) {
	r.GET("/bound", g.Require(ginsecure.Policy{DeviceBound: true}), func(c *gin.Context) {
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
}

// deviceEnv starts the test app with device binding on, on memstore or
// Redis (the challenges in the same redis-server).
func deviceEnv(t testing.TB, kind string, cfg ginsecure.Config, srv *redistest.Server) *env {
	t.Helper()
	cfg.DeviceBinding.Enabled = true
	opts := []envOption{withRoutes(deviceRoutes)}
	if kind == "redis" {
		if srv == nil {
			srv = redistest.Start(t)
		}
		cfg.DeviceBinding.Challenges = redisstore.NewChallengeStore(srv.Pool(), "gs:")
		opts = append(opts, withRedis(srv))
	}
	return newEnv(t, kind, cfg, opts...)
}

var deviceKinds = []string{"memstore", "redis"}

// TestDeviceBindingRegistersAndRefreshes: a login's response offers
// registration; the browser binds with its own ES256 or RS256 key; the
// bound token lives CookieLifetime; a refresh with a proof mints a new
// token (the old one still served in its window) and a fresh challenge;
// a refresh without a cached challenge is answered 403 with one.
func TestDeviceBindingRegistersAndRefreshes(t *testing.T) {
	for _, kind := range deviceKinds {
		for _, alg := range []string{"ES256", "RS256"} {
			t.Run(kind+"/"+alg, func(t *testing.T) {
				e := deviceEnv(t, kind, ginsecure.Config{}, nil)
				b := e.browser()
				login := b.signIn("alice")
				if r := b.get("/bound"); r.status != http.StatusForbidden || r.errCode() != "device_binding_required" {
					t.Fatalf("DeviceBound route before registration: %d %v", r.status, r.body)
				}
				if _, _, _, ok := offer(b.get("/public")); ok {
					t.Fatal("an ordinary response offers registration")
				}
				d := register(t, b, login, newSigner(t, alg, 0))
				if e.events.count(ginsecure.EventDeviceBound) != 1 {
					t.Fatal("no device_bound event")
				}
				if r := b.get("/bound"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("DeviceBound route after registration: %d %v", r.status, r.body)
				}
				if s := e.sessions(t, "alice"); len(s) != 1 || !s[0].DeviceBound {
					t.Fatalf("sessions: %+v, want one device-bound", s)
				}

				e.clock.Advance(9 * time.Minute)
				before := b.cookie(ginsecure.DefaultCookieName)
				r := d.refreshOK()
				if age := tokenMaxAge(r); age != int((10 * time.Minute).Seconds()) {
					t.Fatalf("refreshed token Max-Age %d, want the bound life 600", age)
				}
				if b.cookie(ginsecure.DefaultCookieName) == before {
					t.Fatal("refresh sent the same token")
				}
				if r := b.get("/bound"); r.status != http.StatusOK {
					t.Fatalf("after refresh: %d %v", r.status, r.body)
				}
				// Chromium without a cached challenge: 403 and one, then a proof.
				d.refused(d.post(""), "refresh without a proof")
				e.clock.Advance(9 * time.Minute)
				d.refreshOK()
				if r := b.get("/bound"); r.status != http.StatusOK {
					t.Fatalf("after the second refresh: %d %v", r.status, r.body)
				}
				if n := e.events.count(ginsecure.EventDeviceRefresh); n != 2 {
					t.Fatalf("%d device_refresh events, want 2", n)
				}
				if n := e.events.count(ginsecure.EventRevoke) + e.events.count(ginsecure.EventReplay); n != 0 {
					t.Fatalf("%d revocations", n)
				}
			})
		}
	}
}

// TestDeviceBindingRefusesBadProofs: a bad signature, a foreign key, a
// replayed challenge, alg none and a malformed proof are each answered
// 403 with a fresh challenge, never 400 or 401, and revoke nothing: the
// device's own proof works afterwards.
func TestDeviceBindingRefusesBadProofs(t *testing.T) {
	for _, kind := range deviceKinds {
		t.Run(kind, func(t *testing.T) {
			e := deviceEnv(t, kind, ginsecure.Config{}, nil)
			b := e.browser()
			d := register(t, b, b.signIn("alice"), newSigner(t, "ES256", 0))
			foreign := newSigner(t, "ES256", 0)

			used := d.key.refresh(t, d.challenge)
			d.refreshOK() // signs the same challenge again: used is now a replay
			d.refused(d.post(used), "replayed challenge")

			good := d.key.refresh(t, d.challenge)
			parts := strings.Split(good, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[10] ^= 1
			d.refused(d.post(parts[0]+"."+parts[1]+"."+b64(sig)), "bad signature")

			d.refused(d.post(foreign.refresh(t, d.challenge)), "foreign key")
			rsaKey := newSigner(t, "RS256", 1)
			d.refused(d.post(rsaKey.refresh(t, d.challenge)), "another algorithm")

			none := b64([]byte(`{"alg":"none","typ":"dbsc+jwt"}`)) + "." + b64([]byte(`{"jti":"`+d.challenge+`"}`)) + "."
			d.refused(d.post(none), "alg none")
			d.refused(d.post("not a jwt"), "malformed proof")

			if n := e.events.count(ginsecure.EventDeviceProofFailed); n != 6 {
				t.Fatalf("%d device_proof_failed events, want 6", n)
			}
			if r := b.get("/bound"); r.status != http.StatusOK {
				t.Fatalf("the device's session after refused proofs: %d %v", r.status, r.body)
			}
			d.refreshOK() // the challenge a refusal carried is a valid one
			if r := b.get("/bound"); r.status != http.StatusOK {
				t.Fatalf("after a good proof: %d %v", r.status, r.body)
			}
		})
	}
}

// TestDeviceBindingRegistrationNeedsAFreshLogin: a thief holding a copy of
// the cookies, without the login's response, cannot bind the session to
// its own key (no challenge was offered for it); the owner's offer is
// single use, a record binds once, and a registration must carry the
// token the offer was made for.
func TestDeviceBindingRegistrationNeedsAFreshLogin(t *testing.T) {
	for _, kind := range deviceKinds {
		t.Run(kind, func(t *testing.T) {
			e := deviceEnv(t, kind, ginsecure.Config{}, nil)
			owner := e.browser()
			login := owner.signIn("alice")
			path, challenge, auth, _ := offer(login)
			thief := e.browser()
			owner.copyTo(thief)
			thiefKey := newSigner(t, "ES256", 0)
			// A challenge of the thief's own making; one from an ordinary
			// response of the same session (there is none to take).
			for _, c := range []string{b64(make([]byte, 32)), "x"} {
				if r := thief.do(http.MethodPost, path, "Secure-Session-Response", thiefKey.registration(t, c, auth)); r.status != http.StatusForbidden {
					t.Fatalf("registration from copied cookies: %d %v", r.status, r.body)
				}
			}
			// The owner's challenge, from a browser that does not carry the
			// token the offer was made for (another login's).
			// Its authorization names its own record, so that only the
			// challenge's binding to the offer's token refuses it.
			other := e.browser()
			other.signIn("alice")
			otherHandle := strings.Split(other.cookie(ginsecure.DefaultCookieName), ".")[1]
			if r := other.do(http.MethodPost, path, "Secure-Session-Response", thiefKey.registration(t, challenge, otherHandle)); r.status != http.StatusForbidden {
				t.Fatalf("registration with another session's offer: %d %v", r.status, r.body)
			}
			register(t, owner, login, newSigner(t, "ES256", 0))
			// Used: neither the owner's copy nor anyone can register with it again.
			if r := thief.do(http.MethodPost, path, "Secure-Session-Response", thiefKey.registration(t, challenge, auth)); r.status != http.StatusForbidden {
				t.Fatalf("second registration with the same offer: %d %v", r.status, r.body)
			}
			// Bound once: a Renew mints a token but offers nothing for a bound record.
			if r := owner.post("/renew"); r.status != http.StatusOK {
				t.Fatalf("renew: %d %v", r.status, r.body)
			} else if _, _, _, ok := offer(r); ok {
				t.Fatal("a bound record is offered registration again")
			}
			if s := e.sessions(t, "alice"); len(s) != 2 {
				t.Fatalf("sessions: %+v", s)
			}
		})
	}
}

// TestDeviceBindingCopyDiesWhenTheBoundTokenExpires: cookies copied to
// another client work there only until the bound token's life ends
// (server clock, whatever the copy's Max-Age); then they are refused on
// DeviceBound routes and anonymous elsewhere, with an event and without
// revoking the owner. The same for the token a refresh superseded, used
// after its grace window: no replay revocation for a bound record.
func TestDeviceBindingCopyDiesWhenTheBoundTokenExpires(t *testing.T) {
	for _, kind := range deviceKinds {
		t.Run(kind, func(t *testing.T) {
			e := deviceEnv(t, kind, ginsecure.Config{}, nil)
			owner := e.browser()
			d := register(t, owner, owner.signIn("alice"), newSigner(t, "RS256", 0))
			thief := e.browser()
			owner.copyTo(thief)
			if r := thief.get("/bound"); r.status != http.StatusOK {
				t.Fatalf("fresh copy: %d %v", r.status, r.body)
			}

			e.clock.Advance(10*time.Minute + time.Second)
			if r := thief.get("/bound"); r.status != http.StatusForbidden || r.errCode() != "device_binding_required" {
				t.Fatalf("expired copy on a DeviceBound route: %d %v", r.status, r.body)
			}
			if r := thief.get("/me"); r.status != http.StatusForbidden {
				t.Fatalf("expired copy on an authenticated route: %d %v", r.status, r.body)
			}
			if r := thief.get("/public"); r.status != http.StatusOK || r.user() != "" || r.body["reason"] != "device_binding_required" || ourCookies(r) {
				t.Fatalf("expired copy on a public route: %d %v", r.status, r.body)
			}
			if e.events.count(ginsecure.EventDeviceTokenRefused) == 0 {
				t.Fatal("no device_token_refused event")
			}
			if r := thief.post("/logout"); r.status == http.StatusOK {
				t.Fatalf("expired copy signed the session out: %d %v", r.status, r.body)
			}

			// The owner's browser refreshes with its key and goes on; its
			// cookie expired, so the refresh carries no token (as Chromium's).
			owner.dropToken()
			d.refreshOK()
			if r := owner.get("/bound"); r.status != http.StatusOK {
				t.Fatalf("owner after refresh: %d %v", r.status, r.body)
			}
			// A copy of the token the refresh superseded, after its window.
			e.clock.Advance(3 * time.Second)
			if r := thief.get("/bound"); r.status != http.StatusForbidden || r.errCode() != "device_binding_required" {
				t.Fatalf("superseded copy after its window: %d %v", r.status, r.body)
			}
			if r := thief.get("/public"); r.user() != "" {
				t.Fatalf("superseded copy served as %q", r.user())
			}
			if r := thief.post("/logout"); r.status == http.StatusOK {
				t.Fatalf("superseded copy signed the session out: %d %v", r.status, r.body)
			}
			if r := owner.get("/bound"); r.status != http.StatusOK {
				t.Fatalf("owner after the copy came back: %d %v (a replay must not end a bound session)", r.status, r.body)
			}
			if n := e.events.count(ginsecure.EventReplay) + e.events.count(ginsecure.EventRevoke); n != 0 {
				t.Fatalf("%d revocations", n)
			}
			// The thief's refresh without the key: 403, never a token.
			td := &device{t: t, b: thief, key: newSigner(t, "ES256", 0), id: d.id, refresh: d.refresh}
			td.refused(td.post(""), "thief's refresh")
			td.refused(td.post(td.key.refresh(t, td.challenge)), "thief's proof")
		})
	}
}

// TestDeviceBindingSupersededCopyDiesWithItsLife: a refresh supersedes a
// bound token that is past its life; a copy of it presented before the
// owner shows the new token (the rotation unconfirmed), or within the
// window the owner's first presentation opens, is refused like the current
// token past its life would be, and ends nothing: the superseded token's
// life is over too (found by the simulation, memstore/1 seed
// 5935890672407567555 step 74: the thief's copy, past its life, was
// served as the victim while the refresh's answer was on its way).
func TestDeviceBindingSupersededCopyDiesWithItsLife(t *testing.T) {
	for _, kind := range deviceKinds {
		t.Run(kind, func(t *testing.T) {
			e := deviceEnv(t, kind, ginsecure.Config{}, nil)
			owner := e.browser()
			d := register(t, owner, owner.signIn("alice"), newSigner(t, "ES256", 0))
			thief := e.browser()
			owner.copyTo(thief)

			e.clock.Advance(10*time.Minute + time.Second)
			owner.dropToken()
			d.refreshOK() // the new token is not presented yet: the rotation is unconfirmed
			if r := thief.get("/public"); r.user() != "" || r.body["reason"] != "device_binding_required" {
				t.Fatalf("a copy past its life, after a refresh the owner has not used yet: %d %v", r.status, r.body)
			}
			if r := owner.get("/bound"); r.status != http.StatusOK {
				t.Fatalf("owner after refresh: %d %v", r.status, r.body)
			}
			if r := thief.get("/bound"); r.status != http.StatusForbidden || r.errCode() != "device_binding_required" {
				t.Fatalf("a copy past its life, within the window the owner opened: %d %v", r.status, r.body)
			}
			if r := owner.get("/bound"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("owner after the copy came back: %d %v", r.status, r.body)
			}
			if n := e.events.count(ginsecure.EventReplay) + e.events.count(ginsecure.EventRevoke); n != 0 {
				t.Fatalf("%d revocations", n)
			}
		})
	}
}

// TestDeviceBindingNoPeriodicRotation: a bound record's token changes only
// at a refresh the device signed: a copy of the cookies presented when
// RotateEvery has passed is not given a fresh token (which would outlive
// the copied one), and dies with the bound token's life.
func TestDeviceBindingNoPeriodicRotation(t *testing.T) {
	for _, kind := range deviceKinds {
		t.Run(kind, func(t *testing.T) {
			e := deviceEnv(t, kind, ginsecure.Config{RotateEvery: 5 * time.Minute}, nil)
			owner := e.browser()
			register(t, owner, owner.signIn("alice"), newSigner(t, "ES256", 0))
			thief := e.browser()
			owner.copyTo(thief)
			e.clock.Advance(6 * time.Minute)
			if r := thief.get("/bound"); r.status != http.StatusOK || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
				t.Fatalf("copy past RotateEvery: %d, token sent: %v", r.status, hasCookie(r.cookies, ginsecure.DefaultCookieName))
			}
			e.clock.Advance(5 * time.Minute)
			if r := thief.get("/bound"); r.status != http.StatusForbidden {
				t.Fatalf("copy past the bound life: %d %v", r.status, r.body)
			}
		})
	}
}

// TestDeviceBindingKeepsIPBinding: a bound session still checks
// IPBinding: a fresh copy of its cookies used from another network is
// refused at once, within the bound token's life.
func TestDeviceBindingKeepsIPBinding(t *testing.T) {
	e := deviceEnv(t, "memstore", ginsecure.Config{KeepSessionOnIPMismatch: true}, nil)
	owner := e.browser()
	register(t, owner, owner.signIn("alice"), newSigner(t, "ES256", 0))
	thief := e.browserFrom("127.0.0.2")
	owner.copyTo(thief)
	if r := thief.get("/bound"); r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
		t.Fatalf("fresh copy from another network: %d %v", r.status, r.body)
	}
	if r := owner.get("/bound"); r.status != http.StatusOK {
		t.Fatalf("owner: %d %v", r.status, r.body)
	}
}

// TestDeviceBindingRefreshCannotDropAnOffer: a refresh naming the key
// under which a pending registration's challenge is kept (anyone may send
// any identifier) is answered continue:false and drops nothing: the
// browser still registers with its offer.
func TestDeviceBindingRefreshCannotDropAnOffer(t *testing.T) {
	for _, kind := range deviceKinds {
		t.Run(kind, func(t *testing.T) {
			e := deviceEnv(t, kind, ginsecure.Config{}, nil)
			b := e.browser()
			login := b.signIn("alice")
			secret, err := base64.RawURLEncoding.DecodeString(strings.Split(b.cookie(ginsecure.DefaultCookieName), ".")[2])
			if err != nil {
				t.Fatal(err)
			}
			tokHash := sha256.Sum256(secret)
			pending := sha256.Sum256(tokHash[:])
			id := "reg:" + hex.EncodeToString(pending[:])
			attacker := &device{t: t, b: e.browser(), id: id, refresh: ginsecure.DefaultDevicePath + "/refresh"}
			attacker.ended(attacker.post(""), "refresh naming a pending offer")
			register(t, b, login, newSigner(t, "ES256", 0))
		})
	}
}

// TestDeviceBindingEndingsAnswerContinueFalse: after Logout, a revocation,
// or for a record that is gone or was never bound, the identifier's next
// refresh is answered continue:false, with or without a proof.
func TestDeviceBindingEndingsAnswerContinueFalse(t *testing.T) {
	for _, kind := range deviceKinds {
		t.Run(kind, func(t *testing.T) {
			e := deviceEnv(t, kind, ginsecure.Config{}, nil)
			b := e.browser()
			d := register(t, b, b.signIn("alice"), newSigner(t, "ES256", 0))
			copyOf := e.browser()
			b.copyTo(copyOf)
			if r := b.post("/logout"); r.status != http.StatusOK {
				t.Fatalf("logout: %d %v", r.status, r.body)
			}
			d.ended(d.post(""), "refresh after logout, no proof")
			d.ended(d.post(d.key.refresh(t, d.challenge)), "refresh after logout, with a proof")

			b2 := e.browser()
			d2 := register(t, b2, b2.signIn("bob"), newSigner(t, "ES256", 0))
			if _, err := e.guard.RevokeUser(t.Context(), "bob"); err != nil {
				t.Fatal(err)
			}
			d2.ended(d2.post(d2.key.refresh(t, d2.challenge)), "refresh after a revocation")

			gone := &device{t: t, b: b, id: "AAAAAAAAAAAAAAAAAAAAAA", refresh: d.refresh}
			gone.ended(gone.post(""), "refresh of an unknown identifier")
			odd := &device{t: t, b: b, id: "not-a-handle", refresh: d.refresh}
			odd.ended(odd.post(""), "refresh of a malformed identifier")

			b3 := e.browser()
			b3.login("carol") // never registers
			h := e.sessions(t, "carol")[0].Handle
			unbound := &device{t: t, b: b3, id: h, refresh: d.refresh}
			unbound.ended(unbound.post(""), "refresh of a session never bound")
		})
	}
}

// TestDeviceBindingTwoServersShareRedis: challenges and keys live in the
// shared Redis: a login on one server registers on the other, and each
// server redeems the other's challenges, once.
func TestDeviceBindingTwoServersShareRedis(t *testing.T) {
	srv := redistest.Start(t)
	a := deviceEnv(t, "redis", ginsecure.Config{}, srv)
	b := deviceEnv(t, "redis", ginsecure.Config{Now: a.clock.Now}, srv)
	br := a.browser()
	login := br.signIn("alice")
	onB := br.on(b)
	d := register(t, onB, login, newSigner(t, "ES256", 0))
	if r := br.get("/bound"); r.status != http.StatusOK {
		t.Fatalf("A after registration on B: %d %v", r.status, r.body)
	}
	used := d.key.refresh(t, d.challenge) // issued by B
	a.clock.Advance(9 * time.Minute)
	d.b = br
	d.refreshOK() // redeemed on A
	d.b = onB
	d.refused(d.post(used), "B's challenge replayed on B after A redeemed it")
	d.refreshOK() // A's challenge, on B
	if r := br.get("/bound"); r.status != http.StatusOK {
		t.Fatalf("A after refresh on B: %d %v", r.status, r.body)
	}
	if r := onB.post("/logout"); r.status != http.StatusOK {
		t.Fatalf("logout on B: %d", r.status)
	}
	d.b = br
	d.ended(d.post(""), "refresh on A after logout on B")
}

// TestDeviceBindingOffLeavesResponsesAlone: with DeviceBinding off (the
// zero Config), a login offers nothing and the registration and refresh
// paths are the application's.
func TestDeviceBindingOffLeavesResponsesAlone(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{})
	b := e.browser()
	login := b.signIn("alice")
	if _, _, _, ok := offer(login); ok || login.header.Get("Secure-Session-Registration") != "" {
		t.Fatal("a login offers registration with device binding off")
	}
	if age := tokenMaxAge(login); age != int((12 * time.Hour).Seconds()) {
		t.Fatalf("token Max-Age %d, want the session lifetime capped at AbsoluteTimeout", age)
	}
	if r := b.do(http.MethodPost, ginsecure.DefaultDevicePath+"/refresh", "Sec-Secure-Session-Id", "x"); r.status != http.StatusNotFound {
		t.Fatalf("refresh path with binding off: %d", r.status)
	}
}

// BenchmarkDeviceRefresh measures a device-bound session's refresh (proof
// verified, challenge redeemed, token rotated, instructions and a fresh
// challenge sent) against the periodic rotation of an unbound session,
// through the same engine on memstore; the browser's signing is not timed.
func BenchmarkDeviceRefresh(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run("refresh/"+alg, func(b *testing.B) {
			e := deviceEnv(b, "memstore", ginsecure.Config{}, nil)
			br := e.browser()
			d := register(b, br, br.signIn("alice"), newSigner(b, alg, 0))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				proof := d.key.refresh(b, d.challenge)
				b.StartTimer()
				r := d.post(proof)
				if r.status != http.StatusOK {
					b.Fatalf("refresh: %d %v", r.status, r.body)
				}
				d.cache(r)
			}
		})
	}
	b.Run("periodic-rotation", func(b *testing.B) {
		e := newEnv(b, "memstore", ginsecure.Config{RotateEvery: 10 * time.Second})
		br := e.browser()
		br.login("alice")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if i%1000 == 999 {
				br.login("alice") // long before AbsoluteTimeout (12 h, 4320 rotations)
			}
			e.clock.Advance(10 * time.Second)
			b.StartTimer()
			if r := br.get("/public"); r.status != http.StatusOK || !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
				b.Fatalf("rotation: %d %v", r.status, r.body)
			}
		}
	})
}
