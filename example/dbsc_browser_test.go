package main

// Device-bound sessions in a real browser: the example served over TLS
// turns DBSC on, and the packaged Chromium (with its DBSC features and
// software keys) registers at sign-in and refreshes when the bound cookie
// is gone; a copy of its cookies used from a Go client after the bound
// token's life is refused.

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ginsecure/ginsecure"
)

// dbscFeatures turns on DBSC in the packaged Chromium with software keys;
// RefreshQuota/false lifts the signing quota, which a test that refreshes
// on demand would otherwise reach.
const dbscFeatures = "DeviceBoundSessions:RefreshQuota/false,EnableBoundSessionCredentialsSoftwareKeysForManualTesting"

func TestBrowserDeviceBinding(t *testing.T) {
	exe := chromiumPath(t)
	if testing.Short() {
		t.Skip("starts a browser")
	}
	t.Run("quota lifted", func(t *testing.T) { testDeviceBinding(t, exe, dbscFeatures, 3, true) })
	// Chromium's default quota allows about 5 signatures in a few minutes:
	// three refreshes stay under it.
	t.Run("default quota", func(t *testing.T) { testDeviceBinding(t, exe, dbscDefaultQuota, 3, false) })
	t.Run("browser restart", func(t *testing.T) { testDeviceRestart(t, exe) })
}

// dbscDefaultQuota is dbscFeatures with Chromium's default signing quota.
const dbscDefaultQuota = "DeviceBoundSessions,EnableBoundSessionCredentialsSoftwareKeysForManualTesting"

// deviceApp serves the example over TLS with device binding on, and
// returns a browser option list that trusts it and turns DBSC on.
func deviceApp(t *testing.T, features string) (*httptest.Server, *events, *clock, []chromedp.ExecAllocatorOption) {
	t.Helper()
	ev, clk := &events{}, &clock{}
	a, err := newApp(options{
		Now: clk.now, Grace: 20 * time.Second, Rotate: testRotate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnEvent: ev.add,
		DeviceBinding: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close() })
	srv := httptest.NewUnstartedServer(a.engine)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	// DBSC needs TLS the browser trusts: the test certificate by its key.
	spki := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	return srv, ev, clk, []chromedp.ExecAllocatorOption{
		chromedp.Flag("enable-features", features),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
	}
}

// refreshRound lets the bound token's life pass on the server and deletes
// the browser's bound cookie (what its expiry does), then fires parallel
// fetches: all must be signed in, released by one refresh.
func refreshRound(t *testing.T, ctx context.Context, srv *httptest.Server, ev *events, clk *clock, round, wantRefreshes int) {
	t.Helper()
	clk.advance(11 * time.Minute)
	if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: ginsecure.DefaultCookieName, URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	results := eval[[]meResult](t, ctx, `Promise.all(Array.from({length: `+fmt.Sprint(parallelFetches)+`}, (_, i) => `+meJS(`?i=" + i + "`)+`))`)
	for i, r := range results {
		if r.Status != http.StatusOK || !r.SignedIn || r.User != "alice" {
			t.Errorf("round %d, fetch %d: %+v, want alice signed in", round, i, r)
		}
	}
	if n := ev.count(ginsecure.EventDeviceRefresh); n != wantRefreshes {
		t.Fatalf("round %d: %d refreshes counted on the server, want %d", round, n, wantRefreshes)
	}
}

func testDeviceBinding(t *testing.T, exe, features string, rounds int, tryCopy bool) {
	srv, ev, clk, flags := deviceApp(t, features)
	ctx := newBrowser(t, exe, flags...)

	signIn(t, ctx, srv.URL, "alice")
	waitEvents(t, ev, ginsecure.EventDeviceBound, 1)
	do(t, ctx, "open the sessions list", chromedp.Navigate(srv.URL+"/sessions"))
	waitFor(t, ctx, "the sessions list saying the device is bound",
		`location.pathname === "/sessions" && document.body.textContent.includes("this device is bound")`)

	copied := browserCookies(t, ctx, srv.URL)
	for round := 1; round <= rounds; round++ {
		refreshRound(t, ctx, srv, ev, clk, round, round)
	}
	if n := ev.count(ginsecure.EventDeviceProofFailed) + ev.count(ginsecure.EventRevoke) + ev.count(ginsecure.EventReplay); n != 0 {
		t.Fatalf("%d refused proofs or revocations", n)
	}
	if !tryCopy {
		return
	}
	// The cookies copied after sign-in, from another client, long after
	// their bound token's life: anonymous.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test server's own certificate
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", copied)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		User     string `json:"user"`
		SignedIn bool   `json:"signed_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if body.SignedIn || body.User != "" {
		t.Fatalf("copied cookies after the bound token's life: %d %+v, want anonymous", resp.StatusCode, body)
	}
	if ev.count(ginsecure.EventDeviceTokenRefused) == 0 {
		t.Fatal("the copy's refusal was not reported")
	}
	// The browser itself is still signed in.
	if r := me(t, ctx); !r.SignedIn {
		t.Fatalf("the browser after the copy was refused: %+v", r)
	}
}

// testDeviceRestart signs in and registers, closes the browser, starts it
// again on the same profile, and refreshes with the key the profile kept.
func testDeviceRestart(t *testing.T, exe string) {
	srv, ev, clk, flags := deviceApp(t, dbscFeatures)
	profile := t.TempDir()
	flags = append(flags, chromedp.UserDataDir(profile))
	ctx := newBrowser(t, exe, flags...)
	signIn(t, ctx, srv.URL, "alice")
	waitEvents(t, ev, ginsecure.EventDeviceBound, 1)
	if err := chromedp.Cancel(ctx); err != nil { // closes the browser; the profile stays
		t.Fatal(err)
	}
	ctx = newBrowser(t, exe, flags...)
	do(t, ctx, "open the profile after the restart", chromedp.Navigate(srv.URL+"/profile"))
	refreshRound(t, ctx, srv, ev, clk, 1, 1)
}

// waitEvents waits until the app has reported n events of kind.
func waitEvents(t *testing.T, ev *events, kind ginsecure.EventKind, n int) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for ev.count(kind) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events after %v, want %d", ev.count(kind), kind, browserWait, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// browserCookies returns the browser's cookies for url as a Cookie header.
func browserCookies(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, c := range res.Cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}
