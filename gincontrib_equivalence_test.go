package ginsecure_test

// The same sequences of session operations through gin-contrib alone and
// through the Guard, anonymous and signed in, on every store, compared
// request by request: the values read, Save's errors, the status, the
// session cookie's Set-Cookie attributes and the Redis key's TTL. Every
// difference is one README lists ("Differences from gin-contrib/sessions").

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-contrib/sessions/memstore"
	gredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/gomodule/redigo/redis"
)

// opRoute runs the operations of ?ops= (separated by ","), each one of
// get:K, set:K=V, del:K, clear, opt:MAXAGE, flash:V, flashes, save, id,
// and answers what each gave, in order.
func opRoute(c *gin.Context) {
	s := sessions.Default(c)
	var out []string
	for _, op := range strings.Split(c.Query("ops"), ",") {
		name, arg, _ := strings.Cut(op, ":")
		switch name {
		case "get":
			out = append(out, fmt.Sprint(s.Get(arg)))
		case "set":
			k, v, _ := strings.Cut(arg, "=")
			s.Set(k, v)
		case "del":
			s.Delete(arg)
		case "clear":
			s.Clear()
		case "opt":
			n, _ := strconv.Atoi(arg)
			s.Options(sessions.Options{Path: "/", MaxAge: n, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		case "flash":
			s.AddFlash(arg)
		case "flashes":
			out = append(out, fmt.Sprint(s.Flashes()))
		case "save":
			err := s.Save()
			switch {
			case err == nil:
				out = append(out, "saved")
			default:
				out = append(out, "save error: "+ginsecure.ErrorCode(err))
			}
		case "id":
			out = append(out, strconv.FormatBool(s.ID() != ""))
		}
	}
	c.JSON(http.StatusOK, gin.H{"out": strings.Join(out, " | ")})
}

// plainEnv is gin-contrib alone on the store kind: the same session
// options as newEnv's, a sign-in that keeps the user in the session (the
// gin-contrib way), and the op route.
func plainEnv(t *testing.T, kind string, guarded *env) *env {
	var st sessions.Store
	switch kind {
	case "cookie":
		st = cookie.NewStore(sessionSecret)
	case "memstore":
		st = memstore.NewStore(sessionSecret)
	default:
		var err error
		if st, err = gredis.NewStoreWithPool(guarded.redis.Pool(), sessionSecret); err != nil {
			t.Fatal(err)
		}
	}
	st.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	r := gin.New()
	r.Use(sessions.Sessions("app", st))
	r.POST("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("user_id", c.Query("user"))
		if err := s.Save(); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": c.Query("user")})
	})
	r.GET("/op", opRoute)
	srv := httptest.NewUnstartedServer(r)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &env{t: t, kind: kind, srv: srv, clock: newClock(), events: &eventLog{}, redis: guarded.redis, sess: st}
}

// cookieAttrs describes the session cookie a reply set: "none", or its
// lifetime and attributes (never its value, which differs by design).
func cookieAttrs(r reply) string {
	for _, c := range r.cookies {
		if c.Name != "app" {
			continue
		}
		life := "session"
		switch {
		case c.MaxAge < 0:
			life = "expired"
		case c.MaxAge > 0:
			life = "max-age=" + strconv.Itoa(c.MaxAge)
		}
		return fmt.Sprintf("%s path=%s secure=%v httponly=%v samesite=%v", life, c.Path, c.Secure, c.HttpOnly, c.SameSite)
	}
	return "none"
}

// cookieSize is the length of the session cookie's Set-Cookie line, in
// bytes, rounded to 8 (an encoding's timestamp varies a little).
func cookieSize(r reply) string {
	for _, l := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(l, "app=") {
			return strconv.Itoa((len(l) + 4) / 8 * 8)
		}
	}
	return "none"
}

// redisTTL is the TTL of the Redis key of the browser's session cookie,
// in tens of seconds ("-" without one, "gone" when the key is missing).
func redisTTL(t *testing.T, e *env, b *browser) string {
	if !isRedis(e.kind) {
		return "-"
	}
	v := b.cookie("app")
	if v == "" {
		return "no cookie"
	}
	conn := e.redis.Pool().Get()
	defer conn.Close()
	ttl, err := redis.Int(conn.Do("TTL", "session_"+sessionID(t, e.kind, v)))
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 0 {
		return "gone"
	}
	return strconv.Itoa((ttl + 5) / 10 * 10)
}

// equivalenceSequences: each request is one ?ops= list.
var equivalenceSequences = map[string][]string{
	"set-get-delete":   {"set:a=1,save", "get:a", "del:a,save", "get:a"},
	"clear-empty":      {"clear,save", "get:a"},
	"clear-values":     {"set:a=1,save", "clear,save", "get:a"},
	"maxage-short":     {"set:a=1,opt:60,save", "get:a"},
	"maxage-minus-one": {"set:a=1,save", "opt:-1,save", "get:a"},
	"maxage-zero":      {"set:a=1,save", "opt:0,save", "get:a"},
	"flashes":          {"flash:x,flash:y,save", "flashes,save", "flashes"},
	"id":               {"id", "set:a=1,save,id", "id"},
	"unsaved":          {"get:a", "set:a=1", "get:a"},
	"several":          {"set:a=1,save", "set:b=2,save", "get:a,get:b", "del:a,set:b=3,save", "get:a,get:b"},
}

// equivalenceDifference is a difference README names: where it shows
// ("" matches any sequence, mode or compared field; stores by prefix:
// "redis" both Redis kinds) and the README phrase that documents it.
type equivalenceDifference struct {
	seq, mode, store, what string
	readme                 string
}

var equivalenceDifferences = []equivalenceDifference{
	{"", "anonymous", "cookie", "cookie size", "(`gsec.s`, about 90 bytes more in the cookie"},
	{"maxage-zero", "signed-in", "redis", "", "A signed-in session saved with `MaxAge` 0 on Redis"},
}

func (d equivalenceDifference) matches(seq, mode, store, what string) bool {
	return (d.seq == "" || d.seq == seq) && (d.mode == "" || d.mode == mode) &&
		strings.HasPrefix(store, d.store) && (d.what == "" || d.what == what)
}

func TestGinContribEquivalence(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(equivalenceSequences))
	for n := range equivalenceSequences {
		names = append(names, n)
	}
	sort.Strings(names)
	forEachStore(t, func(t *testing.T, kind string) {
		guarded := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, _ *ginsecure.Guard) { r.GET("/op", opRoute) }))
		plain := plainEnv(t, kind, guarded)
		for _, mode := range []string{"anonymous", "signed-in"} {
			for _, name := range names {
				pb, gb := plain.browser(), guarded.browser()
				if mode == "signed-in" {
					pb.post("/login?user=alice")
					gb.login("alice")
				}
				for i, ops := range equivalenceSequences[name] {
					pr, gr := pb.get("/op?ops="+ops), gb.get("/op?ops="+ops)
					where := fmt.Sprintf("%s/%s/%s/%d", name, mode, kind, i+1)
					cmp := func(what, p, g string) {
						if p == g {
							return
						}
						d := fmt.Sprintf("%s %s: gin-contrib %q, Guard %q", where, what, p, g)
						for _, x := range equivalenceDifferences {
							if x.matches(name, mode, kind, what) {
								if !strings.Contains(string(readme), x.readme) {
									t.Errorf("README does not document %s (%q)", d, x.readme)
								}
								return
							}
						}
						t.Errorf("an undocumented difference: %s", d)
					}
					cmp("status", strconv.Itoa(pr.status), strconv.Itoa(gr.status))
					cmp("results", fmt.Sprint(pr.body["out"]), fmt.Sprint(gr.body["out"]))
					cmp("session cookie", cookieAttrs(pr), cookieAttrs(gr))
					cmp("redis ttl", redisTTL(t, plain, pb), redisTTL(t, guarded, gb))
					if mode == "anonymous" {
						// Signed in, the app's own user key and the
						// record's handle differ in size by design.
						cmp("cookie size", cookieSize(pr), cookieSize(gr))
					}
				}
			}
		}
	})
}
