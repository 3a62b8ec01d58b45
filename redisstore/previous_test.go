package redisstore_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/ginsecure/ginsecure/storetest"
	"github.com/gomodule/redigo/redis"
)

// previousStore is a Store whose records are put back into the previous
// release's encoding (redistest.PreviousRecord) after every call that
// writes one: every read, compare-and-set and script then meets a record
// as a deploy finds those already in Redis. Its writes are serialised
// (mu): a rewrite between another writer's read and its compare-and-set
// would be one more concurrent change to retry on, which no deploy makes.
type previousStore struct {
	*redisstore.Store
	t      testing.TB
	pool   *redis.Pool
	prefix string
	mu     *sync.Mutex
}

// rewriteScript: KEYS[1] a record key. ARGV: its value as read, the value
// to write. Writes only over the value read, keeping the TTL.
var rewriteScript = redis.NewScript(1, `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`)

// downgrade rewrites every record of the store into the previous
// encoding, and ends the write that locked mu.
func (p previousStore) downgrade() {
	defer p.mu.Unlock()
	c := p.pool.Get()
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", p.prefix+"r:*"))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, k := range keys {
		v, err := redis.Bytes(c.Do("GET", k))
		if err == redis.ErrNil {
			continue
		}
		if err != nil {
			p.t.Fatal(err)
		}
		old, err := redistest.PreviousRecord(v)
		if err != nil {
			p.t.Fatalf("%s: %v: %s", k, err, v)
		}
		if _, err := rewriteScript.Do(c, k, v, old); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p previousStore) Create(ctx context.Context, r storeext.Record, l storeext.Limit) error {
	p.mu.Lock()
	defer p.downgrade()
	return p.Store.Create(ctx, r, l)
}

func (p previousStore) Update(ctx context.Context, h string, fn func(*storeext.Record) error) (storeext.Record, error) {
	p.mu.Lock()
	defer p.downgrade()
	return p.Store.Update(ctx, h, fn)
}

func (p previousStore) UpdateHeld(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error) (storeext.Record, error) {
	p.mu.Lock()
	defer p.downgrade()
	return p.Store.UpdateHeld(ctx, held, fn)
}

func (p previousStore) Present(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, l storeext.Limit) (storeext.Record, []string, error) {
	p.mu.Lock()
	defer p.downgrade()
	return p.Store.Present(ctx, held, fn, l)
}

func (p previousStore) Trim(ctx context.Context, user string, max int) ([]string, error) {
	p.mu.Lock()
	defer p.downgrade()
	return p.Store.Trim(ctx, user, max)
}

// recordKey matches the record keys of the test's stores (not a mark of a
// user whose ID starts with "r:").
var recordKey = regexp.MustCompile(`^pv[0-9]+:r:`)

// TestRedisStoreKeepsTheContractOnRecordsOfThePreviousEncoding: a deploy
// finds records of the previous release's encoding in Redis (the token's
// hash in hex, every time written out): the store reads them, writes over
// them and runs its scripts on them as on its own, under the whole
// contract. A record it writes is in the current encoding.
func TestRedisStoreKeepsTheContractOnRecordsOfThePreviousEncoding(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) storeext.Store {
		prefix := fmt.Sprintf("pv%d:", n.Add(1))
		return previousStore{Store: redisstore.New(pool, redisstore.WithPrefix(prefix)), t: t, pool: pool, prefix: prefix, mu: new(sync.Mutex)}
	})
	assertPreviousEncoding(t, pool)
}

// TestRedisStoreKeepsTheContractWritingThePreviousEncoding: with
// WithPreviousEncoding (a rolling upgrade's first step) the store keeps
// the contract, and every record it leaves is of the previous encoding,
// which the servers not yet upgraded read.
func TestRedisStoreKeepsTheContractWritingThePreviousEncoding(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	var n atomic.Int64
	storetest.Run(t, func(*testing.T) storeext.Store {
		return redisstore.New(pool, redisstore.WithPrefix(fmt.Sprintf("pv%d:", n.Add(1))), redisstore.WithPreviousEncoding())
	})
	assertPreviousEncoding(t, pool)
}

// assertPreviousEncoding fails unless every record of the test's stores
// (prefix pv<n>:) is of the previous encoding.
func assertPreviousEncoding(t *testing.T, pool *redis.Pool) {
	t.Helper()
	c := pool.Get()
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "pv*:r:*"))
	if err != nil || len(keys) == 0 {
		t.Fatalf("no records left to look at (%v): the check would prove nothing", err)
	}
	for _, k := range keys {
		if !recordKey.MatchString(k) {
			continue
		}
		v, _ := redis.String(c.Do("GET", k))
		if !strings.Contains(v, `"seen":`) || !strings.Contains(v, `"ti":`) {
			t.Fatalf("%s is not of the previous encoding: %s", k, v)
		}
	}
}
