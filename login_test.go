package ginsecure_test

// Login is all-or-nothing: a login that cannot finish leaves no record,
// index entry or marker, evicts nobody, leaves the visitor's session as it
// was, and names its cause. Also: what a login carries over
// (Config.CarryOver), gin-contrib's Redis store without a MaxAge, and
// session fixation: nothing planted before a login is worth anything after
// it.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
	gsessions "github.com/gorilla/sessions"
)

// failingStore fails, while armed, the failAt-th store call (counted from
// arming), or every call of the method failMethod.
type failingStore struct {
	storeext.Store
	mu         sync.Mutex
	armed      bool
	n          int
	failAt     int
	failMethod string
	failed     []string // the calls that failed
	calls      []string // the calls made while armed
	// applied: a failing call is made all the same, and only its reply
	// lost (a client that went away mid-call, a connection that broke
	// after the command was sent): the caller sees errDown, the store
	// has changed.
	applied bool
}

func (f *failingStore) arm(failAt int, method string) {
	f.mu.Lock()
	f.armed, f.n, f.failAt, f.failMethod, f.failed, f.calls, f.applied = true, 0, failAt, method, nil, nil, false
	f.mu.Unlock()
}

// armApplied is arm, but the failing call is applied before its error
// is returned (its reply lost).
func (f *failingStore) armApplied(failAt int) {
	f.arm(failAt, "")
	f.mu.Lock()
	f.applied = true
	f.mu.Unlock()
}

// lost reports, for a call that failed (err from hit), whether it is to
// be made all the same (armApplied).
func (f *failingStore) lost(err error) bool {
	if err == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

func (f *failingStore) disarm() (calls, failed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
	return f.calls, f.failed
}

func (f *failingStore) hit(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.armed {
		return nil
	}
	f.n++
	f.calls = append(f.calls, method)
	if f.n == f.failAt || method == f.failMethod {
		f.failed = append(f.failed, method)
		return errDown
	}
	return nil
}

func (f *failingStore) UseClock(now func() time.Time) {
	if cu, ok := f.Store.(storeext.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (f *failingStore) Get(ctx context.Context, h string) (storeext.Record, error) {
	if err := f.hit("Get"); err != nil {
		return storeext.Record{}, err
	}
	return f.Store.Get(ctx, h)
}
func (f *failingStore) Create(ctx context.Context, r storeext.Record, l storeext.Limit) error {
	if err := f.hit("Create"); err != nil {
		if f.lost(err) {
			_ = f.Store.Create(ctx, r, l)
		}
		return err
	}
	return f.Store.Create(ctx, r, l)
}
func (f *failingStore) Trim(ctx context.Context, u string, max int) ([]string, error) {
	if err := f.hit("Trim"); err != nil {
		if f.lost(err) {
			_, _ = f.Store.Trim(ctx, u, max)
		}
		return nil, err
	}
	return f.Store.Trim(ctx, u, max)
}
func (f *failingStore) Update(ctx context.Context, h string, fn func(*storeext.Record) error) (storeext.Record, error) {
	if err := f.hit("Update"); err != nil {
		if f.lost(err) {
			_, _ = f.Store.Update(ctx, h, fn)
		}
		return storeext.Record{}, err
	}
	return f.Store.Update(ctx, h, fn)
}
func (f *failingStore) Present(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, l storeext.Limit) (storeext.Record, []string, error) {
	if err := f.hit("Present"); err != nil {
		if f.lost(err) {
			_, _, _ = f.Store.Present(ctx, held, fn, l)
		}
		return storeext.Record{}, nil, err
	}
	return f.Store.Present(ctx, held, fn, l)
}
func (f *failingStore) Delete(ctx context.Context, h string) error {
	if err := f.hit("Delete"); err != nil {
		if f.lost(err) {
			_ = f.Store.Delete(ctx, h)
		}
		return err
	}
	return f.Store.Delete(ctx, h)
}
func (f *failingStore) List(ctx context.Context, u string) ([]storeext.Record, error) {
	if err := f.hit("List"); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, u)
}
func (f *failingStore) SetMarker(ctx context.Context, k string, m storeext.Marker) error {
	if err := f.hit("SetMarker"); err != nil {
		if f.lost(err) {
			_ = f.Store.SetMarker(ctx, k, m)
		}
		return err
	}
	return f.Store.SetMarker(ctx, k, m)
}
func (f *failingStore) GetMarker(ctx context.Context, k string) (storeext.Marker, error) {
	if err := f.hit("GetMarker"); err != nil {
		return storeext.Marker{}, err
	}
	return f.Store.GetMarker(ctx, k)
}
func (f *failingStore) DeleteMarker(ctx context.Context, k, h string) error {
	if err := f.hit("DeleteMarker"); err != nil {
		if f.lost(err) {
			_ = f.Store.DeleteMarker(ctx, k, h)
		}
		return err
	}
	return f.Store.DeleteMarker(ctx, k, h)
}

// The SharedRedis and HeldUpdater methods fail as the others do; on a
// Redis whose pool the session store shares (newFailingEnv), the Guard
// then takes the paths that read and write sessions with the records.
func (f *failingStore) SharedSessions(store gsessions.Store) storeext.KnownSessions {
	if s, ok := f.Store.(storeext.SessionSharer); ok {
		return s.SharedSessions(store)
	}
	return nil
}
func (f *failingStore) GetWithSession(ctx context.Context, h, sk string) (*storeext.Record, []byte, error) {
	if err := f.hit("GetWithSession"); err != nil {
		return nil, nil, err
	}
	return f.Store.(storeext.SharedRedis).GetWithSession(ctx, h, sk)
}
func (f *failingStore) SaveSessionUnlessMarked(ctx context.Context, mk, sk string, v []byte, ttl time.Duration) (storeext.Marker, bool, error) {
	if err := f.hit("SaveSessionUnlessMarked"); err != nil {
		if f.lost(err) {
			_, _, _ = f.Store.(storeext.SharedRedis).SaveSessionUnlessMarked(ctx, mk, sk, v, ttl)
		}
		return storeext.Marker{}, false, err
	}
	return f.Store.(storeext.SharedRedis).SaveSessionUnlessMarked(ctx, mk, sk, v, ttl)
}
func (f *failingStore) CreateWithSession(ctx context.Context, r storeext.Record, l storeext.Limit, sk string, v []byte, ttl time.Duration) error {
	if err := f.hit("CreateWithSession"); err != nil {
		if f.lost(err) {
			_ = f.Store.(storeext.SharedRedis).CreateWithSession(ctx, r, l, sk, v, ttl)
		}
		return err
	}
	return f.Store.(storeext.SharedRedis).CreateWithSession(ctx, r, l, sk, v, ttl)
}
func (f *failingStore) SetMarkerReadSession(ctx context.Context, k string, m storeext.Marker, sk string) ([]byte, error) {
	if err := f.hit("SetMarkerReadSession"); err != nil {
		if f.lost(err) {
			_, _ = f.Store.(storeext.SharedRedis).SetMarkerReadSession(ctx, k, m, sk)
		}
		return nil, err
	}
	return f.Store.(storeext.SharedRedis).SetMarkerReadSession(ctx, k, m, sk)
}
func (f *failingStore) UpdateHeldDeletingSession(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, sk string) (storeext.Record, error) {
	if err := f.hit("UpdateHeldDeletingSession"); err != nil {
		if f.lost(err) {
			_, _ = f.Store.(storeext.SharedRedis).UpdateHeldDeletingSession(ctx, held, fn, sk)
		}
		return storeext.Record{}, err
	}
	return f.Store.(storeext.SharedRedis).UpdateHeldDeletingSession(ctx, held, fn, sk)
}
func (f *failingStore) UpdateHeld(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error) (storeext.Record, error) {
	if err := f.hit("UpdateHeld"); err != nil {
		if f.lost(err) {
			_, _ = f.Store.Update(ctx, held.Handle, fn)
		}
		return storeext.Record{}, err
	}
	if u, ok := f.Store.(storeext.HeldUpdater); ok {
		return u.UpdateHeld(ctx, held, fn)
	}
	return f.Store.Update(ctx, held.Handle, fn)
}

// storeContents counts what ginsecure's store holds: records and markers
// of the memory store (and its index's handles), or the keys under the
// test prefix on Redis.
func storeContents(t *testing.T, e *env, inner storeext.Store) string {
	t.Helper()
	if e.redis != nil {
		c := e.redis.Pool().Get()
		defer c.Close()
		keys, err := redis.Strings(c.Do("KEYS", "gs:*"))
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, k := range keys {
			// The creation counter only moves on, and a revocation mark
			// only ends sessions created before it: a login undone may
			// leave either, and no later request can tell (redisstore,
			// revocation.go).
			if k == "gs:seq" || strings.HasPrefix(k, "gs:x:") {
				continue
			}
			kinds = append(kinds, strings.SplitN(strings.TrimPrefix(k, "gs:"), ":", 2)[0])
		}
		return fmt.Sprintf("%d keys %v", len(kinds), sortedCounts(kinds))
	}
	recs, marks := ginsecure.MemoryStoreSize(inner)
	users, handles := ginsecure.MemoryStoreIndexSize(inner)
	return fmt.Sprintf("%d records, %d markers, index %d users %d handles", recs, marks, users, handles)
}

func sortedCounts(kinds []string) map[string]int {
	m := map[string]int{}
	for _, k := range kinds {
		m[k]++
	}
	return m
}

// newFailingEnv starts an env on kind whose ginsecure store fails on demand.
func newFailingEnv(t *testing.T, kind string, cfg ginsecure.Config) (*env, *failingStore) {
	t.Helper()
	var opts []envOption
	var inner storeext.Store
	if isRedis(kind) {
		srv := redistest.Start(t)
		pool := srv.Pool()
		inner = redisstore.New(pool, redisstore.WithPrefix("gs:"))
		opts = append(opts, withRedis(srv), withPool(pool))
	} else {
		inner = ginsecure.NewMemoryStore()
	}
	f := &failingStore{Store: inner}
	cfg.Store = f
	return newEnv(t, kind, cfg, append(opts, withRoutes(loginMoreRoute))...), f
}

// loginMoreRoute adds POST /login-more: a sign-in handler that keeps one
// value of its own in the session before Login ("remember this device"),
// so that a session at the store's size limit no longer fits once signed
// in (on the cookie store a signed-in session is otherwise no larger than
// an anonymous one: the handle replaces the anonymous session's own ID).
func loginMoreRoute(r *gin.Engine, _ *ginsecure.Guard) {
	r.POST("/login-more", func(c *gin.Context) {
		sessions.Default(c).Set("remember", "this-device-for-thirty-days")
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
}

// nearLimitItem is the longest cart value the session store still saves
// for a new visitor on kind (the cookie store's 4 KB cookie, boj/redistore's
// 4 KB payload): a login that adds a value of its own no longer fits.
func nearLimitItem(t *testing.T, e *env) string {
	t.Helper()
	lo, hi := 100, 8000 // lo fits, hi does not
	if r := e.browser().post("/cart?item=" + strings.Repeat("x", hi)); r.status == http.StatusOK {
		t.Fatalf("a %d-byte cart fits the %s store: no size limit to test", hi, e.kind)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if e.browser().post("/cart?item="+strings.Repeat("x", mid)).status == http.StatusOK {
			lo = mid
		} else {
			hi = mid
		}
	}
	return strings.Repeat("x", lo)
}

// TestLoginTooLargeLeavesNothing: a visitor whose session is just under
// the store's size limit signs in. The login fails with
// ErrSessionTooLarge (413 session_too_large), leaves no record, index
// entry or marker, sends no cookie, and the visitor's session is as it
// was: readable, and its next write succeeds and persists (not refused as
// stale). Retries fail the same way, never with too_many_sessions.
func TestLoginTooLargeLeavesNothing(t *testing.T) {
	for _, kind := range []string{"cookie", "redis"} { // memstore has no size limit
		t.Run(kind, func(t *testing.T) {
			e, fs := newFailingEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1, RejectExtraLogins: true})
			item := nearLimitItem(t, e)
			b := e.browser()
			if r := b.post("/cart?item=" + item); r.status != http.StatusOK {
				t.Fatalf("the near-limit cart: %d", r.status)
			}
			before, empty := b.cookie("app"), storeContents(t, e, fs.Store)
			for i := 0; i < 3; i++ {
				r := b.post("/login-more?user=alice")
				if r.status != http.StatusRequestEntityTooLarge || r.errCode() != "session_too_large" {
					t.Fatalf("login %d with a near-limit session: %d %v, want 413 session_too_large", i+1, r.status, r.body)
				}
				if len(r.cookies) > 0 {
					t.Errorf("login %d that failed sent cookies: %v", i+1, r.cookies)
				}
				if list, err := e.guard.Sessions(context.Background(), "alice"); err != nil || len(list) != 0 {
					t.Fatalf("after failed login %d alice has sessions: %v %v", i+1, list, err)
				}
				if got := storeContents(t, e, fs.Store); got != empty {
					t.Fatalf("after failed login %d the store holds %s, before it held %s", i+1, got, empty)
				}
			}
			if b.cookie("app") != before {
				t.Error("the failed logins changed the visitor's session cookie")
			}
			if r := b.get("/cart"); r.body["cart"] != item {
				t.Fatalf("the visitor's cart after the failed logins: %.40v", r.body["cart"])
			}
			// Not marked stale: the next write succeeds and persists.
			if r := b.post("/cart?item=book"); r.status != http.StatusOK {
				t.Fatalf("the visitor's next write after the failed logins: %d %v", r.status, r.body)
			}
			if r := b.get("/cart"); r.body["cart"] != "book" {
				t.Fatalf("the visitor's write did not persist: %v", r.body)
			}
			// And now the login fits, once, with the cart carried over.
			b.login("alice")
			if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "book" {
				t.Fatalf("after the login that fits: %v", r.body)
			}
		})
	}
}

// TestLoginStoreFailureLeavesNothing fails, one at a time, each call the
// login request makes to ginsecure's store. Whichever fails, the login
// either completes (a failure it can live with: retiring or trimming is
// retried by expiry) or answers 503 store_unavailable and leaves the store
// as it was, the visitor's data intact and writable, and a signed-in
// visitor still signed in.
func TestLoginStoreFailureLeavesNothing(t *testing.T) { loginFailureLeavesNothing(t, false) }

// TestLoginWriteWhoseReplyIsLostLeavesNothing is
// TestLoginStoreFailureLeavesNothing where the failing call was made all
// the same and only its reply lost: the request's context ended while a
// command was on its way (a client that went away), a connection broke
// after Redis had run the command. Writes of the store are never sent
// twice (redisstore), so the login must clean up after a write it cannot
// tell was applied: a marker left behind would refuse every later write
// of the visitor's session as stale for AbsoluteTimeout, a record would
// hold a slot of MaxSessionsPerUser, an index entry, a session.
func TestLoginWriteWhoseReplyIsLostLeavesNothing(t *testing.T) {
	loginFailureLeavesNothing(t, true)
}

func loginFailureLeavesNothing(t *testing.T, applied bool) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, signedIn := range []bool{false, true} {
			for n := 1; ; n++ {
				e, fs := newFailingEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
				b := e.browser()
				b.post("/cart?item=apple")
				if signedIn {
					b.login("alice")
				}
				before, cookieBefore := storeContents(t, e, fs.Store), b.cookie("app")
				if applied {
					fs.armApplied(n)
				} else {
					fs.arm(n, "")
				}
				r := b.post("/login?user=alice")
				calls, failed := fs.disarm()
				if len(failed) == 0 {
					if r.status != http.StatusOK {
						t.Fatalf("signed in %v: login without a failure: %d %v", signedIn, r.status, r.body)
					}
					break // every call has been failed once
				}
				what := fmt.Sprintf("signed in %v, failing call %d (%s) of %v", signedIn, n, failed[0], calls)
				t.Logf("%s: %d %v", what, r.status, r.body)
				if r.status == http.StatusOK {
					// The failure came after the commit (retiring, trimming).
					if got := b.get("/cart"); got.user() != "alice" || got.body["cart"] != "apple" {
						t.Errorf("%s: login answered 200 but then: %v", what, got.body)
					}
					continue
				}
				if r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" {
					t.Errorf("%s: %d %v, want 503 store_unavailable", what, r.status, r.body)
				}
				if got := storeContents(t, e, fs.Store); got != before {
					t.Errorf("%s: the store holds %s, before the login %s", what, got, before)
				}
				if b.cookie("app") != cookieBefore || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
					t.Errorf("%s: the failed login changed the browser's cookies: %v", what, r.cookies)
				}
				want := ""
				if signedIn {
					want = "alice"
				}
				if got := b.get("/cart"); got.user() != want || got.body["cart"] != "apple" {
					t.Errorf("%s: the visitor after the failed login: %v", what, got.body)
				}
				if got := b.post("/cart?item=pear"); got.status != http.StatusOK {
					t.Errorf("%s: the visitor's next write: %d %v", what, got.status, got.body)
				} else if got := b.get("/cart"); got.body["cart"] != "pear" {
					t.Errorf("%s: the visitor's next write did not persist: %v", what, got.body)
				}
				if n > 20 {
					t.Fatal("the login makes more than 20 store calls")
				}
			}
		}
	})
}

// TestFailedLoginEvictsNobody: with MaxSessionsPerUser in its default mode
// (sign out the least recently used), a login that cannot save its session
// signs nobody out: eviction comes only after the new session is saved.
func TestFailedLoginEvictsNobody(t *testing.T) {
	for _, kind := range []string{"cookie", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1}, withRoutes(loginMoreRoute))
			item := nearLimitItem(t, e)
			first, second := e.browser(), e.browser()
			first.login("alice")
			second.post("/cart?item=" + item)
			// Later than first's login: Trim ranks by last use, then
			// creation, so the new login is the one to keep.
			e.clock.Advance(time.Second)
			if r := second.post("/login-more?user=alice"); r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("the login that does not fit: %d %v", r.status, r.body)
			}
			if r := first.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("a failed login signed out alice's other session: %d %v", r.status, r.body)
			}
			if n := e.events.count(ginsecure.EventLimit); n != 0 {
				t.Errorf("%d limit events for a login that failed", n)
			}
			// A login that succeeds does evict.
			second.post("/cart?item=small")
			second.login("alice")
			if r := first.get("/me"); r.status != http.StatusUnauthorized {
				t.Fatalf("the login that succeeded did not evict the older session: %d %v", r.status, r.body)
			}
		})
	}
}

// TestRedisSessionStoreWithoutMaxAge: gin-contrib's Redis store with
// Options that leave MaxAge 0 deletes every session it saves. Login
// refuses with ErrSessionNotPersisted instead of answering 200 for a login
// that the next request forgets, and the first request logs an error that
// says to set MaxAge.
func TestRedisSessionStoreWithoutMaxAge(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	e := newEnv(t, "redis", ginsecure.Config{Logger: logger})
	e.sess.Options(sessions.Options{Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}) // README's old snippet: no MaxAge
	b := e.browser()
	if r := b.get("/public"); r.status != http.StatusOK {
		t.Fatalf("first request: %d %v", r.status, r.body)
	}
	mu.Lock()
	logged := buf.String()
	mu.Unlock()
	if !strings.Contains(logged, "level=ERROR") || !strings.Contains(logged, "MaxAge") {
		t.Errorf("the first request logged no error naming MaxAge: %q", logged)
	}
	r := b.post("/login?user=alice")
	if r.status == http.StatusOK || r.errCode() != "session_not_persisted" {
		t.Fatalf("login on a Redis store without MaxAge: %d %v, want session_not_persisted", r.status, r.body)
	}
	if hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Error("the refused login sent a token")
	}
	if list, _ := e.guard.Sessions(context.Background(), "alice"); len(list) != 0 {
		t.Errorf("the refused login left sessions: %v", list)
	}
	if n := strings.Count(logged, "level=ERROR"); n != 1 {
		t.Errorf("%d errors logged after a request and a login, want the one MaxAge error: %q", n, logged)
	}

	// With a MaxAge the same app signs in, and nothing is logged.
	buf.Reset()
	e2 := newEnv(t, "redis", ginsecure.Config{Logger: logger})
	e2.browser().login("alice")
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), "MaxAge") {
		t.Errorf("a store with MaxAge logged: %q", buf.String())
	}
}

// TestLoginCarryOver: Config.CarryOver decides what a login carries from
// the session it replaces. A planted anonymous session (values chosen by
// an attacker: a CSRF secret) signs in: with a CarryOver that drops "csrf"
// the cart survives and the planted secret does not; by default every
// value is carried.
func TestLoginCarryOver(t *testing.T) {
	plant := func(r *gin.Engine, _ *ginsecure.Guard) {
		r.POST("/plant", func(c *gin.Context) {
			s := sessions.Default(c)
			s.Set("csrf", "evil")
			s.Set("cart", "book")
			if err := s.Save(); err != nil {
				c.JSON(saveFailure(err))
				return
			}
			c.Status(http.StatusNoContent)
		})
		r.GET("/values", func(c *gin.Context) {
			s := sessions.Default(c)
			u, _ := ginsecure.UserID(c)
			c.JSON(http.StatusOK, gin.H{"user": u, "csrf": s.Get("csrf"), "cart": s.Get("cart")})
		})
	}
	dropCSRF := func(key, _ any) bool { return key != "csrf" }
	forEachStore(t, func(t *testing.T, kind string) {
		for _, tc := range []struct {
			name      string
			carryOver func(key, value any) bool
			wantCSRF  any
		}{
			{"drop-csrf", dropCSRF, nil},
			{"default", nil, "evil"},
		} {
			e := newEnv(t, kind, ginsecure.Config{CarryOver: tc.carryOver}, withRoutes(plant))
			attacker, victim := e.browser(), e.browser()
			if r := attacker.post("/plant"); r.status != http.StatusNoContent {
				t.Fatalf("plant: %d %v", r.status, r.body)
			}
			attacker.copyTo(victim)
			victim.login("alice")
			r := victim.get("/values")
			if r.user() != "alice" || r.body["cart"] != "book" || r.body["csrf"] != tc.wantCSRF {
				t.Errorf("%s: after login: %v, want cart book, csrf %v", tc.name, r.body, tc.wantCSRF)
			}
		}
	})
}

// TestReloginRetiresTheReplacedSession: a browser signed in as alice signs
// in again, and the store fails to delete the record the login replaces.
// The login may fail (503, nothing changed) or succeed, but it must not
// answer 200 while the replaced credentials still authenticate after the
// grace window and hold a slot of MaxSessionsPerUser.
func TestReloginRetiresTheReplacedSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e, fs := newFailingEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1, RejectExtraLogins: true})
		b := e.browser()
		b.login("alice")
		replaced := b.header()
		e.clock.Advance(time.Minute)
		fs.arm(0, "Delete")
		r := b.post("/login?user=alice")
		fs.disarm()
		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
		old := e.send("GET", "/me", replaced)
		switch r.status {
		case http.StatusOK:
			if old.status == http.StatusOK {
				t.Errorf("the login answered 200, yet the credentials it replaced still authenticate: %v", old.body)
			}
			if p := b.get("/me"); p.status != http.StatusOK { // its first request: it counts from here
				t.Errorf("the browser after signing in again: %d %v", p.status, p.body)
			}
			if list, _ := e.guard.Sessions(context.Background(), "alice"); len(list) != 1 {
				t.Errorf("alice has %d sessions after signing in again, limit 1", len(list))
			}
			if r := b.post("/login?user=alice"); r.status != http.StatusOK {
				t.Errorf("signing in again once more from the same browser: %d %v", r.status, r.body)
			}
		case http.StatusServiceUnavailable:
			if old.status != http.StatusOK {
				t.Errorf("the failed login signed the browser out: %d %v", old.status, old.body)
			}
		default:
			t.Errorf("login: %d %v", r.status, r.body)
		}
	})
}

// TestLoginFailedLeavesTheVisitorsSessionDespiteAParallelWrite: a visitor
// with a cart signs in while another tab saves the cart. The login sets
// its marker first, so the parallel write finds it, takes the session for
// retired and deletes it; then the login fails (RejectExtraLogins, the
// user is signed in elsewhere) and removes its marker. The visitor's
// session must be as it was: the cart is still there.
func TestLoginFailedLeavesTheVisitorsSessionDespiteAParallelWrite(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		cfg := graceConfig(graceWindow)
		cfg.MaxSessionsPerUser, cfg.RejectExtraLogins = 1, true
		e, gate := gatedEnv(t, kind, cfg)
		e.browser().login("alice") // holds alice's one slot

		b := e.browser()
		if r := b.post("/cart?item=keep"); r.status != http.StatusOK {
			t.Fatalf("anonymous POST /cart: %d %v", r.status, r.body)
		}
		pre := b.header()
		gate.arm("Create")
		done := make(chan reply, 1)
		go func() {
			r, err := e.trySend("POST", "/login?user=alice", pre)
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		select {
		case <-gate.entered:
		case <-time.After(holdTimeout):
			t.Fatal("the login never reached Create")
		}
		w := e.send("POST", "/cart?item=keep", pre) // another tab, same cookies
		close(gate.open)
		login := <-done
		if login.status == http.StatusOK {
			t.Fatalf("login over the limit succeeded: %v", login.body)
		}
		t.Logf("parallel write: %d %v; failed login: %d %v", w.status, w.body, login.status, login.body)
		b.apply(w)
		b.apply(login)
		if r := b.get("/cart"); r.body["cart"] != "keep" {
			t.Errorf("after a failed login, GET /cart: %d %v; want the visitor's cart \"keep\" (the session as it was)", r.status, r.body)
		}
	})
}

// TestSessionFixation: every cookie an attacker planted before the victim's
// login is worth nothing after it.
func TestSessionFixation(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()

		// The attacker gets a session of its own (anonymous, with a cart)
		// and plants its cookie in the victim's browser.
		attacker.post("/cart?item=planted")
		planted := attacker.cookie("app")
		if planted == "" {
			t.Fatal("attacker got no session cookie")
		}
		attacker.copyTo(victim)
		victim.login("alice")
		victim.post("/cart?item=alice-secret")

		if got := victim.cookie("app"); got == planted {
			t.Fatal("session cookie unchanged by login")
		}
		if kind != "cookie" {
			if sessionID(t, kind, victim.cookie("app")) == sessionID(t, kind, planted) {
				t.Fatal("gin-contrib session ID not regenerated on login")
			}
		}
		r := attacker.get("/me")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("planted session after victim's login: /me %d %v", r.status, r.body)
		}
		r = attacker.get("/cart")
		if r.status != http.StatusOK || r.user() != "" {
			t.Fatalf("planted session should be plain anonymous, got %d %v", r.status, r.body)
		}
		switch kind {
		case "cookie":
			// The cookie store's session is the cookie: the attacker keeps
			// only what it planted.
			if r.body["cart"] != "planted" {
				t.Fatalf("cart: %v", r.body)
			}
		default:
			// The data moved to the new ID; the planted ID holds nothing.
			if r.body["cart"] != nil {
				t.Fatalf("planted session ID still holds data after login: %v", r.body)
			}
		}
		if r := victim.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-secret" {
			t.Fatalf("victim: %v", r.body)
		}
	})
}

// TestSessionFixationWithPlantedLogin: the attacker signs in as itself and
// plants both cookies; after the victim's own login neither the attacker's
// identity nor the victim's is reachable with the planted copies.
func TestSessionFixationWithPlantedLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		attacker.copyTo(victim)
		victim.login("alice")
		e.clock.Advance(5 * time.Second) // past the grace window
		for _, path := range []string{"/me", "/public"} {
			r := attacker.get(path)
			if u := r.user(); u == "alice" || u == "mallory" {
				t.Fatalf("%s with planted cookies answered as %q", path, u)
			}
		}
		if r := victim.get("/me"); r.status != 200 || r.user() != "alice" {
			t.Fatalf("victim: %d %v", r.status, r.body)
		}
	})
}

// TestNewerLoginWinsAtTheSameInstant: with MaxSessionsPerUser 1, a login
// made at the very instant of the user's previous one (a frozen test
// clock, Redis's millisecond times) signs out the previous session, never
// itself: ties of last activity go to the later created record.
func TestNewerLoginWinsAtTheSameInstant(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1})
		browsers := make([]*browser, 6)
		for i := range browsers {
			browsers[i] = e.browser()
			browsers[i].login("alice") // the clock never moves
			for j, b := range browsers[:i+1] {
				r := b.get("/me")
				if j == i && (r.status != http.StatusOK || r.user() != "alice") {
					t.Fatalf("login %d: the newest browser is not signed in: %d %v", i, r.status, r.body)
				}
				if j < i && r.status != http.StatusUnauthorized {
					t.Fatalf("login %d: browser %d still signed in over the limit of 1: %d %v", i, j, r.status, r.body)
				}
			}
		}
	})
}

// TestLoginThreeSubmitsFromOneSessionAnyOrder: a user clicks "Sign in"
// three times (or a form is resubmitted twice). The second and third
// logins join the first one's record, each minting a token: the first
// login's token becomes the previous one, and the third rotates it away
// entirely. When the first login's response is the one the browser
// applies last (responses complete in any order), the browser holds a
// token its record no longer knows: token_mismatch, signed out. Every
// order must leave the browser signed in (DESIGN.md, "Ordering principle").
func TestLoginThreeSubmitsFromOneSessionAnyOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"123", "132", "213", "312", "231", "321"} {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := e.browser()
			if r := b.post("/cart?item=pre"); r.status != http.StatusOK {
				t.Fatalf("anonymous POST /cart: %d %v", r.status, r.body)
			}
			pre := b.header()
			var ls [3]reply
			for i := range ls {
				if ls[i] = e.send("POST", "/login?user=alice", pre); ls[i].status != http.StatusOK || ls[i].user() != "alice" {
					t.Fatalf("login %d: %d %v", i+1, ls[i].status, ls[i].body)
				}
			}
			for _, c := range order {
				b.apply(ls[c-'1'])
			}
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Errorf("three logins from one session, responses applied in order %q: /me %d %v; want alice", order, r.status, r.body)
				continue
			}
			e.clock.Advance(time.Minute)
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Errorf("order %q, a minute later: /me %d %v; want alice", order, r.status, r.body)
			}
			if n := len(e.sessions(t, "alice")); n != 1 {
				t.Errorf("order %q: alice has %d sessions, want 1", order, n)
			}
		}
	})
}

// TestLoginNotUndoneByARotationInFlight: a signed-in request that performs
// the periodic rotation (RotateEvery passed) is verified just before the
// user signs in again (the same user, or another one on the same browser),
// and its response, carrying the rotated token of the record the login
// retired, lands after the login's (a slow handler, a long poll). The
// browser then holds the replaced record's token next to the new session
// cookie: it is forwarded to the new session, which stays signed in, for
// the same user and for another one signing in on the same browser.
func TestLoginNotUndoneByARotationInFlight(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, user := range []string{"alice", "bob"} {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := e.browser()
			b.login("alice")
			e.clock.Advance(graceRotateEvery + time.Minute) // the next request rotates
			release := e.holdAt(t, "/hold/auth?id=slow", "slow", b.header())
			b.login(user) // applied: the login's response reaches the browser first
			slow := release()
			if slow.status != http.StatusOK || !hasCookie(slow.cookies, graceTokenCookie) {
				t.Fatalf("the slow request did not rotate: %d %v sets %q", slow.status, slow.body, graceCookies(slow.cookies))
			}
			b.apply(slow) // the rotating response lands last
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != user {
				t.Errorf("re-login as %s, then the rotating response of a request verified before it lands: /me %d %v; want %s signed in",
					user, r.status, r.body, user)
			}
		}
	})
}

// TestRedisSharedLoginRefusedLeavesNothing: where the record and the new
// session are written in one script (a Redis shared by both stores), a
// login refused over the limit or for its size writes neither: Redis
// holds the same keys as before, and the visitor's session is as it was.
func TestRedisSharedLoginRefusedLeavesNothing(t *testing.T) {
	e := newEnv(t, "redis", ginsecure.Config{MaxSessionsPerUser: 1, RejectExtraLogins: true}, withRoutes(loginMoreRoute))
	if _, ok := e.store.(storeext.SharedRedis); !ok {
		t.Fatal("the env's store is not SharedRedis: the test would prove nothing")
	}
	keys := func() string {
		c := e.redis.Pool().Get()
		defer c.Close()
		ks, err := redis.Strings(c.Do("KEYS", "*"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(ks)
		return strings.Join(ks, " ")
	}
	e.browser().login("alice")
	item := nearLimitItem(t, e)
	for _, tc := range []struct{ name, path, item, code string }{
		{"over the limit", "/login?user=alice", "apple", "too_many_sessions"},
		{"too large", "/login-more?user=bob", item, "session_too_large"},
	} {
		b := e.browser()
		if r := b.post("/cart?item=" + tc.item); r.status != http.StatusOK {
			t.Fatalf("%s: the cart: %d", tc.name, r.status)
		}
		before, cookie := keys(), b.cookie("app")
		r := b.post(tc.path)
		if r.errCode() != tc.code || len(r.cookies) > 0 {
			t.Fatalf("%s: login %d %v, cookies %v; want %s, no cookies", tc.name, r.status, r.body, r.cookies, tc.code)
		}
		if got := keys(); got != before {
			t.Fatalf("%s: Redis holds\n%s\nbefore the login\n%s", tc.name, got, before)
		}
		if b.cookie("app") != cookie {
			t.Fatalf("%s: the visitor's session cookie changed", tc.name)
		}
		if got := b.get("/cart"); got.user() != "" || got.body["cart"] != tc.item {
			t.Fatalf("%s: the visitor after the refused login: %.60v", tc.name, got.body)
		}
	}
}

// TestRedisLoginKeepsAVeryLongMaxAge: a login's new session lives as long
// as the session store's MaxAge says, whatever its size. A MaxAge beyond
// what a time.Duration holds (some three hundred years) is kept as
// boj/redistore's SETEX keeps it, never wrapped around to a TTL of one
// second, after which the signed-in browser would find its session gone.
// (Cookies go by hand: Go's cookie jar cannot hold such a Max-Age.)
func TestRedisLoginKeepsAVeryLongMaxAge(t *testing.T) {
	const maxAge = 1 << 40 // seconds
	for _, kind := range []string{"redis", "redis-2pools"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			e.sess.Options(sessions.Options{Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			cart := e.send("POST", "/cart?item=apple", "")
			r := e.send("POST", "/login?user=alice", joinCookies(cart.cookies))
			if r.status != http.StatusOK {
				t.Fatalf("login: %d %v", r.status, r.body)
			}
			var app string
			for _, c := range r.cookies {
				if c.Name == "app" {
					app = c.Value
				}
			}
			c := e.redis.Pool().Get()
			defer c.Close()
			ttl, err := redis.Int64(c.Do("TTL", "session_"+sessionID(t, kind, app)))
			if err != nil || ttl < maxAge-60 {
				t.Fatalf("the login's session: TTL %d (%v), want about %d", ttl, err, maxAge)
			}
			if got := e.send("GET", "/cart", joinCookies(r.cookies)); got.user() != "alice" || got.body["cart"] != "apple" {
				t.Fatalf("after the login: %v", got.body)
			}
		})
	}
}

// TestLoginCarryOverNeverCrossesUsers: a login carries data only from an
// anonymous session (what Config.CarryOver accepts) or from the same
// user's own session (all of it, CarryOver or not). Alice, signed in,
// saves private data; bob signs in on the same browser without signing
// out: his session starts empty, whatever state alice's record is in and
// whichever path the data would take (the login's own read of the
// session, Redis's re-read with the marker, a double submit joining the
// first login, the cookie store's healing of alice's session cookie put
// back next to bob's token).
func TestLoginCarryOverNeverCrossesUsers(t *testing.T) {
	dropCart := func(key, _ any) bool { return key != "cart" }
	aliceWithCart := func(t *testing.T, e *env) *browser {
		t.Helper()
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK {
			t.Fatalf("alice's POST /cart: %d %v", r.status, r.body)
		}
		return b
	}
	expectCart := func(t *testing.T, r reply, user string, cart any) {
		t.Helper()
		if r.status != http.StatusOK || r.user() != user || r.body["cart"] != cart {
			t.Errorf("GET /cart: %d %v; want %s with cart %v", r.status, r.body, user, cart)
		}
	}
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("another user over a live session", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			b := aliceWithCart(t, e)
			b.login("bob")
			expectCart(t, b.get("/cart"), "bob", nil)
		})
		t.Run("another user over an ended session", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			b := aliceWithCart(t, e)
			if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
				t.Fatal(err)
			}
			b.login("bob")
			expectCart(t, b.get("/cart"), "bob", nil)
		})
		for _, order := range []string{"12", "21"} {
			t.Run("another user's double submit over a live session, applied "+order, func(t *testing.T) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				b := aliceWithCart(t, e)
				pre := b.header()
				var ls [2]reply
				for i := range ls {
					if ls[i] = e.send("POST", "/login?user=bob", pre); ls[i].status != http.StatusOK {
						t.Fatalf("bob's login %d: %d %v", i+1, ls[i].status, ls[i].body)
					}
				}
				for _, c := range order {
					b.apply(ls[c-'1'])
				}
				expectCart(t, b.get("/cart"), "bob", nil)
			})
		}
		t.Run("another user's token next to the previous user's session cookie", func(t *testing.T) {
			e := newEnv(t, kind, graceConfig(graceWindow))
			b := aliceWithCart(t, e)
			aliceSession := b.cookie("app")
			b.login("bob")
			// A straggler of alice's put her session cookie back.
			r := e.send("GET", "/cart", "app="+aliceSession+"; "+tokCookieName+"="+b.cookie(tokCookieName))
			expectCart(t, r, "bob", nil)
		})
		t.Run("another user's double submit next to the previous user's session cookie a straggler put back", func(t *testing.T) {
			bobOverAlicesStraggler(t, kind, expectCart)
		})
		t.Run("another user's double submit past the join window, the first login's session gone", func(t *testing.T) {
			carolTwinSessionGone(t, kind, expectCart)
		})
		t.Run("the same user's own session carries all of it", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{CarryOver: dropCart})
			b := aliceWithCart(t, e)
			b.login("alice")
			expectCart(t, b.get("/cart"), "alice", "alice-private")
		})
		t.Run("another user's held login over a forgotten record's session that a held write brought back", func(t *testing.T) {
			carolOverForgottenSession(t, kind, expectCart)
		})
		t.Run("an anonymous session carries what CarryOver accepts", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{CarryOver: dropCart})
			b := e.browser()
			b.post("/cart?item=guest")
			b.login("alice")
			expectCart(t, b.get("/cart"), "alice", nil)
		})
	})
}

// carolOverForgottenSession: carol's record is forgotten (past its
// retention) while a write of hers, verified when the record was live, is
// held in its handler. Her browser's next request finds the record gone
// and drops the session's data; a login of alice from that browser is
// verified then (an empty anonymous session) and held; carol's write then
// lands, bringing her data back under the session's ID; alice's login
// commits. Alice's session must not hold carol's data (DESIGN.md,
// "Carry-over").
func carolOverForgottenSession(t *testing.T, kind string, expectCart func(*testing.T, reply, string, any)) {
	var e *env
	e = newEnv(t, kind, ginsecure.Config{}, withHeldLogin(&e))
	b := e.browser()
	b.login("carol")
	if r := b.post("/cart?item=carol-private"); r.status != http.StatusOK {
		t.Fatalf("carol's POST /cart: %d %v", r.status, r.body)
	}
	pre := b.header()
	write := e.holdAt(t, "/hold?id=w&write=carol-later", "w", pre)
	e.clock.Advance(ginsecure.DefaultAbsoluteTimeout + storeext.RetainExpired + time.Minute)
	if r := b.get("/cart"); r.user() != "" || r.body["cart"] != nil {
		t.Fatalf("carol's browser after her record was forgotten: %v", r.body)
	}
	login := holdLogin(t, e, "l", "alice", pre)
	if r := write(); r.status != http.StatusOK {
		t.Logf("carol's held write: %d %v", r.status, r.body)
	}
	r := login()
	if r.status != http.StatusOK {
		t.Fatalf("alice's login: %d %v", r.status, r.body)
	}
	b.apply(r)
	expectCart(t, b.get("/cart"), "alice", nil)
}

// bobOverAlicesStraggler: alice's write is answered, its response held
// up in the network, while bob signs in over her session on the same
// browser; the response then lands, putting alice's session cookie (with
// her data) back next to bob's token. Bob submits the sign-in form twice
// from that state, both verified (healed into bob's own session) before
// either commits; the second joins the first, and its response lands
// last. Bob's session must not hold alice's data (DESIGN.md,
// "Carry-over"): on the cookie store the data travels in the cookie, and
// the payload alice's straggler put back is hers.
func bobOverAlicesStraggler(t *testing.T, kind string, expectCart func(*testing.T, reply, string, any)) {
	var e *env
	e = newEnv(t, kind, graceConfig(graceWindow), withHeldLogin(&e))
	b := e.browser()
	b.login("alice")
	late := e.send("POST", "/cart?item=alice-late", b.header()) // its answer held up
	if late.status != http.StatusOK {
		t.Fatalf("alice's POST /cart: %d %v", late.status, late.body)
	}
	b.login("bob")
	b.apply(late)
	pre := b.header()
	first := holdLogin(t, e, "l1", "bob", pre)
	second := holdLogin(t, e, "l2", "bob", pre)
	for i, release := range []func() reply{first, second} {
		r := release()
		if r.status != http.StatusOK {
			t.Fatalf("bob's login %d: %d %v", i+1, r.status, r.body)
		}
		b.apply(r)
	}
	expectCart(t, b.get("/cart"), "bob", nil)
}

// carolTwinSessionGone: carol submits the sign-in form twice over alice's
// live session, both verified before either commits. The first commits
// (carol's record, an empty session); its session is then gone from the
// session store (its record stays live); the second commits past the join
// window, finds the first login's record through the marker and carries
// that record's session as the store holds it: nothing. It must not fall
// back to what its own request was served with, alice's session
// (DESIGN.md, "Carry-over").
func carolTwinSessionGone(t *testing.T, kind string, expectCart func(*testing.T, reply, string, any)) {
	var e *env
	e = newEnv(t, kind, graceConfig(graceWindow), withHeldLogin(&e))
	b := e.browser()
	b.login("alice")
	if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK {
		t.Fatalf("alice's POST /cart: %d %v", r.status, r.body)
	}
	pre := b.header()
	first := holdLogin(t, e, "l1", "carol", pre)
	second := holdLogin(t, e, "l2", "carol", pre)
	r := first()
	if r.status != http.StatusOK {
		t.Fatalf("carol's first login: %d %v", r.status, r.body)
	}
	b.apply(r)
	// The first login's session goes (as a session store may drop one).
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", b.header())
	gs, err := e.sess.Get(req, "app")
	if err != nil {
		t.Fatal(err)
	}
	gs.Options.MaxAge = -1
	if err := e.sess.Save(req, httptest.NewRecorder(), gs); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute) // past the join window
	if r = second(); r.status != http.StatusOK {
		t.Fatalf("carol's second login: %d %v", r.status, r.body)
	}
	b.apply(r)
	expectCart(t, b.get("/cart"), "carol", nil)
}

// withHeldLogin adds POST /hold-login?id=&user=, a login held (e.holds)
// after Middleware verified it and before Login runs. e is the env being
// made (its holds exist once newEnv returns, before any request).
func withHeldLogin(e **env) envOption {
	return withRoutes(func(r *gin.Engine, _ *ginsecure.Guard) {
		r.POST("/hold-login", func(c *gin.Context) {
			x := (*e).holds.get(c.Query("id"))
			close(x.entered)
			<-x.release
			if err := ginsecure.Login(c, c.Query("user")); err != nil {
				c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
				return
			}
			c.JSON(http.StatusOK, gin.H{"user": c.Query("user")})
		})
	})
}

// holdLogin sends a held login of user with the Cookie header given and
// returns once Middleware has verified it; release lets Login run and
// returns the reply.
func holdLogin(t *testing.T, e *env, id, user, cookieHeader string) (release func() reply) {
	t.Helper()
	done := make(chan reply, 1)
	go func() {
		r, err := e.trySend("POST", "/hold-login?id="+id+"&user="+user, cookieHeader)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	if err := e.holds.waitEntered(id); err != nil {
		t.Fatal(err)
	}
	return func() reply {
		e.holds.free(id)
		return <-done
	}
}

// TestLoginCarriesWhatItsSessionHoldsNow: a login verified before its
// session moved on (a Renew of its record; a parallel login of the same
// user from the same session, more than the join window earlier) commits
// after a write into the moved session was acknowledged, and its response
// lands last: the browser reads that write (DESIGN.md, "Writes"). On the
// cookie store the data is in the cookie: last write wins there.
func TestLoginCarriesWhatItsSessionHoldsNow(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		if kind == "cookie" {
			return
		}
		expect := func(t *testing.T, b *browser) {
			t.Helper()
			if r := b.get("/cart"); r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "after" {
				t.Errorf("GET /cart after the held login landed last: %d %v; want alice with cart after", r.status, r.body)
			}
		}
		write := func(t *testing.T, b *browser, v string) {
			t.Helper()
			if r := b.post("/cart?item=" + v); r.status != http.StatusOK {
				t.Fatalf("POST /cart?item=%s: %d %v", v, r.status, r.body)
			}
		}
		t.Run("a Renew moved the session", func(t *testing.T) {
			var e *env
			e = newEnv(t, kind, ginsecure.Config{}, withHeldLogin(&e))
			b := e.browser()
			b.login("alice")
			write(t, b, "before")
			e.clock.Advance(31 * time.Second) // past the join window: the login cannot join its own record
			login := holdLogin(t, e, "l", "alice", b.header())
			if r := b.post("/renew"); r.status != http.StatusOK {
				t.Fatalf("Renew: %d %v", r.status, r.body)
			}
			write(t, b, "after")
			r := login()
			if r.status != http.StatusOK {
				t.Fatalf("held login: %d %v", r.status, r.body)
			}
			b.apply(r)
			expect(t, b)
		})
		t.Run("a parallel login committed past the join window", func(t *testing.T) {
			var e *env
			e = newEnv(t, kind, ginsecure.Config{}, withHeldLogin(&e))
			b := e.browser()
			write(t, b, "guest")
			login := holdLogin(t, e, "l", "alice", b.header())
			b.login("alice")
			write(t, b, "after")
			e.clock.Advance(31 * time.Second)
			r := login()
			if r.status != http.StatusOK {
				t.Fatalf("held login: %d %v", r.status, r.body)
			}
			b.apply(r)
			expect(t, b)
		})
	})
}

// TestLoginOverASessionAnotherUserTookStartsEmpty: two users' logins from
// one anonymous session (a shared computer, two tabs); the first to mark
// it takes the guest's data, the other starts empty, so that no two users'
// sessions are given the same guest's values (DESIGN.md, "Carry-over").
func TestLoginOverASessionAnotherUserTookStartsEmpty(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		var e *env
		e = newEnv(t, kind, ginsecure.Config{}, withHeldLogin(&e))
		b := e.browser()
		if r := b.post("/cart?item=guest"); r.status != http.StatusOK {
			t.Fatalf("POST /cart: %d %v", r.status, r.body)
		}
		login := holdLogin(t, e, "bob", "bob", b.header())
		b.login("carol")
		if r := b.get("/cart"); r.user() != "carol" || r.body["cart"] != "guest" {
			t.Fatalf("carol's login: %d %v; want carol with the guest's cart", r.status, r.body)
		}
		r := login()
		if r.status != http.StatusOK {
			t.Fatalf("bob's held login: %d %v", r.status, r.body)
		}
		b.apply(r)
		if r := b.get("/cart"); r.status != http.StatusOK || r.user() != "bob" || r.body["cart"] != nil {
			t.Errorf("GET /cart after bob's login: %d %v; want bob with an empty cart (carol's login took the guest's)", r.status, r.body)
		}
	})
}

// TestLoginOfAnotherUserEndsTheSessionARenewMoved: a login of bob,
// verified with alice's credentials before a Renew moved her session,
// commits after it and replaces her record; a write of alice's verified
// with the Renew's credentials before that login is saved after it. The
// login ends her record's own session too (the one the Renew moved to),
// so the held write is refused, never acknowledged and then hidden
// (DESIGN.md, "Endings"; "Writes"). On the cookie store a Renew keeps the
// session's identity.
func TestLoginOfAnotherUserEndsTheSessionARenewMoved(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		if kind == "cookie" {
			return
		}
		var e *env
		e = newEnv(t, kind, ginsecure.Config{}, withHeldLogin(&e))
		b := e.browser()
		b.login("alice")
		e.clock.Advance(31 * time.Second)
		login := holdLogin(t, e, "l", "bob", b.header())
		if r := b.post("/renew"); r.status != http.StatusOK {
			t.Fatalf("Renew: %d %v", r.status, r.body)
		}
		write := e.holdAt(t, "/hold?id=w&write=alice-late", "w", b.header())
		if r := login(); r.status != http.StatusOK {
			t.Fatalf("bob's held login: %d %v", r.status, r.body)
		}
		w := write()
		if w.status != http.StatusOK && (w.status != http.StatusConflict || w.body["error"] != "stale_credentials") {
			t.Errorf("alice's held write: %d %v; want 409 stale_credentials (or kept)", w.status, w.body)
		}
		if w.status == http.StatusOK {
			b.apply(w)
			if r := b.get("/cart"); r.body["cart"] != "alice-late" {
				t.Errorf("alice's held write was acknowledged after bob's login, then read back as %d %v", r.status, r.body)
			}
		}
	})
}
