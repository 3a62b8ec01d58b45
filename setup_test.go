package ginsecure_test

// Misconfiguration answers as a programming error, not as a wrong
// password: 500 "misconfigured" with an error that names the mistake (and
// the log saying it where the Guard sees it), and 400 "invalid_user_id"
// for a Login with a user ID no store can keep.

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// TestMisconfigurationNamesTheMistake sets ginsecure up wrongly in each way
// an adopter has, with README's login handler, and checks the answer (500
// misconfigured, never 401), the error Login returns (errors.Is the
// mistake's sentinel and ErrMisconfigured) and the log: one ERROR per
// Guard naming the mistake where the Guard sees the request.
func TestMisconfigurationNamesTheMistake(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *gin.Engine, sec *ginsecure.Guard, login gin.HandlerFunc)
		want  error
		log   string // what the log says; "" where no Guard sees the request
		not   string // advice the log must not give
	}{
		{
			name: "no sessions.Sessions",
			setup: func(r *gin.Engine, sec *ginsecure.Guard, login gin.HandlerFunc) {
				r.Use(sec.Middleware())
				r.POST("/login", login)
			},
			want: ginsecure.ErrNoSessionsMiddleware,
			log:  "put sessions.Sessions(name, store) before it",
		},
		{
			name: "sessions.SessionsMany",
			setup: func(r *gin.Engine, sec *ginsecure.Guard, login gin.HandlerFunc) {
				r.Use(sessions.SessionsMany([]string{"app", "prefs"}, cookie.NewStore(sessionSecret)), sec.Middleware())
				r.POST("/login", login)
			},
			want: ginsecure.ErrSessionsMany,
			log:  `sessions.SessionsMany is not supported (registered with \"app\", \"prefs\"): ginsecure guards the one session of sessions.Sessions(name, store)`,
			not:  "put sessions.Sessions(name, store) before it",
		},
		{
			name: "Middleware registered after the route",
			setup: func(r *gin.Engine, sec *ginsecure.Guard, login gin.HandlerFunc) {
				r.Use(sessions.Sessions("app", cookie.NewStore(sessionSecret)))
				r.POST("/login", login)
				r.Use(sec.Middleware())
			},
			want: ginsecure.ErrNoMiddleware,
		},
		{
			name: "Middleware after the handler in the chain",
			setup: func(r *gin.Engine, sec *ginsecure.Guard, login gin.HandlerFunc) {
				r.Use(sessions.Sessions("app", cookie.NewStore(sessionSecret)))
				r.POST("/login", login, sec.Middleware())
			},
			want: ginsecure.ErrNoMiddleware,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			sec, err := ginsecure.New(ginsecure.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			if err != nil {
				t.Fatal(err)
			}
			var loginErr error
			r := gin.New()
			tc.setup(r, sec, func(c *gin.Context) {
				// README's handler.
				if loginErr = ginsecure.Login(c, "alice"); loginErr != nil {
					c.AbortWithStatusJSON(ginsecure.ErrorStatus(loginErr), gin.H{"error": ginsecure.ErrorCode(loginErr)})
					return
				}
				c.Redirect(http.StatusSeeOther, "/me")
			})
			for range 2 {
				status, code := serveCode(t, r, http.MethodPost, "/login")
				if status != http.StatusInternalServerError || code != "misconfigured" {
					t.Fatalf("login: %d %q, want 500 misconfigured", status, code)
				}
				if !errors.Is(loginErr, tc.want) || !errors.Is(loginErr, ginsecure.ErrMisconfigured) {
					t.Fatalf("Login returned %v, want %v (an ErrMisconfigured)", loginErr, tc.want)
				}
			}
			out := buf.String()
			switch {
			case tc.log == "" && out != "":
				t.Fatalf("unexpected log:\n%s", out)
			case tc.log != "" && (strings.Count(out, tc.log) != 1 || strings.Count(out, "level=ERROR") != 1):
				t.Fatalf("want one ERROR saying %q, log:\n%s", tc.log, out)
			case tc.not != "" && strings.Contains(out, tc.not):
				t.Fatalf("the log gives the wrong advice %q:\n%s", tc.not, out)
			}
		})
	}
}

// TestMisconfigurationErrorsAreTold: each mistake is its own sentinel, all
// of them ErrMisconfigured, answered 500 "misconfigured" by ErrorCode and
// ErrorStatus, and none is another.
func TestMisconfigurationErrorsAreTold(t *testing.T) {
	all := []error{ginsecure.ErrNoMiddleware, ginsecure.ErrNoSessionsMiddleware, ginsecure.ErrSessionsMany}
	for i, err := range all {
		if !errors.Is(err, ginsecure.ErrMisconfigured) || ginsecure.ErrorCode(err) != "misconfigured" || ginsecure.ErrorStatus(err) != http.StatusInternalServerError {
			t.Errorf("%v: Is(ErrMisconfigured)=%t %q %d, want true \"misconfigured\" 500", err, errors.Is(err, ginsecure.ErrMisconfigured), ginsecure.ErrorCode(err), ginsecure.ErrorStatus(err))
		}
		for j, other := range all {
			if i != j && errors.Is(err, other) {
				t.Errorf("%v is %v", err, other)
			}
		}
	}
}

// TestRequireWithoutMiddlewareIsMisconfigured: a route group whose Require
// runs on a request Middleware never saw (Middleware registered after the
// group's routes) is refused with 500 misconfigured, not a 401 that reads
// as "sign in", and the Guard logs the mistake once.
func TestRequireWithoutMiddlewareIsMisconfigured(t *testing.T) {
	var buf lockedBuffer
	sec, err := ginsecure.New(ginsecure.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	r := gin.New()
	r.Use(sessions.Sessions("app", cookie.NewStore(sessionSecret)))
	r.GET("/me", sec.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) { ran = true })
	r.Use(sec.Middleware())
	for range 2 {
		if status, code := serveCode(t, r, http.MethodGet, "/me"); status != http.StatusInternalServerError || code != "misconfigured" {
			t.Fatalf("/me: %d %q, want 500 misconfigured", status, code)
		}
	}
	if ran {
		t.Fatal("the protected handler ran")
	}
	if out := buf.String(); strings.Count(out, "Require ran on a request Middleware had not seen") != 1 || !strings.Contains(out, "level=ERROR") {
		t.Fatalf("want one ERROR naming the mistake, log:\n%s", out)
	}
}

// TestNoSessionsLoggedPerGuard: every Guard logs its own setup mistake to
// its own Config.Logger, not only the first Guard of the process.
func TestNoSessionsLoggedPerGuard(t *testing.T) {
	for i := range 2 {
		var buf lockedBuffer
		sec, err := ginsecure.New(ginsecure.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		if err != nil {
			t.Fatal(err)
		}
		r := gin.New()
		r.Use(sec.Middleware())
		r.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
		serveCode(t, r, http.MethodGet, "/")
		if !strings.Contains(buf.String(), "found no gin-contrib session") {
			t.Fatalf("Guard %d logged nothing about the missing sessions middleware:\n%s", i+1, buf.String())
		}
	}
}

// TestLoginInvalidUserIDIsABadRequest: a Login with a user ID no store can
// keep exactly (empty, over 512 bytes, invalid UTF-8) is the caller's
// mistake: 400 "invalid_user_id" through README's handler, never 401, and
// nothing is signed in.
func TestLoginInvalidUserIDIsABadRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		for _, id := range []string{"", strings.Repeat("a", 513), "\xff"} {
			b := e.browser()
			r := b.post("/login?user=" + url.QueryEscape(id))
			if r.status != http.StatusBadRequest || r.errCode() != "invalid_user_id" {
				t.Fatalf("Login(%q): %d %v, want 400 invalid_user_id", id, r.status, r.body)
			}
			if r := b.get("/me"); r.status != http.StatusUnauthorized {
				t.Fatalf("after a refused Login(%q): /me %d %v", id, r.status, r.body)
			}
		}
	})
	if ginsecure.ErrorCode(ginsecure.ErrInvalidUserID) != "invalid_user_id" || ginsecure.ErrorStatus(ginsecure.ErrInvalidUserID) != http.StatusBadRequest {
		t.Fatalf("ErrInvalidUserID: %q %d", ginsecure.ErrorCode(ginsecure.ErrInvalidUserID), ginsecure.ErrorStatus(ginsecure.ErrInvalidUserID))
	}
}

// serveCode serves one request on r and returns its status and JSON error
// code.
func serveCode(t *testing.T, r *gin.Engine, method, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body.Error
}

// TestEachSetupMistakeLoggedOnce: two mistakes of one Guard (a route
// without sessions.Sessions, a route whose Require runs without
// Middleware) each get their own log line, once.
func TestEachSetupMistakeLoggedOnce(t *testing.T) {
	var buf lockedBuffer
	sec, err := ginsecure.New(ginsecure.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.GET("/no-sessions", sec.Middleware(), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	r.GET("/no-middleware", sec.Require(ginsecure.Policy{}), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for range 2 {
		serveCode(t, r, http.MethodGet, "/no-sessions")
		serveCode(t, r, http.MethodGet, "/no-middleware")
	}
	out := buf.String()
	if strings.Count(out, "found no gin-contrib session") != 1 || strings.Count(out, "Require ran on a request Middleware had not seen") != 1 {
		t.Fatalf("want each mistake logged once, log:\n%s", out)
	}
}
