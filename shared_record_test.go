package ginsecure_test

// The record GetWithSession hands the Guard is the redisstore memo's,
// shared with every concurrent request of the session (session_redis.go,
// redisstore/memo.go): the Guard must never modify it, nor its slices,
// nor keep it and change it later. sharedRecordStore snapshots each record
// handed out and TestRedisSharedRecordIsNeverModified checks, after a
// workload of parallel requests through every path that reads it (touch,
// rotation, resend of a pending token, stale tokens, Renew, a login over
// the session, Logout), that every one is still what it was.

import (
	"context"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
)

type sharedRecordStore struct {
	*failingStore
	mu   sync.Mutex
	seen map[*storeext.Record]storeext.Record // handed out -> deep copy at the time
}

func (s *sharedRecordStore) GetWithSession(ctx context.Context, h, sk string) (*storeext.Record, []byte, error) {
	rec, v, err := s.failingStore.GetWithSession(ctx, h, sk)
	if rec != nil {
		cp := rec.Clone()
		s.mu.Lock()
		if _, ok := s.seen[rec]; !ok {
			s.seen[rec] = cp
		}
		s.mu.Unlock()
	}
	return rec, v, err
}

// changed reports the records handed out that no longer equal their
// snapshot.
func (s *sharedRecordStore) changed() (n, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, cp := range s.seen {
		if !reflect.DeepEqual(*p, cp) {
			n++
		}
	}
	return n, len(s.seen)
}

func TestRedisSharedRecordIsNeverModified(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := &sharedRecordStore{
		failingStore: &failingStore{Store: redisstore.New(pool, redisstore.WithPrefix("gs:"))},
		seen:         map[*storeext.Record]storeext.Record{},
	}
	cfg := graceConfig(graceWindow)
	cfg.Store = st
	e := newEnv(t, "redis", cfg, withRedis(srv), withPool(pool))

	br := e.browser()
	if r := br.login("alice"); r.status != http.StatusOK {
		t.Fatalf("login: %d %v", r.status, r.body)
	}
	parallel := func(b *browser, paths ...string) {
		t.Helper()
		hdr := b.header()
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := paths[i%len(paths)]
				m := http.MethodGet
				if p == "/me/write" || p == "/cart?item=x" {
					m = http.MethodPost
				}
				e.send(m, p, hdr)
			}()
		}
		wg.Wait()
	}
	old := br.clone()
	for round := range 4 {
		parallel(br, "/me", "/public", "/me/write", "/cart?item=x")
		br.get("/me")
		e.clock.Advance(2 * time.Minute) // touches
		parallel(br, "/me", "/public")
		e.clock.Advance(graceRotateEvery) // a rotation, with its pending token
		parallel(br, "/me", "/silent", "/me/write")
		parallel(old, "/me", "/public") // stragglers: resend, grace, replay
		if round == 1 {
			br.post("/renew")
		}
		old = br.clone()
		br.get("/me")
	}
	// A login over the session retires the record read with it, and a
	// second browser's requests race Logout.
	if r := br.login("alice"); r.status != http.StatusOK {
		t.Fatalf("second login: %d %v", r.status, r.body)
	}
	parallel(br, "/me", "/public")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); parallel(br.clone(), "/me", "/me/write") }()
	br.post("/logout")
	wg.Wait()

	n, total := st.changed()
	if total == 0 {
		t.Fatal("no record was read with its session: the test proves nothing")
	}
	if n != 0 {
		t.Fatalf("%d of %d records handed out by GetWithSession were modified after the fact", n, total)
	}
	t.Logf("%d shared records handed out, none modified", total)
}
