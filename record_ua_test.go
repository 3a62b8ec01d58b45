package ginsecure

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
)

// TestRecordKeepsOnlyTheUserAgentItStores: a record keeps at most 256
// bytes of the User-Agent, and must not keep the rest of the header alive
// through a substring: with the memory store, 200 logins with a 64 KB
// User-Agent would otherwise hold 12.8 MB for 50 KB of text.
func TestRecordKeepsOnlyTheUserAgentItStores(t *testing.T) {
	g, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const n, size = 200, 64 << 10
	recs := make([]storeext.Record, 0, n)
	before := heap()
	for range n {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/login", nil)
		c.Request.RemoteAddr = "192.0.2.1:1"
		c.Request.Header.Set("User-Agent", strings.Repeat("a", size))
		recs = append(recs, g.newRecord(c.Request, g.loginAddr(c), "alice", [32]byte{}, "h", "s", now))
	}
	grew := int64(heap()) - int64(before)
	if len(recs[0].UserAgent) != 256 {
		t.Fatalf("UserAgent kept %d bytes, want 256", len(recs[0].UserAgent))
	}
	if grew > 4<<20 {
		t.Fatalf("%d records with a 64 KB User-Agent hold %d bytes: the header is kept alive", n, grew)
	}
	runtime.KeepAlive(recs)
}
