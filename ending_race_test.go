package ginsecure_test

// Parallel writes racing an ending (DESIGN.md, "Endings", "Writes"): many
// writes of alice's browser are in flight while RevokeUser or a copy's
// Logout ends her record. Afterwards nobody reads a value that a write
// signed in as alice put there: each such write either landed before the
// ending (and is hidden with the rest) or was refused; only writes
// answered as anonymous visitors may be read.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

func TestParallelWritesRacingAnEndingNeverLeak(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, how := range []string{"RevokeUser", "Logout of a copy"} {
			t.Run(how, func(t *testing.T) {
				for iter := range 5 {
					e := newEnv(t, kind, graceConfig(graceWindow))
					b := e.browser()
					b.login("alice")
					b.post("/cart?item=alice-card")
					copyOf := b.clone()
					hdr := b.header()
					const n = 12
					var (
						wg      sync.WaitGroup
						mu      sync.Mutex
						asAlice = map[string]bool{}
					)
					start := make(chan struct{})
					for i := range n {
						wg.Add(1)
						go func() {
							defer wg.Done()
							<-start
							item := fmt.Sprintf("w%d-%d", iter, i)
							r, err := e.trySend("POST", "/cart?item="+item, hdr)
							if err != nil {
								t.Error(err)
								return
							}
							if r.status >= 500 {
								t.Errorf("write %s: %d %v", item, r.status, r.body)
							}
							if r.status == http.StatusOK && r.user() == "alice" {
								mu.Lock()
								asAlice[item] = true
								mu.Unlock()
							}
						}()
					}
					close(start)
					switch how {
					case "RevokeUser":
						if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
							t.Fatal(err)
						}
					default:
						if r := copyOf.post("/logout"); r.status != http.StatusOK {
							t.Fatalf("logout: %d %v", r.status, r.body)
						}
					}
					wg.Wait()
					for who, hdr := range map[string]string{"browser": hdr, "logged-out copy": copyOf.header()} {
						r := e.send("GET", "/cart", hdr)
						cart, _ := r.body["cart"].(string)
						if r.user() != "" || cart == "alice-card" || asAlice[cart] {
							t.Errorf("iteration %d, %s after the ending: %d %v; a signed-in write is read after the ending", iter, who, r.status, r.body)
						}
					}
				}
			})
		}
	})
}
