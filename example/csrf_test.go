package main

// Login and logout CSRF: the sign-in and sign-out forms accept a POST only
// from a page of the app's own origin (sameOriginForm).

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestSignInAndSignOutFormsCheckOrigin(t *testing.T) {
	a, err := newApp(options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close() })
	const own = "http://app.localhost:8080"
	form := url.Values{"username": {"alice"}, "password": {demoPassword}}.Encode()

	for _, tc := range []struct {
		name            string
		origin, referer string
		want            int
	}{
		{"own origin", own, "", http.StatusSeeOther},
		{"own origin, Referer only (an old browser)", "", own + "/login", http.StatusSeeOther},
		{"a sibling subdomain (same site, other origin)", "http://evil.localhost:8080", "", http.StatusForbidden},
		{"another port of the same host", "http://app.localhost:9090", "", http.StatusForbidden},
		{"https variant of the own origin", "https://app.localhost:8080", "", http.StatusForbidden},
		{"another site", "https://attacker.example", "", http.StatusForbidden},
		{"a sandboxed page (Origin: null)", "null", "", http.StatusForbidden},
		{"Referer from a sibling subdomain", "", "http://evil.localhost:8080/x", http.StatusForbidden},
		{"neither Origin nor Referer", "", "", http.StatusForbidden},
	} {
		for _, path := range []string{"/login", "/logout"} {
			req := httptest.NewRequest(http.MethodPost, own+path, strings.NewReader(form))
			req.Host = "app.localhost:8080"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "text/html")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.referer != "" {
				req.Header.Set("Referer", tc.referer)
			}
			rec := httptest.NewRecorder()
			a.engine.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%s: POST %s answered %d, want %d", tc.name, path, rec.Code, tc.want)
			}
			if tc.want == http.StatusForbidden && len(rec.Result().Cookies()) > 0 {
				t.Errorf("%s: POST %s refused but set cookies %v", tc.name, path, rec.Result().Cookies())
			}
		}
	}
}

// With -origin the check uses the configured origin, not the Host header.
func TestConfiguredOrigin(t *testing.T) {
	a, err := newApp(options{Origin: "https://app.example.com", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close() })
	for origin, want := range map[string]int{"https://app.example.com": http.StatusSeeOther, "http://internal:8080": http.StatusForbidden} {
		req := httptest.NewRequest(http.MethodPost, "http://internal:8080/logout", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Accept", "text/html")
		rec := httptest.NewRecorder()
		a.engine.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Origin %s: %d, want %d", origin, rec.Code, want)
		}
	}
}
