package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ginsecure/ginsecure/internal/redistest"
)

// TestTwoInstancesShareSessions runs the example twice on one Redis, as
// "-redis" does: a sign-in on one instance is seen by the other, and a
// sign-out on the other ends it on both.
func TestTwoInstancesShareSessions(t *testing.T) {
	rs := redistest.Start(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var urls []string
	var transport http.RoundTripper
	for range 2 {
		a, err := newApp(options{Redis: "unix:" + rs.Socket, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.close() })
		// TLS: Go's cookie jar, unlike a browser, sends Secure cookies to
		// https only, even on localhost.
		srv := httptest.NewTLSServer(a.engine)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
		transport = srv.Client().Transport // every httptest server has the same certificate
	}
	// Both servers are 127.0.0.1: one cookie jar, as one browser has.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{
		Jar:       jar,
		Transport: transport,
		// Keep the redirects out of the way: the tests look at each answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	me := func(base string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/api/me", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ User string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("/api/me on %s: %d %v", base, resp.StatusCode, err)
		}
		return body.User
	}
	post := func(base, path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Origin", base) // as a browser sends on every POST: the forms check it
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	if r := post(urls[0], "/login", url.Values{"username": {"bob"}, "password": {demoPassword}}); r.StatusCode != 200 {
		t.Fatalf("sign in on the first instance: %d", r.StatusCode)
	}
	if u := me(urls[1]); u != "bob" {
		t.Fatalf("second instance sees %q, want bob", u)
	}
	if r := post(urls[1], "/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on the second instance: %d", r.StatusCode)
	}
	if u := me(urls[0]); u != "" {
		t.Fatalf("first instance still sees %q after the sign-out on the second", u)
	}
}
