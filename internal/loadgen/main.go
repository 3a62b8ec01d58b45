// Command loadgen compares the requests per second of a small Gin app
// with and without ginsecure, over loopback only, bounded in time.
//
// It starts two servers on 127.0.0.1 (gin + gin-contrib/sessions, and the
// same plus sec.Middleware()), signs one user in on each, then hammers an
// authenticated read on them in alternating rounds (baseline, guard,
// baseline, ...) so both see the same machine, and prints requests/s and
// the built-in client's p50/p99 latency per round, the median of each per
// side and the ratios guard/baseline.
//
//	go run ./internal/loadgen -store cookie -rounds 3 -d 3s -c 8
//	go run ./internal/loadgen -store memstore -wrk   # drive with wrk if installed
//	go run ./internal/loadgen -store redis -redis /path/redis.sock
//
// With -store redis both apps keep their sessions in the redis-server at
// -redis (a unix socket path, or host:port), through one redigo pool per
// app shared by gin-contrib's store and ginsecure's (redisstore), as the
// redisstore docs recommend.
//
// scripts/load.sh runs it for both stores.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-contrib/sessions/memstore"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/gomodule/redigo/redis"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func main() {
	store := flag.String("store", "cookie", "gin-contrib session store: cookie, memstore or redis")
	flag.StringVar(&redisAddr, "redis", "", "redis-server for -store redis: a unix socket path or host:port")
	dur := flag.Duration("d", 3*time.Second, "length of one round (at most 30s)")
	rounds := flag.Int("rounds", 3, "rounds per side (at most 10)")
	conns := flag.Int("c", 8, "concurrent connections (at most 256)")
	useWrk := flag.Bool("wrk", false, "drive the servers with wrk (must be installed) instead of the built-in client")
	maxReq := flag.Int64("n", 5_000_000, "stop a round after this many requests (built-in client)")
	flag.Parse()
	if *dur <= 0 || *dur > 30*time.Second || *rounds < 1 || *rounds > 10 || *conns < 1 || *conns > 256 {
		log.Fatal("loadgen: -d must be in (0, 30s], -rounds in [1, 10], -c in [1, 256]")
	}
	gin.SetMode(gin.ReleaseMode)

	base, err := serve(baseline(*store))
	if err != nil {
		log.Fatal(err)
	}
	defer base.close()
	guarded, err := serve(withGuard(*store))
	if err != nil {
		log.Fatal(err)
	}
	defer guarded.close()
	for _, s := range []*server{base, guarded} {
		if err := s.signIn("alice"); err != nil {
			log.Fatal(err)
		}
	}

	fmt.Printf("store=%s rounds=%d d=%v c=%d driver=%s GOMAXPROCS=%d\n", *store, *rounds, *dur, *conns, driver(*useWrk), runtime.GOMAXPROCS(0))
	var rb, rg []float64
	var lat = map[*server][2][]float64{} // p50s, p99s per side (built-in client)
	for i := 0; i < *rounds; i++ {
		order := []*server{base, guarded}
		if i%2 == 1 {
			order = []*server{guarded, base}
		}
		for _, s := range order {
			var rps float64
			var p50, p99 time.Duration
			var err error
			if *useWrk {
				rps, err = runWrk(s, *dur, *conns)
			} else {
				rps, p50, p99, err = runClient(s, *dur, *conns, *maxReq)
			}
			if err != nil {
				log.Fatalf("%s: %v", s.name, err)
			}
			if *useWrk {
				fmt.Printf("round %d %-8s %10.0f req/s\n", i+1, s.name, rps)
			} else {
				fmt.Printf("round %d %-8s %10.0f req/s  p50 %8v  p99 %8v\n", i+1, s.name, rps, p50, p99)
				l := lat[s]
				l[0], l[1] = append(l[0], float64(p50)), append(l[1], float64(p99))
				lat[s] = l
			}
			if s == base {
				rb = append(rb, rps)
			} else {
				rg = append(rg, rps)
			}
		}
	}
	mb, mg := median(rb), median(rg)
	fmt.Printf("median   baseline %10.0f req/s\n", mb)
	fmt.Printf("median   guard    %10.0f req/s\n", mg)
	fmt.Printf("ratio guard/baseline req/s %.3f (time per request %.3f)\n", mg/mb, mb/mg)
	if !*useWrk {
		lb, lg := lat[base], lat[guarded]
		fmt.Printf("median   p50 baseline %v guard %v ratio %.3f\n", time.Duration(median(lb[0])), time.Duration(median(lg[0])), median(lg[0])/median(lb[0]))
		fmt.Printf("median   p99 baseline %v guard %v ratio %.3f\n", time.Duration(median(lb[1])), time.Duration(median(lg[1])), median(lg[1])/median(lb[1]))
		fmt.Printf("per-round ratios (guard ÷ the baseline of its round), median: req/s %.3f, p99 %.3f\n", median(ratios(rg, rb)), median(ratios(lg[1], lb[1])))
	} else {
		fmt.Printf("per-round ratios (guard ÷ the baseline of its round), median: req/s %.3f\n", median(ratios(rg, rb)))
	}
}

// ratios is g[i] / b[i] per round: the two sides of a round ran next to
// each other, on the same machine's moment.
func ratios(g, b []float64) []float64 {
	out := make([]float64, 0, len(g))
	for i := range min(len(g), len(b)) {
		if b[i] > 0 {
			out = append(out, g[i]/b[i])
		}
	}
	return out
}

var redisAddr string

// redisPool is one app's pool on -redis: no PING on borrow, enough idle
// connections for the load client's concurrency.
func redisPool() *redis.Pool {
	if redisAddr == "" {
		log.Fatal("loadgen: -store redis needs -redis (a unix socket path or host:port)")
	}
	network := "tcp"
	if strings.HasPrefix(redisAddr, "/") {
		network = "unix"
	}
	return &redis.Pool{MaxIdle: 64, IdleTimeout: time.Minute, Dial: func() (redis.Conn, error) {
		return redis.Dial(network, redisAddr, redis.DialConnectTimeout(time.Second),
			redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
	}}
}

func driver(wrk bool) string {
	if wrk {
		return "wrk"
	}
	return "go-client"
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sessionStore is gin-contrib's store of kind and, for Redis, its pool.
func sessionStore(kind string) (sessions.Store, *redis.Pool) {
	var st sessions.Store
	var pool *redis.Pool
	switch kind {
	case "cookie":
		st = cookie.NewStore(secret)
	case "memstore":
		st = memstore.NewStore(secret)
	case "redis":
		pool = redisPool()
		rs, err := redisstore.NewSessionStore(pool, [][]byte{secret})
		if err != nil {
			log.Fatal(err)
		}
		st = rs
	default:
		log.Fatalf("loadgen: unknown store %q (cookie, memstore or redis)", kind)
	}
	// Secure cookies as in production; the load client sends the Cookie
	// header itself, so plain HTTP on loopback is fine.
	st.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return st, pool
}

// baseline is gin + gin-contrib/sessions, the user ID kept in the session.
func baseline(kind string) (string, http.Handler) {
	st, _ := sessionStore(kind)
	r := gin.New()
	r.Use(sessions.Sessions("app", st))
	r.POST("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("uid", c.Query("user"))
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, c.Query("user"))
	})
	r.GET("/read", func(c *gin.Context) {
		uid, _ := sessions.Default(c).Get("uid").(string)
		if uid == "" {
			c.String(http.StatusUnauthorized, "")
			return
		}
		c.String(http.StatusOK, uid)
	})
	return "baseline", r
}

// withGuard is the same app behind sec.Middleware().
func withGuard(kind string) (string, http.Handler) {
	st, pool := sessionStore(kind)
	cfg := ginsecure.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if pool != nil {
		cfg.Store = redisstore.New(pool, redisstore.WithPrefix("loadgen:"))
	}
	sec, err := ginsecure.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", st), sec.Middleware())
	r.POST("/login", func(c *gin.Context) {
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, c.Query("user"))
	})
	r.GET("/read", func(c *gin.Context) {
		uid, ok := ginsecure.UserID(c)
		if !ok {
			c.String(http.StatusUnauthorized, "")
			return
		}
		c.String(http.StatusOK, uid)
	})
	return "guard", r
}

type server struct {
	name   string
	url    string
	srv    *http.Server
	cookie string
}

func serve(name string, h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	if err != nil {
		return nil, err
	}
	s := &server{name: name, url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

func (s *server) signIn(user string) error {
	resp, err := http.Post(s.url+"/login?user="+user, "text/plain", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: login: %s", s.name, resp.Status)
	}
	var parts []string
	for _, c := range resp.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	s.cookie = strings.Join(parts, "; ")
	// Check that the cookies authenticate.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/read", nil)
	req.Header.Set("Cookie", s.cookie)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusOK || string(body) != user {
		return fmt.Errorf("%s: signed-in read: %s %q", s.name, r2.Status, body)
	}
	return nil
}

// runClient is a closed-loop load client: conns goroutines, keep-alive,
// each sending the next request when the last one answered. It returns
// requests/s and the 50th and 99th percentile of the requests' latency.
func runClient(s *server, d time.Duration, conns int, maxReq int64) (float64, time.Duration, time.Duration, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var done, failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	lats := make([][]time.Duration, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, s.url+"/read", nil)
			req.Header.Set("Cookie", s.cookie)
			for time.Now().Before(deadline) && done.Load() < maxReq {
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lats[i] = append(lats[i], time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, errors.New(resp.Status))
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if f := failed.Load(); f > 0 {
		return 0, 0, 0, fmt.Errorf("%d failed requests, first: %v", f, firstErr.Load())
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	return float64(done.Load()) / el.Seconds(), pct(0.50), pct(0.99), nil
}

var wrkRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
var wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+([0-9]+)`)

// runWrk drives the server with wrk (Debian package wrk), two threads.
func runWrk(s *server, d time.Duration, conns int) (float64, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return 0, errors.New("wrk not found: apt-get install wrk, or drop -wrk")
	}
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-t", "2", "-c", strconv.Itoa(conns), "-d", strconv.Itoa(secs)+"s",
		"-H", "Cookie: "+s.cookie, s.url+"/read")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("wrk: %v\n%s", err, out.String())
	}
	if m := wrkNon2xx.FindStringSubmatch(out.String()); m != nil {
		return 0, fmt.Errorf("wrk: %s non-2xx responses", m[1])
	}
	m := wrkRPS.FindStringSubmatch(out.String())
	if m == nil {
		return 0, fmt.Errorf("wrk: no Requests/sec in output:\n%s", out.String())
	}
	return strconv.ParseFloat(m[1], 64)
}
