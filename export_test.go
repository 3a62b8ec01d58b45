package ginsecure

import (
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
)

// MemoryStoreIndexSize exposes the size of the memory store's per-user
// index to binding_test.go, which proves that signed-out, revoked and
// expired sessions leave it: how many users it holds and how many handles
// under them.
func MemoryStoreIndexSize(s storeext.Store) (users, handles int) {
	m := s.(*memoryStore)
	for i := range m.users {
		us := &m.users[i]
		us.mu.Lock()
		for _, u := range us.users {
			handles += u.total()
		}
		users += len(us.users)
		us.mu.Unlock()
	}
	return users, handles
}

// TooLargeText exposes the one list of other libraries' error texts
// ginsecure matches (foreign_text.go) to foreign_text_test.go.
var TooLargeText = tooLargeText

// The optional interfaces as the Guard declares them, for storeext_test.go
// (they must be storeext's, method for method).
type (
	PrefetcherAsAsked      = prefetcher
	HeldUpdaterAsAsked     = heldUpdater
	SharedRedisAsAsked     = sharedRedis
	SessionSharerAsAsked   = sessionSharer
	KnownSessionsAsAsked   = knownSessions
	LoggerUserAsAsked      = loggerUser
	PreviousEncoderAsAsked = previousEncoder
)

// SessionIdentity exposes to the simulation the identity of the session
// a request is served with (sessionID): on the cookie store, which has no
// session ID, the record's handle or the ID ginsecure keeps inside the
// session; "" for a stand-in.
func SessionIdentity(c *gin.Context) string {
	st := stateOf(c)
	if st == nil || st.standingIn() {
		return ""
	}
	return sessionID(st.cur)
}

// EarlierReleaseTokenKey is the handle the token cookie value v names and
// the X25519 key earlier releases stored for its token (Record.TokenKey),
// for tests of records those releases wrote; ok is false for a value that
// is no token.
func EarlierReleaseTokenKey(v string) (handle string, key []byte, ok bool) {
	p, ok := parseToken(v)
	if !ok {
		return "", nil, false
	}
	k, err := x25519Private(p.secret)
	if err != nil {
		return "", nil, false
	}
	return p.handle, k.PublicKey().Bytes(), true
}
