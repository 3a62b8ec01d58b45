// Package redistest starts a private redis-server for tests: on a unix
// socket in a temporary directory, stopped by its PID when the test ends.
package redistest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Server is a running redis-server.
type Server struct {
	Socket string // unix socket path
	Dir    string
	cmd    *exec.Cmd
	t      testing.TB
	extra  []string // StartWith's arguments, kept on a restart
}

// Start starts redis-server, or skips the test when it is not installed
// (Debian package redis-server). In CI (CI=true) a missing binary fails
// instead, so CI can never skip the Redis tests silently.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith is Start with more redis-server arguments, appended to the
// defaults and kept on a restart: "--maxmemory-policy", "allkeys-lru", or
// "--rename-command", "CONFIG", "" (an empty name disables the command).
func StartWith(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found in CI: .ci/run must install the Debian package redis-server")
		}
		t.Skip("redis-server not found: install the Debian package redis-server (apt-get install redis-server) to run the Redis tests")
	}
	dir, err := os.MkdirTemp("", "ginsecure-redis-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "redis.sock")
	s := &Server{Socket: sock, Dir: dir, t: t, extra: args}
	cmd := exec.Command(bin, s.args()...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	t.Cleanup(s.stop)
	s.waitReady()
	return s
}

// args are the server's command line: a unix socket in Dir, no automatic
// snapshots, then StartWith's arguments.
func (s *Server) args() []string {
	return append([]string{
		"--port", "0", "--unixsocket", s.Socket, "--unixsocketperm", "700",
		"--dir", s.Dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning"}, s.extra...)
}

func (s *Server) waitReady() {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := redis.Dial("unix", s.Socket)
		if err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server did not answer on %s", s.Socket)
}

// Stop stops the server (by its PID) and waits for it; tests use it to
// take Redis away in the middle of a run.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
	_ = os.Remove(s.Socket)
}

// Restart starts the server again on the same socket (data is not kept).
func (s *Server) Restart() {
	s.Stop()
	_ = os.Remove(filepath.Join(s.Dir, "dump.rdb"))
	s.start()
}

// RestartKeepingData restarts the server with its data, as a Redis with
// persistence does: a SAVE, then a restart that loads the snapshot. Every
// connection open before is dead afterwards.
func (s *Server) RestartKeepingData() {
	c, err := redis.Dial("unix", s.Socket)
	if err != nil {
		s.t.Fatal(err)
	}
	_, err = c.Do("SAVE")
	c.Close()
	if err != nil {
		s.t.Fatalf("SAVE before the restart: %v", err)
	}
	s.Stop()
	s.start()
}

func (s *Server) start() {
	bin, _ := exec.LookPath("redis-server")
	cmd := exec.Command(bin, s.args()...)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("restart redis-server: %v", err)
	}
	s.cmd = cmd
	s.waitReady()
}

func (s *Server) stop() {
	s.Stop()
	_ = os.RemoveAll(s.Dir)
}

// Pool returns a redigo pool on the server, closed when the test ends.
// Connections are not PINGed on borrow (one round trip saved per request).
func (s *Server) Pool() *redis.Pool {
	p := &redis.Pool{
		MaxIdle:     16,
		IdleTimeout: time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.Dial("unix", s.Socket,
				redis.DialConnectTimeout(time.Second),
				redis.DialReadTimeout(2*time.Second),
				redis.DialWriteTimeout(2*time.Second))
		},
	}
	s.t.Cleanup(func() { _ = p.Close() })
	return p
}

// CommandStats returns the calls per command from INFO commandstats.
func (s *Server) CommandStats() map[string]int64 {
	c, err := redis.Dial("unix", s.Socket)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	info, err := redis.String(c.Do("INFO", "commandstats"))
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := sc.Text()
		// cmdstat_get:calls=3,usec=...
		if !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		name, rest, _ := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		var calls int64
		fmt.Sscanf(rest, "calls=%d", &calls)
		out[name] = calls
	}
	return out
}

// ResetStats zeroes INFO commandstats.
func (s *Server) ResetStats() {
	c, err := redis.Dial("unix", s.Socket)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do("CONFIG", "RESETSTAT"); err != nil {
		s.t.Fatal(err)
	}
}
