package ginsecure_test

// A ginsecure store that is down: requests fail closed with 503 and the
// session outlives the outage. flakyStore is the store that fails on
// demand.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
)

// flakyStore fails every call while down is set.
type flakyStore struct {
	storeext.Store
	mu   sync.Mutex
	down bool
}

var errDown = errors.New("connection refused")

// UseClock passes the Guard's clock on to the wrapped store.
func (f *flakyStore) UseClock(now func() time.Time) {
	if cu, ok := f.Store.(storeext.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (f *flakyStore) isDown() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.down }
func (f *flakyStore) set(d bool)   { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *flakyStore) Get(ctx context.Context, h string) (storeext.Record, error) {
	if f.isDown() {
		return storeext.Record{}, errDown
	}
	return f.Store.Get(ctx, h)
}
func (f *flakyStore) Create(ctx context.Context, r storeext.Record, l storeext.Limit) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.Create(ctx, r, l)
}
func (f *flakyStore) Trim(ctx context.Context, u string, max int) ([]string, error) {
	if f.isDown() {
		return nil, errDown
	}
	return f.Store.Trim(ctx, u, max)
}
func (f *flakyStore) DeleteMarker(ctx context.Context, k, h string) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.DeleteMarker(ctx, k, h)
}
func (f *flakyStore) Update(ctx context.Context, h string, fn func(*storeext.Record) error) (storeext.Record, error) {
	if f.isDown() {
		return storeext.Record{}, errDown
	}
	return f.Store.Update(ctx, h, fn)
}
func (f *flakyStore) Present(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, l storeext.Limit) (storeext.Record, []string, error) {
	if f.isDown() {
		return storeext.Record{}, nil, errDown
	}
	return f.Store.Present(ctx, held, fn, l)
}
func (f *flakyStore) Delete(ctx context.Context, h string) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.Delete(ctx, h)
}
func (f *flakyStore) List(ctx context.Context, u string) ([]storeext.Record, error) {
	if f.isDown() {
		return nil, errDown
	}
	return f.Store.List(ctx, u)
}
func (f *flakyStore) SetMarker(ctx context.Context, k string, m storeext.Marker) error {
	if f.isDown() {
		return errDown
	}
	return f.Store.SetMarker(ctx, k, m)
}
func (f *flakyStore) GetMarker(ctx context.Context, k string) (storeext.Marker, error) {
	if f.isDown() {
		return storeext.Marker{}, errDown
	}
	return f.Store.GetMarker(ctx, k)
}

// TestStoreDownFailsClosed: with the store unreachable a signed-in browser
// gets 503 (retry), never 500, never anonymous on a protected route, and
// its session survives the outage.
func TestStoreDownFailsClosed(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			fs := &flakyStore{Store: ginsecure.NewMemoryStore()}
			e := newEnv(t, kind, ginsecure.Config{}, withStore(fs))
			b := e.browser()
			b.login("alice")
			fs.set(true)
			for _, path := range []string{"/me", "/public", "/admin"} {
				r := b.get(path)
				if r.status != 503 || r.errCode() != "store_unavailable" {
					t.Fatalf("%s with store down: %d %v", path, r.status, r.body)
				}
				if hasCookie(r.cookies, tokCookieName) || hasCookie(r.cookies, "app") {
					t.Fatalf("%s: a 503 must not touch the cookies: %v", path, r.header["Set-Cookie"])
				}
			}
			anon := e.browser()
			if r := anon.post("/login?user=bob"); r.status != 503 {
				t.Fatalf("login with store down: %d %v", r.status, r.body)
			}
			if r := anon.get("/public"); r.status != 200 {
				t.Fatalf("anonymous public page with store down: %d", r.status)
			}
			fs.set(false)
			if r := b.get("/me"); r.status != 200 || r.user() != "alice" {
				t.Fatalf("after recovery: %d %v", r.status, r.body)
			}
		})
	}
}
