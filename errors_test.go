package ginsecure_test

// Refusals: the default error response and its statuses, and what a custom
// ErrorHandler can and cannot do.

import (
	"errors"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// TestCustomErrorHandlerCannotLetRequestThrough: a custom handler that
// forgets to abort still stops the protected handler.
func TestCustomErrorHandlerCannotLetRequestThrough(t *testing.T) {
	var ran bool
	var got error
	e := newEnv(t, "memstore", ginsecure.Config{ErrorHandler: func(c *gin.Context, err error) { got = err }},
		withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.GET("/secret", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) { ran = true })
		}))
	e.browser().get("/secret")
	if ran {
		t.Fatal("protected handler ran after a refusal")
	}
	if !errors.Is(got, ginsecure.ErrNoSession) {
		t.Fatalf("handler got %v", got)
	}
}

// TestDefaultErrorResponse: JSON {"error": code} with the documented statuses.
func TestDefaultErrorResponse(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{})
	r := e.browser().get("/me")
	if r.status != 401 || r.errCode() != "no_session" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %v %v", r.status, r.body, r.header)
	}
	for _, c := range []struct {
		err    error
		status int
	}{
		{ginsecure.ErrReauthRequired, 403}, {ginsecure.ErrTLSRequired, 403}, {ginsecure.ErrTooManySessions, 403},
		{ginsecure.ErrStoreUnavailable, 503}, {ginsecure.ErrReplay, 401}, {ginsecure.ErrIPMismatch, 401},
	} {
		if got := ginsecure.ErrorStatus(c.err); got != c.status {
			t.Errorf("%v: status %d, want %d", c.err, got, c.status)
		}
	}
	if !errors.Is(ginsecure.ErrEvicted, ginsecure.ErrExpired) || !errors.Is(ginsecure.ErrRevoked, ginsecure.ErrExpired) {
		t.Error("evicted and revoked must be ErrExpired-family errors")
	}
}
