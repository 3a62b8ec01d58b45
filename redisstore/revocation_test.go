package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
)

var _ storeext.UserRevoker = (*redisstore.Store)(nil)

// The revocation mark is found from the record alone, whatever the user
// ID holds (quotes, backslashes, characters JSON escapes), and revokes on
// every read exactly the records created before it but the one it spares,
// with the index gone.
func TestRevokeBeforeCoversEveryEarlierRecordWithoutTheIndex(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	ctx, now := context.Background(), time.Now()
	for i, user := range []string{"alice", `a"b\c`, "<&>\u2028é", `\`, `"`} {
		t.Run(fmt.Sprintf("user%d", i), func(t *testing.T) {
			prefix := fmt.Sprintf("rb%d:", i)
			st := redisstore.New(pool, redisstore.WithPrefix(prefix))
			h := func(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
			for n := 1; n <= 3; n++ {
				if err := st.Create(ctx, liveRecord(h(n), user, now), storeext.Limit{}); err != nil {
					t.Fatal(err)
				}
			}
			c := pool.Get()
			defer c.Close()
			if n, err := c.Do("DEL", prefix+"u:"+user); err != nil || n.(int64) != 1 {
				t.Fatalf("DEL index: %v %v", n, err)
			}
			if err := st.RevokeBefore(ctx, user, h(2), storeext.RevokedByUser); err != nil {
				t.Fatal(err)
			}
			if err := st.Create(ctx, liveRecord(h(4), user, now), storeext.Limit{}); err != nil {
				t.Fatal(err)
			}
			want := map[int]string{1: storeext.RevokedByUser, 2: "", 3: storeext.RevokedByUser, 4: ""}
			for n, w := range want {
				r, err := st.Get(ctx, h(n))
				if err != nil || r.Revoked != w {
					t.Errorf("record %d after the mark: %q, %v; want %q", n, r.Revoked, err, w)
				}
			}
			// The index lists what was created since it was lost: the later
			// record (the spared one lives, unlisted: the index lost it).
			list, err := st.List(ctx, user)
			if err != nil || len(list) != 1 || list[0].Handle != h(4) {
				t.Errorf("List after the mark: %+v, %v; want the later record alone", list, err)
			}
			// The spared record must be live: one the mark covers is not.
			if err := st.RevokeBefore(ctx, user, h(3), storeext.RevokedByUser); !errors.Is(err, storeext.ErrNotFound) {
				t.Errorf("RevokeBefore sparing a revoked record: %v, want ErrNotFound", err)
			}
			if err := st.RevokeBefore(ctx, "someone else", h(4), storeext.RevokedByUser); !errors.Is(err, storeext.ErrNotFound) {
				t.Errorf("RevokeBefore sparing another user's record: %v, want ErrNotFound", err)
			}
		})
	}
}
