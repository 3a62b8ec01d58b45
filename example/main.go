// Command example is a small Gin application that shows every ginsecure
// feature: sign-in with session ID regeneration, IP binding, the grace
// period for parallel requests across a rotation, "where you're signed in"
// with revocation, and an admin group with a stricter policy.
//
//	go run ./example                          # http://localhost:8080
//	go run ./example -redis 127.0.0.1:6379    # run two on two -addr ports: they share sessions
//
// It serves plain HTTP on localhost by default: browsers treat
// http://localhost as a secure context and accept the Secure and __Host-
// cookies from it. Anywhere else, pass -tls-cert and -tls-key.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

func main() {
	var opts options
	addr := flag.String("addr", envOr("EXAMPLE_ADDR", "localhost:8080"), "listen address (env EXAMPLE_ADDR)")
	flag.StringVar(&opts.Redis, "redis", os.Getenv("EXAMPLE_REDIS"), "Redis host:port or unix:/path/to/socket: keep sessions and security records in Redis, shared by every instance (env EXAMPLE_REDIS)")
	flag.StringVar(&opts.Secret, "secret", os.Getenv("EXAMPLE_SECRET"), "session cookie signing key (env EXAMPLE_SECRET); default random, stored in Redis with -redis")
	flag.DurationVar(&opts.Grace, "grace", 2*time.Second, "grace period for requests still carrying rotated credentials")
	flag.DurationVar(&opts.Rotate, "rotate", 10*time.Second, "rotate credentials this often on ordinary traffic (short, for the demo)")
	flag.DurationVar(&opts.AdminAuthAge, "admin-auth-age", 5*time.Minute, "the admin console asks for the password again after this")
	flag.StringVar(&opts.Origin, "origin", os.Getenv("EXAMPLE_ORIGIN"), "the app's public origin, e.g. https://app.example.com, that sign-in and sign-out forms must come from (env EXAMPLE_ORIGIN); default: the request's scheme and Host")
	certFile := flag.String("tls-cert", "", "TLS certificate file (serve HTTPS)")
	keyFile := flag.String("tls-key", "", "TLS key file")
	quiet := flag.Bool("quiet", false, "log security events from Info up: hide rotations and grace-served requests")
	flag.Parse()

	level := slog.LevelDebug
	if *quiet {
		level = slog.LevelInfo
	}
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts.AccessLog = true
	gin.SetMode(gin.ReleaseMode)
	if (*certFile == "") != (*keyFile == "") {
		fatal(errors.New("-tls-cert and -tls-key go together"))
	}
	opts.DeviceBinding = *certFile != "" // DBSC needs HTTPS the browser trusts

	a, err := newApp(opts)
	if err != nil {
		fatal(err)
	}
	defer a.close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fatal(err)
	}
	srv := &http.Server{Handler: a.engine, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
	}
	fmt.Printf("ginsecure example: %s://%s\n", scheme, displayAddr(ln.Addr()))
	if opts.Redis != "" {
		fmt.Printf("  sessions in Redis at %s: start another with a different -addr to share them\n", opts.Redis)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if *certFile != "" {
		err = srv.ServeTLS(ln, *certFile, *keyFile)
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		fatal(err)
	}
}

// displayAddr prints loopback as "localhost": the name browsers treat as a
// secure context, so that Secure cookies work over plain HTTP.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP.IsLoopback() || tcp.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return a.String()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "example:", err)
	os.Exit(1)
}
