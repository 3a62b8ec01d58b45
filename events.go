package ginsecure

// Security events: slog and Config.OnEvent.

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
)

// EventKind names a security event.
type EventKind string

// Security events.
const (
	EventLogin            EventKind = "login"
	EventLogout           EventKind = "logout"
	EventRotate           EventKind = "rotate"
	EventGraceServed      EventKind = "grace_served"
	EventReplay           EventKind = "replay"
	EventIPMismatch       EventKind = "ip_mismatch"
	EventIdentityMismatch EventKind = "identity_mismatch"
	EventTokenMismatch    EventKind = "token_mismatch"
	EventRevoke           EventKind = "revoke"
	EventLimit            EventKind = "limit"
	EventTimeout          EventKind = "timeout"
)

// Event is one security event, sent to the Logger and to Config.OnEvent.
type Event struct {
	Kind    EventKind
	Time    time.Time
	UserID  string
	Handle  string // the session's handle (never a token)
	IP      string // the request's client address, where known
	BoundIP string // the address the session is bound to, for IP events
	Path    string
	Err     error
	Detail  string
}

func (k EventKind) level() slog.Level {
	switch k {
	case EventGraceServed, EventRotate:
		return slog.LevelDebug
	case EventLogin, EventLogout, EventRevoke, EventTimeout, EventLimit:
		return slog.LevelInfo
	default:
		return slog.LevelWarn
	}
}

func (g *Guard) emit(c *gin.Context, ev Event) {
	if c != nil && c.Request != nil {
		if ev.Path == "" && c.Request.URL != nil {
			ev.Path = c.Request.URL.Path
		}
		if ev.IP == "" {
			if a := g.clientIP(c); a.IsValid() {
				ev.IP = a.String()
			}
		}
		g.emitCtx(c.Request.Context(), ev)
		return
	}
	g.emitCtx(context.Background(), ev)
}

func (g *Guard) emitCtx(ctx context.Context, ev Event) {
	if ev.Time.IsZero() {
		ev.Time = g.now()
	}
	lvl := ev.Kind.level()
	if g.log.Enabled(ctx, lvl) {
		attrs := []slog.Attr{slog.String("event", string(ev.Kind))}
		if ev.UserID != "" {
			attrs = append(attrs, slog.String("user", ev.UserID))
		}
		if ev.Handle != "" {
			attrs = append(attrs, slog.String("handle", ev.Handle))
		}
		if ev.IP != "" {
			attrs = append(attrs, slog.String("ip", ev.IP))
		}
		if ev.BoundIP != "" {
			attrs = append(attrs, slog.String("bound_ip", ev.BoundIP))
		}
		if ev.Path != "" {
			attrs = append(attrs, slog.String("path", ev.Path))
		}
		if ev.Err != nil {
			attrs = append(attrs, slog.String("err", ev.Err.Error()))
		}
		if ev.Detail != "" {
			attrs = append(attrs, slog.String("detail", ev.Detail))
		}
		g.log.LogAttrs(ctx, lvl, "ginsecure: "+string(ev.Kind), attrs...)
	}
	if g.cfg.OnEvent != nil {
		g.cfg.OnEvent(ev)
	}
}
