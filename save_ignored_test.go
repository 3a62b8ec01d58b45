package ginsecure_test

// A Save whose error the handler ignored (it answered below 400) is logged
// at WARN as its own event, save_ignored, naming the error.

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// TestIgnoredSaveErrorIsWarned: an anonymous request is held in its
// handler while the browser signs in (the login retires its session); its
// Save then fails with ErrStaleCredentials. A handler that ignores that
// and answers 200 gets a WARN save_ignored naming the error; one that
// answers the error (409) gets none.
func TestIgnoredSaveErrorIsWarned(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report bool // the handler answers the error
	}{{"ignored", false}, {"reported", true}} {
		t.Run(tc.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				var buf bytes.Buffer
				var mu sync.Mutex
				logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil)) // INFO and up
				entered, release := make(chan struct{}), make(chan struct{})
				var saveErr error
				e := newEnv(t, kind, ginsecure.Config{Logger: logger}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
					r.GET("/held-write", func(c *gin.Context) {
						close(entered)
						<-release
						s := sessions.Default(c)
						s.Set("cart", "late")
						saveErr = s.Save()
						if tc.report && saveErr != nil {
							c.JSON(ginsecure.ErrorStatus(saveErr), gin.H{"error": ginsecure.ErrorCode(saveErr)})
							return
						}
						c.Status(http.StatusOK)
					})
				}))
				var got []ginsecure.Event
				b := e.browser()
				b.post("/cart?item=apple")
				done := make(chan reply, 1)
				hdr := b.header()
				go func() { r, _ := e.trySend("GET", "/held-write", hdr); done <- r }()
				<-entered
				b.login("alice")
				close(release)
				r := <-done
				if !errors.Is(saveErr, ginsecure.ErrStaleCredentials) {
					t.Fatalf("held save: %v, want ErrStaleCredentials", saveErr)
				}
				e.events.mu.Lock()
				for _, ev := range e.events.ev {
					if ev.Kind == ginsecure.EventSaveIgnored {
						got = append(got, ev)
					}
				}
				e.events.mu.Unlock()
				mu.Lock()
				logText := buf.String()
				mu.Unlock()
				if tc.report {
					if r.status != http.StatusConflict || len(got) != 0 || strings.Contains(logText, "save_ignored") {
						t.Fatalf("reported error: %d, %d save_ignored events, log:\n%s", r.status, len(got), logText)
					}
					return
				}
				if r.status != http.StatusOK || len(got) != 1 || !errors.Is(got[0].Err, ginsecure.ErrStaleCredentials) {
					t.Fatalf("ignored error: %d, events %+v", r.status, got)
				}
				var line string
				for _, l := range strings.Split(logText, "\n") {
					if strings.Contains(l, "event=save_ignored") {
						line = l
					}
				}
				if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "path=/held-write") || !strings.Contains(line, `err="`+ginsecure.ErrStaleCredentials.Error()+`"`) {
					t.Fatalf("no WARN save_ignored line naming the path and the error:\n%s", logText)
				}
			})
		})
	}
}
