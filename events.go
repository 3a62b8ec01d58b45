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
	// EventSaveIgnored (WARN): a Save failed (Err says why: a login or
	// rotation retired the session, the store was down, the session too
	// large, ...) and the handler still answered with a status below 400:
	// the write is lost and the user was not told.
	EventSaveIgnored EventKind = "save_ignored"
	// EventDeviceBound (INFO): a session was bound to a key on the device
	// (Detail: the algorithm and the key's thumbprint).
	EventDeviceBound EventKind = "device_bound"
	// EventDeviceRefresh (DEBUG): a bound session's device proved it holds
	// the key and got a new token.
	EventDeviceRefresh EventKind = "device_refresh"
	// EventDeviceProofFailed (WARN): a registration or refresh proof was
	// refused (Err says why: bad signature, foreign key, replayed or
	// unknown challenge, malformed); answered 403, nothing revoked.
	EventDeviceProofFailed EventKind = "device_proof_failed"
	// EventDeviceTokenRefused (WARN): a bound session's token came back
	// after its life (DeviceBinding.CookieLifetime) or superseded past its
	// window: a copy used without the device's key; anonymous, nothing
	// revoked.
	EventDeviceTokenRefused EventKind = "device_token_refused"
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
	// Reason is the RevokeReason an EventRevoke's revoke call was given,
	// else empty.
	Reason RevokeReason
}

func (k EventKind) level() slog.Level {
	switch k {
	case EventGraceServed, EventRotate, EventDeviceRefresh:
		return slog.LevelDebug
	case EventLogin, EventLogout, EventRevoke, EventTimeout, EventLimit, EventDeviceBound:
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

// note keeps ev for the entry whose steps found it to emit where they end
// (flush), in order: the event's address is the context's to tell
// (clientIP), and the steps work without it. Its time is the moment it
// was noted.
func (st *reqState) note(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = st.g.now()
	}
	if st.events == nil {
		st.events = new([]Event)
	}
	*st.events = append(*st.events, ev)
}

// flush emits the events the steps of an entry noted, in the order they
// were noted.
func (g *Guard) flush(c *gin.Context, st *reqState) {
	if st == nil || st.events == nil {
		return
	}
	evs := *st.events
	for i, ev := range evs {
		evs[i] = Event{}
		g.emit(c, ev)
	}
	*st.events = evs[:0]
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
		if ev.Reason != "" {
			attrs = append(attrs, slog.String("reason", string(ev.Reason)))
		}
		g.log.LogAttrs(ctx, lvl, "ginsecure: "+string(ev.Kind), attrs...)
	}
	if g.cfg.OnEvent != nil {
		g.cfg.OnEvent(ev)
	}
}

// userID is the user of the record the request opened, for events.
func (st *reqState) userID() string {
	switch {
	case st.rec != nil:
		return st.rec.UserID
	case st.tokRec != nil:
		return st.tokRec.UserID
	}
	return ""
}

// handleOf is the handle of the record the request opened, for events.
func (st *reqState) handleOf() string {
	switch {
	case st.rec != nil:
		return st.rec.Handle
	case st.tokRec != nil:
		return st.tokRec.Handle
	}
	return st.tok.handle
}
