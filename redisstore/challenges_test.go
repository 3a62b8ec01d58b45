package redisstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/dbsc"
	"github.com/ginsecure/ginsecure/internal/dbsc/challengetest"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/gomodule/redigo/redis"
)

const challengePrefix = "test:"

func TestChallengeStoreContract(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	challengetest.Run(t, func(*testing.T) dbsc.ChallengeStore {
		return redisstore.NewChallengeStore(pool, challengePrefix)
	})
}

// challenges is a dbsc.Challenges on its own pool of srv, as one server of
// a deployment has.
func challenges(srv *redistest.Server, prefix string) *dbsc.Challenges {
	return &dbsc.Challenges{Store: redisstore.NewChallengeStore(srv.Pool(), prefix), MaxOutstanding: 4}
}

// Two servers share one Redis: a challenge one issues is redeemed by the
// other, once; and the bound counts the challenges both issued.
func TestChallengeStoreSharedByTwoServers(t *testing.T) {
	srv := redistest.Start(t)
	a, b := challenges(srv, challengePrefix), challenges(srv, challengePrefix)
	ctx := context.Background()
	v, err := a.Issue(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Redeem(ctx, "s", v); err != nil {
		t.Fatalf("redeemed through the other server: %v", err)
	}
	if err := a.Redeem(ctx, "s", v); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("redeemed again through the issuing server: %v, want ErrUnknownChallenge", err)
	}
	var issued []string
	for i := range 5 {
		ch := a
		if i%2 == 1 {
			ch = b
		}
		v, err := ch.Issue(ctx, "bound")
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, v)
		time.Sleep(2 * time.Millisecond) // distinct expiries, so the earliest is known
	}
	if err := b.Redeem(ctx, "bound", issued[0]); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("earliest of 5 over a bound of 4: %v, want ErrUnknownChallenge", err)
	}
	for i, v := range issued[1:] {
		if err := a.Redeem(ctx, "bound", v); err != nil {
			t.Fatalf("challenge %d: %v", i+1, err)
		}
	}
}

// Another prefix is another deployment: it sees none of the challenges.
func TestChallengeStorePrefixesApart(t *testing.T) {
	srv := redistest.Start(t)
	a, b := challenges(srv, "one:"), challenges(srv, "two:")
	v, err := a.Issue(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Redeem(context.Background(), "s", v); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("challenge under another prefix: %v, want ErrUnknownChallenge", err)
	}
}

// 50 goroutines on two servers redeem one challenge: exactly one wins.
func TestChallengeStoreParallelRedeemAcrossServers(t *testing.T) {
	srv := redistest.Start(t)
	servers := []*dbsc.Challenges{challenges(srv, challengePrefix), challenges(srv, challengePrefix)}
	for round := range 5 {
		v, err := servers[0].Issue(context.Background(), "s")
		if err != nil {
			t.Fatal(err)
		}
		var wins, unknown atomic.Int32
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				switch err := servers[i%2].Redeem(context.Background(), "s", v); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, dbsc.ErrUnknownChallenge):
					unknown.Add(1)
				default:
					t.Errorf("redeem: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || unknown.Load() != 49 {
			t.Fatalf("round %d: %d wins, %d ErrUnknownChallenge; want 1 and 49", round, wins.Load(), unknown.Load())
		}
	}
}

// The session's key expires with its latest challenge, by Redis's clock;
// redeeming the last challenge or forgetting the session removes it.
func TestChallengeStoreKeyExpiry(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	ch := &dbsc.Challenges{Store: redisstore.NewChallengeStore(pool, challengePrefix), Lifetime: 10 * time.Minute}
	ctx := context.Background()
	pttl := func(session string) int64 {
		t.Helper()
		c := pool.Get()
		defer c.Close()
		ms, err := redis.Int64(c.Do("PTTL", challengePrefix+"c:"+session))
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	v, err := ch.Issue(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if ms := pttl("s"); ms <= 9*60*1000 || ms > 10*60*1000 {
		t.Fatalf("PTTL %d ms after a challenge of 10 minutes", ms)
	}
	if err := ch.Redeem(ctx, "s", v); err != nil {
		t.Fatal(err)
	}
	if ms := pttl("s"); ms != -2 {
		t.Fatalf("PTTL %d after the last challenge was redeemed, want -2 (no key)", ms)
	}
	if _, err := ch.Issue(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := ch.Forget(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if ms := pttl("s"); ms != -2 {
		t.Fatalf("PTTL %d after Forget, want -2 (no key)", ms)
	}
}

// A PutChallenge sent twice (its reply lost with the connection) leaves
// the set as one did: it drops no other challenge.
func TestChallengeStorePutTwice(t *testing.T) {
	srv := redistest.Start(t)
	st := redisstore.NewChallengeStore(srv.Pool(), challengePrefix)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	var hashes [][32]byte
	for i := range 4 {
		h := sha256.Sum256([]byte{byte(i)})
		hashes = append(hashes, h)
		if err := st.PutChallenge(ctx, "s", h, now, now.Add(time.Minute+time.Duration(i)*time.Second), 4); err != nil {
			t.Fatal(err)
		}
	}
	last := hashes[3]
	if err := st.PutChallenge(ctx, "s", last, now, now.Add(time.Minute+3*time.Second), 4); err != nil {
		t.Fatal(err)
	}
	for i, h := range hashes {
		if err := st.TakeChallenge(ctx, "s", h, now); err != nil {
			t.Fatalf("challenge %d after a repeated Put: %v", i, err)
		}
	}
}

// A challenge issued before Redis restarted (with its data) is redeemed
// after: the pooled connection, dead, is replaced by a fresh one.
func TestChallengeStoreRestartKeepingData(t *testing.T) {
	srv := redistest.Start(t)
	ch := challenges(srv, challengePrefix)
	ctx := context.Background()
	v, err := ch.Issue(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	srv.RestartKeepingData()
	if err := ch.Redeem(ctx, "s", v); err != nil {
		t.Fatalf("redeem after a restart: %v", err)
	}
}

// Redis stopped: every method returns an outage, told apart from an
// unknown challenge with errors.Is, and never panics; once Redis is back,
// the store works again.
func TestChallengeStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	ch := challenges(srv, challengePrefix)
	ctx := context.Background()
	v, err := ch.Issue(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	outage := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ginsecure.ErrStoreUnavailable) || errors.Is(err, dbsc.ErrUnknownChallenge) {
			t.Fatalf("%s with Redis stopped: %v, want ErrStoreUnavailable", what, err)
		}
	}
	_, err = ch.Issue(ctx, "s")
	outage("Issue", err)
	outage("Redeem", ch.Redeem(ctx, "s", v))
	outage("Forget", ch.Forget(ctx, "s"))
	srv.Restart()
	if _, err := ch.Issue(ctx, "s"); err != nil {
		t.Fatalf("Issue after Redis came back: %v", err)
	}
	if err := ch.Redeem(ctx, "s", v); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("challenge lost with a restart without data: %v, want ErrUnknownChallenge", err)
	}
}

// A caller's context that ends is an outage too, with its cause readable.
func TestChallengeStoreContextEnded(t *testing.T) {
	srv := redistest.Start(t)
	ch := challenges(srv, challengePrefix)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ch.Issue(ctx, "s")
	if !errors.Is(err, ginsecure.ErrStoreUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Issue with an ended context: %v, want ErrStoreUnavailable and context.Canceled", err)
	}
}

// PutChallenge first drops the session's expired challenges, so a set
// holds only live ones (and the bound counts only those).
func TestChallengeStorePutDropsExpired(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := redisstore.NewChallengeStore(pool, challengePrefix)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	for i := range 3 {
		if err := st.PutChallenge(ctx, "s", sha256.Sum256([]byte{byte(i)}), now, now.Add(time.Second), 16); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(time.Second)
	if err := st.PutChallenge(ctx, "s", sha256.Sum256([]byte("live")), later, later.Add(time.Minute), 16); err != nil {
		t.Fatal(err)
	}
	c := pool.Get()
	defer c.Close()
	n, err := redis.Int(c.Do("ZCARD", challengePrefix+"c:s"))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d entries after the 3 expired ones met a Put, want 1", n)
	}
}

// Redis stopped while servers issue and redeem: each call either works or
// returns an outage (never a panic, never a challenge taken as unknown
// because Redis was gone).
func TestChallengeStoreStoppedUnderLoad(t *testing.T) {
	srv := redistest.Start(t)
	servers := []*dbsc.Challenges{challenges(srv, challengePrefix), challenges(srv, challengePrefix)}
	ctx := context.Background()
	var outages atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ch, session := servers[g%2], fmt.Sprint("s", g) // a bound of 4 per session
			for {
				v, err := ch.Issue(ctx, session)
				if err == nil {
					err = servers[(g+1)%2].Redeem(ctx, session, v)
				}
				switch {
				case err == nil:
				case errors.Is(err, ginsecure.ErrStoreUnavailable) && !errors.Is(err, dbsc.ErrUnknownChallenge):
					outages.Add(1)
					return
				default:
					t.Errorf("goroutine %d: %v, want success or ErrStoreUnavailable", g, err)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	srv.Stop()
	wg.Wait()
	if outages.Load() != 8 {
		t.Fatalf("%d of 8 goroutines saw the outage", outages.Load())
	}
}
