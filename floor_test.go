package ginsecure

import (
	"net/http"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
)

// ContractFloor is the least an implementation of the model (DESIGN.md,
// "Model") can do on an authenticated read, for BenchmarkContractFloor:
// read the handle from the gin-contrib session, find and hash the token
// cookie, read the clock, look the record up, compare the hash, check the
// idle and absolute timeouts and the bound IP, and hand the user to the
// handler through the session wrapper that the no-clobber rule needs. No
// rotation, grace, replay detection, revocation, identity check, events or
// response scrubbing: a measuring stick, not a guard. It reuses the Guard's
// token reading (tokenCookie, parseToken) and IP fast path, so that it
// costs what the Guard's floor costs.
type ContractFloor struct {
	mu   sync.RWMutex
	recs map[string]*floorRecord
}

type floorRecord struct {
	userID    string
	hash      [32]byte
	ip        string
	sid       string
	created   time.Time
	lastSeen  time.Time
	idle, abs time.Duration
}

// floorSession is the one allocation per request: the wrapper that must
// replace the gin-contrib session in the context, carrying the record.
type floorSession struct {
	sessions.Session
	rec *floorRecord
}

// NewContractFloor returns an empty floor.
func NewContractFloor() *ContractFloor {
	return &ContractFloor{recs: make(map[string]*floorRecord)}
}

// Middleware authenticates as the floor does; put it after sessions.Sessions.
func (f *ContractFloor) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		s := sessions.Default(c)
		var rec *floorRecord
		if v, ok := tokenCookie(c.Request, DefaultCookieName); ok {
			if p, ok := parseToken(v); ok {
				now := time.Now()
				f.mu.RLock()
				r := f.recs[p.handle]
				f.mu.RUnlock()
				if r != nil && hashEq(r.hash, p.hash) && floorSID(s) == r.sid && !longerThan(now, r.lastSeen, r.idle) &&
					!longerThan(now, r.created, r.abs) && peerIs(c.Request.RemoteAddr, r.ip) {
					rec = r
				}
			}
		}
		c.Set(sessions.DefaultKey, &floorSession{Session: s, rec: rec})
		c.Next()
	}
}

// floorSID is the session's identity: its ID where the store has one, the
// handle kept inside it on the cookie store.
func floorSID(s sessions.Session) string {
	if id := s.ID(); id != "" {
		return id
	}
	id, _ := s.Get(handleKey).(string)
	return id
}

// UserID is the signed-in user of the request, as ginsecure.UserID.
func (f *ContractFloor) UserID(c *gin.Context) (string, bool) {
	v, _ := c.Get(sessions.DefaultKey)
	if fs, ok := v.(*floorSession); ok && fs.rec != nil {
		return fs.rec.userID, true
	}
	return "", false
}

// Login signs userID in: a handle in the session, a token cookie, a record.
// Only what the benchmark's read needs (no session regeneration).
func (f *ContractFloor) Login(c *gin.Context, userID string) error {
	h, err := newHandle()
	if err != nil {
		return err
	}
	secret, hash, err := newSecret()
	if err != nil {
		return err
	}
	sid := h // the cookie store's identity of a signed-in session
	now := time.Now()
	s := sessions.Default(c)
	s.Set(handleKey, h)
	if err := s.Save(); err != nil {
		return err
	}
	if id := s.ID(); id != "" {
		sid = id
	}
	f.mu.Lock()
	f.recs[h] = &floorRecord{userID: userID, hash: hash, sid: sid, ip: c.RemoteIP(), created: now, lastSeen: now,
		idle: DefaultIdleTimeout, abs: DefaultAbsoluteTimeout}
	f.mu.Unlock()
	http.SetCookie(c.Writer, &http.Cookie{Name: DefaultCookieName, Value: tokenValue(h, secret), Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}
