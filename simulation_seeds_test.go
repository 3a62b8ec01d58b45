package ginsecure_test

// Seeds the simulation found, one or two per fault class, replayed with
// every check on once their fault is fixed. Until then each is skipped
// with the flag that runs it (knownFaults, simulation_test.go, is the one
// place that says which faults are open): -sim.check.<class> or
// -sim.strict shows the fault's first failing step and trace.

import (
	"fmt"
	"testing"
)

// simSeedCase is a seed that stopped at a known fault on a store kind and
// server count.
type simSeedCase struct {
	class   faultClass
	kind    string
	servers int
	seed    uint64
}

var simSeedCases = []simSeedCase{
	{faultRevokedData, "redis", 2, 625483381282632813},
	{faultRevokedData, "cookie", 1, 9174953698760580765},
	{faultCarryOver, "memstore", 2, 5998312371174296219},
	{faultLateReplay, "memstore", 2, 6806277887274048547},
	{faultLateReplay, "cookie", 1, 6298040329522922705},
	{faultRenew, "redis", 1, 6353437311727659697},
	{faultLostWrite, "redis-2pools", 2, 878037102263383607},
	{faultLostWrite, "memstore", 1, 2900109084500076291},
	{faultOlderToken, "memstore", 2, 6126784945650124995},
	{faultIPLock, "memstore", 1, 2},
	{faultCookielessEvict, "memstore", 1, 3842640330202693073},
	{faultGinLogout, "redis", 2, 5492327220847495703},
	{faultCookieGone, "memstore", 1, 3517502136156355863},
	{faultTossed, "redis", 1, 3},
	{faultLateSession, "memstore", 2, 6534049680968657811},
	{faultStaleRevoke, "memstore", 1, 7288396516843505995},
}

// TestSimulationSeeds replays the seeds of simSeedCases. A seed whose
// fault is still open is skipped, naming the flag that runs it; one whose
// fault is fixed runs with every check on and must pass.
func TestSimulationSeeds(t *testing.T) {
	reds := map[string]*simRedis{}
	for _, c := range simSeedCases {
		t.Run(fmt.Sprintf("%s/%s/%d/%d", c.class, c.kind, c.servers, c.seed), func(t *testing.T) {
			if !checkOn(c.class) {
				t.Skipf("known fault %s is open (knownFaults); run it with -sim.check.%s or -sim.strict", c.class, c.class)
			}
			var rd *simRedis
			if isRedis(c.kind) {
				key := fmt.Sprintf("%s/%d", c.kind, c.servers)
				if reds[key] == nil {
					reds[key] = newSimRedis(t, c.kind, c.servers)
				}
				rd = reds[key]
			}
			res := runSimSeed(t, rd, c.kind, c.servers, c.seed)
			st := simStats{firstSeed: map[faultClass]string{}}
			reportSim(t, c.kind, c.servers, c.seed, res, &st)
		})
	}
}
