package ginsecure_test

// The simulation (DESIGN.md, "Simulation"): seeded random sequences of
// browsers, a thief, parallel and held requests, lost and late responses,
// logins, logouts, revokes, address changes and clock moves, driven
// through real Guards on every store kind with one and two servers, and
// checked after every step against a reference model
// (simulation_model_test.go).
//
//	go test -run TestSimulation .                                    # fixed seeds + the same generated ones each run: about 45 s under -race
//	go test -run '^TestSimulation$/^memstore$/^1$' -sim.seed=N -v    # replay one seed, print its trace
//	go test -run '^TestSimulation$' -sim.long=10m                   # new seeds for ten minutes
//	go test -run TestSimulation -sim.strict                          # every check on, known faults included
//	go test -run TestSimulation -sim.check.gin-logout                # one known fault's check on

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

var (
	simSeed   = flag.Uint64("sim.seed", 0, "simulation: replay only this seed (with -run naming the store kind and servers)")
	simLong   = flag.Duration("sim.long", 0, "simulation: run new seeds for this long in total, instead of the default budget")
	simBudget = flag.Duration("sim.budget", 5*time.Second, "simulation: time for new seeds per store kind and server count, after the fixed seeds")
	simStrict = flag.Bool("sim.strict", false, "simulation: every check on, the known faults' included")
	simTrace  = flag.Bool("sim.trace", false, "simulation: print every sequence's trace")
	simSteps  = flag.Int("sim.steps", 70, "simulation: random steps per sequence (before the final settling)")
)

// faultClass names a known fault a check may find: a violation is
// classified by what the model knows about its context; "" is none.
type faultClass string

const (
	faultRevokedData     faultClass = "revoked-data"
	faultCarryOver       faultClass = "carry-over"
	faultLateReplay      faultClass = "late-replay"
	faultRenew           faultClass = "renew-misreports"
	faultLostWrite       faultClass = "lost-write"
	faultOlderToken      faultClass = "older-token"
	faultIPLock          faultClass = "ip-lock"
	faultCookielessEvict faultClass = "cookieless-evict"
	faultGinLogout       faultClass = "gin-logout"
	faultCookieGone      faultClass = "cookie-gone"
	faultTossed          faultClass = "tossed"
	faultStaleExpiry     faultClass = "stale-session-expiry"
	faultLateSession     faultClass = "late-session-cookie"
	faultStaleRevoke     faultClass = "stale-revoke-others"
	faultSignInExpired   faultClass = "sign-in-expired"
	faultUndecided       faultClass = "undecided"
	faultTwoPoolsUndo    faultClass = "two-pools-undo"
	faultBoundCopy       faultClass = "bound-copy"
)

// knownFault is one row of the known-fault table.
type knownFault struct {
	class   faultClass
	inv     string // the invariant whose check finds it
	fault   string // what the check finds
	rule    string // the rule whose fix switches the check back on
	waiting bool   // the fault is still open: the check is off unless -sim.check.<class> or -sim.strict
}

// knownFaults is THE one place where checks that fail on a known fault are
// switched off. A check is never deleted or loosened: when the fix of a
// row merges, set its waiting to false (or delete the row).
var knownFaults = []knownFault{
	{faultRevokedData, "4 data isolation", "an acknowledged write is read back empty once the model attributes an ending to its session (a revoke, an eviction). Fixed: redis-2pools/2 seed 9002233103884821043 step 67 (a late rotating response of a record a double-submitted login replaced was not forwarded once the joined token had been presented: TestForwardSurvivesAPresentedDoubleSubmittedLogin); model gaps fixed: memstore/2 seed 7008333625944913489 (RevokeOthers of a browser whose sign-in the model had forgotten), cookie/1 seed 1948543383591224073 (data re-learnt from a write whose credentials the browser no longer held). Fixed on memstore: memstore/1 seed 764050480281671193 step 91 (after RevokeSession, the revoked browser's anonymous write into its emptied session was acknowledged; a signed-in write held from before the revoke then saved, found the tombstone and undid itself by deleting the session, the anonymous write with it; where the markers are in process, the embedded memory store, a session write is now checked against its marker before it writes, as on the shared Redis, and a stale one refused without writing: TestEndedSessionStaleWriteKeepsALaterWrite); model gap fixed: memstore/2 seed 8167491542357429751 step 55 (a thief holding the browser's session cookie from an earlier theft wrote into the emptied session both share after the ending; the thief's write now forgets every party holding that session cookie, DESIGN.md, 'Carry-over'). On Redis with two pools (session writes checked after they are saved) the same undo deletes the session, and an anonymous write acknowledged after the ending goes with it: a documented limit, classed two-pools-undo (its row), so this check runs on every store. Green: go test -run TestSimulation -count=1 -sim.check.lost-write -sim.check.cookieless-evict -sim.check.revoked-data -sim.long=150s . passed (9828 sequences), as did the default simulation with those three checks on. Model gap, once undecided: cookie/1 seed 2601430577973471169 step 87 (a login's response applied five minutes after its answer, with a read of the browser in flight: the record, never presented, had ended after UnpresentedAge ('Cookieless sign-in') and the data the login carried with it ('Endings'); the model, unsure of the sign-in, never asked whether the record had outlived its wait, and expected the carried cart). Fixed: memstore/2 seed 1029575118826378055 step 89 (a library fault: a login of another user, verified before a Renew moved the replaced record's session, retired the record but left the moved session unmarked, so a write verified before the login was acknowledged into it and hidden with the record; TestLoginOfAnotherUserEndsTheSessionARenewMoved)", "Every ending is the same ending", false},
	{faultCarryOver, "4 data isolation", "a login over another user's session carries that user's data into the new user's session: fixed for live, ended and replaced sessions (TestLoginCarryOverNeverCrossesUsers), and fixed after a clock move past the record's retention, where a write of the previous user held across the ending brought the data back before another user's held login committed (memstore/2 seed 6612911765443914631, step 99: alice served carol's data; TestLoginCarryOverNeverCrossesUsers, forgotten record). Fixed on the cookie store: a double-submitted login of bob, verified with bob's token next to alice's session cookie that her write's late response had put back (healed), joined its twin and carried the cookie's payload, alice's (cookie/2 seed 6006088738087041603 step 85; TestLoginCarryOverNeverCrossesUsers, straggler put back). Fixed: a double submit of carol over alice's session, the second past the join window, carried alice's data when the first login's session was gone (redis/1 seed 1674609825792669457 step 77; TestLoginCarryOverNeverCrossesUsers, first login's session gone). Green over -sim.long=4m", "Carry-over only from an anonymous session or the same user's own", false},
	{faultLateReplay, "2 sign-in survives", "a late response of a record a login of the same browser replaced lands after the login's and the browser is signed out. Fixed: a periodic rotation's token the browser had presented, within the login's window (memstore/1 seed 6402777151317173339, TestForwardPresentedRotationTokenLandingAfterLogin); a replaced record's token never presented (memstore/2 seed 1253394740491386863, TestForwardUnpresentedRenewTokenLandingAfterLogin); a joined login the browser presented (cookie/2 seed 5320721262880745905, TestForwardIntoAJoinedLoginTheBrowserPresented). Fixed: a Renew's response among many joined logins (memstore/2 seed 2895610184843693485 step 99): records A, B, C, each login replacing the previous; B's forwarded token, never presented, landed next to the session cookie of A that B's own login replaced (a straggler healed from the pre-Renew pair put it back), and was read as expired; it is forwarded to C now (TestForwardFromTheSessionItsLoginReplaced). redis-2pools/1 seed 3760643660753155303 step 77 (a late response after two later logins) no longer reproduces: the sequence the seed draws changed since the run that found it, and it passes on main too. Green over two -sim.long=90s runs; a third, after merging main, found redis/2 seed 1947104166962220591 step 51 (fails on main too): two joined logins, the browser holds the earlier token (never presented), a request with it is a late response answered with the current token, the browser presents the current token and signs in again, and that late request's answer (verified before the re-login, answered after it) lands last: the replaced record's presented current token next to the new login's session is dead by the rules (a copy taken before the re-login holds the same bytes: TestForwardNeedsATokenTheBrowserNeverPresented), so the browser is signed out. Forwarding it within the login's window, as a periodic rotation's resent token is, makes that thief's copy pass (tried, red); fixed: the answer's token is decided again as the response goes out and not sent once a login replaced the record (one record read, only for responses that send a token again: TestLateAnswerAfterReLoginSendsNoReplacedToken). The default run passes with this check on; a -sim.long=90s -sim.check.late-replay -sim.check.cookieless-evict=false run then found cookie/1 seed 3058264180579589039 step 59 (fails without the fix too): a Renew's response, answered before two re-logins of the browser (each replacing the previous record) and landing after both, puts back a token of a record whose successor was replaced too, so nothing is forwarded (README 'Known limits': marker chains are one step long): a model gap, as sign-in-expired's memstore/1 seed 2170060667699695797, fixed (the model forgets a browser that applies a token of a record two logins replaced). A -sim.long=90s run with this check then found nothing new (0 failures), but a further 90s run with lost-write on too found memstore/1 seed 6136984976391234107 step 87 (a settled browser read as replay; fails without the fix too): a library fault, fixed. A Renew on the request that rotated the token on its way in (RotateEvery passed) recorded the rotation's token, which the browser never presented, as presented by its request; a request of the browser still on the token before it, verified before the browser presented the Renew's token, was sent the rotation's token again (the pending token), and its presentation after the window was read as a replay that revoked the session. Renew now records a token its own request minted as never presented, keyed so that the current token is sealed to it: its first presentation is a late response (TestRenewOnTheRotatingRequestLateResendIsNoReplay, every store). With that fix a -sim.long=60s run with this check and undecided on found nothing new, but a -sim.long=90s run with this check on then found memstore/1 seed 3588641416372172197 step 44 (fails on main too; once undecided), a model gap: record B, two Renews of it (the second's response kept back), then login C on B's renewed token and session; a login of the browser held since before both Renews commits after C as a record of its own, D, and retires B again, naming D its successor (retireReplaced: the newest login); the second Renew's response lands last: B's never-presented token next to the session C's login marked, which is neither D's nor marked by D or B, so it is not forwarded (DESIGN.md 'Grace period', forwarding, names the session cookies a forward accepts) and the browser is anonymous. A record names one successor, as marker chains are one step long (README 'Known limits', now saying so); the model forgets a browser that applies a token of a record two logins replaced, in a chain or side by side (replacedTwice). With every seed told apart the check is on: go test -run 'TestSimulation$' -count=1 -sim.long=60s . (this check and undecided on) found no violation in 4044 sequences, but that tree had main's resent-token recheck at ad0ce69, which sent no token on rotating responses; after merging main's fix (838ba57) the same run found memstore/1 seed 8803993063103001251 step 84 (a settled browser read as expired; fails on main too), told apart since as a model gap: a write verified with record A's token rotated it and, refused as stale, was answered with that rotated token (never presented) after a re-login replaced A with B and before a Renew of B; applied after the Renew's response, it is not forwarded, as forwarding lasts until the successor rotates (DESIGN.md 'Grace period', README 'until the new session rotates'); the model now forgets a browser that applies a replaced record's token after a Renew of its successor (successorRenewed). A go test -run 'TestSimulation$' -count=1 -sim.check.late-replay -sim.check.undecided -sim.long=60s . run with that model fix found no late-replay violation, but cookie/2 and memstore/2 stopped early at seeds of other classes (undecided, lost-write), so the check stayed off. With lost-write's memstore/2 seed 3524700196031848241 told apart (a model gap), go test -run 'TestSimulation$' -count=1 -sim.check.late-replay -sim.long=90s . found no late-replay violation; it stopped once, at redis/1 seed 5993714344373543749 step 68 (a device-bound double-submitted login's late answer: undecided's deviceLost family, a model gap); the same command then passed (2954 sequences), as did a -sim.long=90s run with the check on by default (2332 sequences), and the check is on. After merging main, a -sim.long=90s run found cookie/1 seed 1134407080456928871 step 85, a model gap: a write held across two re-logins rotated its record's token on the way in and, refused as stale, sent that token, which landed last; its record's successor was replaced too, so nothing is forwarded (README 'Known limits'), as for cookie/1 seed 3058264180579589039, but the model looked only at answers of 200 (replacedTwice now at any status). Then go test -run 'TestSimulation$' -count=1 -sim.long=90s . passed (4277 sequences)", "Ordering principle; Superseded credentials", false},
	{faultRenew, "3 ended stays ended", "Renew returns success on a session revoked while its request was in flight", "Operations on ended records", false},
	{faultLostWrite, "5 acked writes kept", "a settled browser reads an older acknowledged write than its newest one. Fixed: a login verified before its session moved on (a Renew of its record, a parallel login of the same user past the join window) carried its request's stale view (redis-2pools/1 seeds 945910917285501289 and 8323614659995053333, redis/2 seed 8794127059758250429; TestLoginCarriesWhatItsSessionHoldsNow); memstore/1 seed 1414622040336136399 was a model gap (a login never carries writes served as another user); logins of two users in parallel from one anonymous session (memstore/2 seed 4059407959802428503, redis-2pools/1 seed 7960863803441833499): the login that finds the session taken by the other user's marker now starts empty (it carried the guest data the other login took; TestLoginOverASessionAnotherUserTookStartsEmpty), and its user's double submit makes two records, two sign-ins (DESIGN.md 'Carry-over', 'Writes'), so the model forgets the data. Model gaps: redis-2pools/1 seed 4090260905339134467 step 78 (the thief, holding an earlier victim's session cookie, saved last into the session the browser shares with it: the session is the thief's write, fixed by the model's forgetting every holder of the session a thief writes into); redis-2pools/2 seed 6999803709060032383 step 105 (a write dropped by the model when another user's login response landed came back once the browser held the write's credentials again: a write's apply now relearns from the write itself); memstore/1 seed 142430939348886725 step 69 (an anonymous login from a logged-out record's session, put back by a late response, starts empty: 'Carry-over'); memstore/2 seed 6988763901569779001 step 77 (a write into a double submit's late twin's record, a sign-in of its own, then the newer login's response landed last: 'Writes'). Green: go test -run TestSimulation -count=1 -sim.check.lost-write -sim.check.cookieless-evict -sim.check.revoked-data -sim.long=150s . passed (9828 sequences), as did the default simulation with those three checks on. Later long runs found four seeds failing on main. Model gaps: cookie/1 seed 3808317555585613871 step 58 and cookie/2 seed 5413655178831232915 step 57 (a logout, then a late signed-in write's response put the ended session's cookie back, an anonymous write into it, a login over it starts empty, 'Carry-over'; the model never knew the cookie store's session identity); redis-2pools/2 seed 8227409796804198369 step 86 (the same over the session of a record that timed out, which the model did not end). Fixed on the cookie store: cookie/2 seed 6287159203133502785 step 98 (a read verified before the browser's re-login was healed, its response carrying the record's session as a full copy; answered after the re-login and a write acknowledged after it, it landed last and the write was lost; the healed session is now decided again as the response goes out and not sent once a login replaced the record: TestHealAnsweredAfterReLoginKeepsTheLaterWrite). A -sim.long=90s run then found memstore/2 seed 6757370099895870325 step 29, a model gap (a write's late response put the pre-Renew session cookie back, healed into the moved session, which holds a later write: the model relearnt the late write alone). Green: go test -run 'TestSimulation$' -count=1 -sim.check.lost-write -sim.check.late-replay=false -sim.check.cookieless-evict=false -sim.long=90s . found no failure, and the default simulation passes with this check on. Model gap, once undecided: cookie/1 seed 6268131166618514089 step 93 (a double-submitted login of alice over carol's session, whose record the model took as maybe evicted (MaxUnpresented), starts empty all the same, 'Carry-over'; the model skipped its carry-over rules for a login it was unsure had signed in, and expected carol's cart). Fixed on the cookie store, once undecided: cookie/1 seed 8244048725729786719 step 83 (a read verified after a re-login, with the replaced record's rotated token and that record's session cookie, was forwarded and healed into the successor's session, its response carrying that session as a full copy; answered after a write acknowledged since, it landed last and the write was lost. A forward is a rotation of the successor: from the session the successor's login replaced it now sends no session cookie, the forwarded token healing that session at the next request; from the session the replaced record's own login replaced, which the forwarded token alone would find foreign, it still does: TestForwardedReadAnsweredAfterAWriteKeepsTheWrite, TestForwardFromThePreLoginSessionSendsTheSuccessorsSession). Model gap, once undecided: memstore/1 seed 7222702662864141309 step 105 (writes v4, v6, v3 of one session saved in that order, a login of another user applied meanwhile dropped them from the model; the browser held that session again from v4's late response, and the model relearnt v4 alone, not the writes saved after it in the same session: it now relearns them from every write acknowledged to the browser; v3, saved last, is what the store holds). Model gap, found by a 60-second long run with late-replay and undecided on: memstore/2 seed 3524700196031848241 step 74 (a browser read its anonymous session empty where it wrote v13-P1: the thief, holding that session's cookie from a late response of its own after copying another victim since, sent a gin-logout, answer dropped; on an anonymous request the logout idiom deletes the session, as gin-contrib does (DESIGN.md, 'The logout idiom'), for every holder of its cookie (README 'Known limits'); the model forgot only the thief's current victim, and now forgets every browser whose writes went into the deleted session, on memstore and Redis). Model gap, found by a long run with device binding on, failing on main too: memstore/1 seed 6741611980353314917 step 79 (read cart empty where v8-P2 was expected: an anonymous login over the session of a record an IP mismatch had ended, tombstoned and written into since, starts empty, DESIGN.md 'Carry-over'; the model ended no record for a mismatch, and now learns the tombstone from a later request served that session with the ended record's token: ipMismatchEnded). Model gap, found by a long run (device binding off): cookie/1 seed 3079403079439680019 step 86 (read cart v5-P1 where v13-P1 was expected: a Renew sent next to a late anonymous session cookie was healed, its response carrying the healed session as a full copy; held while a write of that session was acknowledged and applied, it landed last. On the cookie store a heal that takes over another cookie's values is itself a data write, under last-write-wins between parallel data writes, DESIGN.md 'Writes', README 'Known limits'; the model now forgets the data where such a copy, taken before a write of the same record was saved, lands after it: healedCopyApplied)", "Writes", false},
	{faultOlderToken, "3 ended stays ended", "a copy of a superseded token the browser had presented, after the window, is still served (TestSupersededJoinedLoginTokenThatWasPresented fixed a joined login's presented token); cookie/2 seed 2193342681764820747 step 63 was a model gap: the model let a request refused for its network (the thief's copy of a Renew's token, KeepSessionOnIPMismatch) open the window, and only a request that passes every check presents a credential; cookie/2 seed 1881554355967275875 step 54 was a model gap: the browser's own older token came back after its window (a replay) once its held login had replaced the record, which ends nothing on a replaced record (DESIGN.md, 'Outcomes'), and the thief's presented periodic-rotation token, within the login's window, was forwarded to the successor ('Superseded credentials'); the model had ended the replaced record for the replay; fixed: cookie/2 seed 3387811526384502071 step 55 (a thief's Renew, the browser's old token reissued, the thief's Renew token presented as a late response: that presentation opened no window for the older presented token, which was served, and sent the current token, 8 s after it; a late response's first presentation now opens the windows of the presented tokens before it: TestSupersededLateResponseOpensTheWindowOfOlderTokens)", "Superseded credentials", false},
	{faultIPLock, "6 answers", "an IP mismatch refuses POST /login (and every route) in Middleware", "A refusal that keeps the session never blocks signing in", false},
	{faultCookielessEvict, "2 sign-in survives", "a browser the model expects signed in is evicted by logins of the same user from other browsers; cookie/2 seed 4774565529171866613 step 93 (MaxSessionsPerUser 0) was a model gap: a ninth login of one user waiting for its first presentation ends the oldest waiting one (MaxUnpresented), which the model did not predict; cookie/2 seed 3776546124235149109 step 51 (MaxSessionsPerUser 2) was a model gap: the thief's copy of one record of a cookieless double submit, first presented, evicted the least recently used other presented session, the other record, which the victim held; the model spared every party of the presenting lineage; cookie/2 seed 2488009333831516807 step 105 (MaxSessionsPerUser 2) was a model gap: a late Renew response of a record a login replaced was forwarded into the login's record, which counted that forward as its first presentation; another browser's first presentation then evicted it as the least recently used, and the model, which counted only a record's own token as presenting it, did not predict that; after that fix a 3m long run with -sim.check.cookieless-evict found no cookieless-evict failure but was not green: cookie/2 stopped after 7.5s at seed 6159144307836473635 step 79 of the tossed class (fails the same on main 85c4fe9), and cookie/2 alone for 2m30s with the tossed check off was green (22820 sequences); memstore/2 seed 4500130196044072921 step 79 (MaxSessionsPerUser 2) was a model gap: one record of a cookieless double submit, first presented, evicted the other, whose Renew's response, kept back, the browser applied afterwards; the model spared the browser for holding the presenting record, not seeing the response on its way; memstore/1 seed 4211035090211340541 step 97 (MaxSessionsPerUser 2, once undecided) was a model gap: a write held across a login, refused, put back the token of the record the login replaced; a read with it was forwarded to the login's record, that record's first presentation, which evicted the least recently used other session, another browser's, and the model checked evictions only for the record of the token sent; memstore/1 seed 2891191870532757341 step 79 (MaxSessionsPerUser 2, device binding on; fails on main too) was a model gap: a replaced record's token sent to a DeviceBound route was forwarded into the login's record, its first presentation, and refused after Middleware (403 device_binding_required, served as nobody); two first presentations of the browser's other records of alice then evicted it as the least recently used, and the browser applied the login's late answer holding it (DESIGN.md, 'Cookieless sign-in': every record counts as a device of its own, evicted at a first presentation over the limit); the model learnt a forward only from an answer served as the user and left the record out of the count (successorEvictionCheck now marks it shown at the send). Green: go test -run TestSimulation -count=1 -sim.check.cookieless-evict -sim.long=120s . (14992 sequences, before that model fix; it found nothing of this class), and go test -run TestSimulation -count=1 -sim.check.lost-write -sim.check.cookieless-evict -sim.check.revoked-data -sim.long=150s . passed (9828 sequences), as did the default simulation with those three checks on", "A double submit from a browser with no cookies", false},
	{faultGinLogout, "3 ended stays ended", "gin-contrib's logout idiom (Clear, Options MaxAge -1, Save) leaves the record live", "gin-contrib's logout idiom is a logout", false},
	{faultCookieGone, "7 fresh session keeps writes", "an acknowledged write next to a token whose session cookie went away is read back empty; cookie/1 seed 5362239288813079883 step 86, memstore/1 seed 2230770663148786193 step 55 and memstore/2 seed 268924197753887281 step 95 were misclassified on a stale note: the browser had signed in since and held that login's token next to a session cookie of a response verified before the login (late-session-cookie, where they are classified now); memstore/2 seed 4491380311366043201 was a model gap: the model ended, as session lost, a record a login had replaced already (dead, nothing ends), which the browser's next login then named its successor and forwarded a late rotating response to; cookie/1 seed 7482043726563906009 was a model gap: the model took for the fresh session a session cookie from a response to a request sent before the token came alone (a late response's, late-session-cookie's to judge); redis-2pools/2 seed 3638099897827006621 and memstore/2 seed 9072270062857364189 were model gaps: the model took a login's session cookie for the fresh session, and a late response then put the ended token back beside it, a signed-in session's cookie without its token (foreign); cookie/2 seed 5782159605878646529 step 55, found by a 60-second long run with undecided on, was a model gap: a thief's copy of a device-bound token past its life, superseded by the device's refresh, presented without a session cookie, is refused and ends nothing (DESIGN.md 'Superseded credentials', the device-bound exception); the model knew that only of the current token", "A token whose session is gone ends with it", false},
	{faultTossed, "2 sign-in survives", "with session cookies tossed in front of its own, a signed-in browser is read as ended (expired): cookie/2 seed 3930971170985803089 step 79 was a fault, a Renew's late response forwarded to the re-login's record did not look for that record's own session cookie among several (TestForwardBehindTossedCookies); redis/2 seed 4878770593058467893, cookie/2 7856470983232181945, memstore/2 3813579753408058803, 8228838072294180533 (a cookieless double submit's other record rotated, not forwarded), memstore/1 6892412706170957039 (a rotation landing after two logins in a row: its record's successor was replaced too, so nothing is forwarded) were a model gap: a late response left a session cookie not the token's record's own (a replaced record's pair, a predecessor's cookie), which alone is healed or forwarded but behind tossed cookies is not (DESIGN.md, Tossed cookies); cookie/2 seed 6159144307836473635 step 79 (alice read as expired behind tossed cookies, MaxSessionsPerUser 0) was a model gap, the tossed cookies no part of it: a Renew's late response put the replaced record's token back after the re-login, it is forwarded into the re-login's record, and that record, which no request presented for 5 minutes, had ended (UnpresentedAge, DESIGN.md 'Cookieless sign-in'); the model looked only at the held token's record, presented before the re-login. Green over -sim.long=90s. Model gap, once undecided: memstore/1 seed 2645628706533976175 step 80 (a double-submitted login's response, answered before a Renew of its record and applied after it, put back the session cookie the Renew replaced: healed alone, not from among tossed cookies, DESIGN.md 'Tossed cookies' and README 'Known limits'; the model took a login's response for a sure pair)", "The record's own session cookie wins", false},
	// Found by the simulation, not in the list it was built against.
	{faultLateSession, "2 sign-in survives", "a request verified before a login answers with a session cookie after the login's: the browser holds the login's token next to a session cookie that is not its record's. An anonymous one is healed within the login's window (TestCookielessWriteLandingAfterSignInKeepsBoth) and foreign after it, a documented limit (DESIGN.md 'Cookieless sign-in', README 'Known limits'; TestCookielessWriteLandingAfterTheWindowIsForeign) the model knows (cookie/1 seed 3269102696103408047 step 52; model gap: cookie/1 seed 4067604566396897065 step 96, a late anonymous session another than the one the login marked). Fixed: a session cookie of another record of the token's user that has not ended was foreign (a double submit's other record's write, or on the cookie store its Renew's token, landing after this login's pair; a session cookie put back after two logins of its user); it is healed into the token's record's own session, nothing of the other session carried on memstore and Redis (the write stays in its record's session, 'Writes'; the model forgets the data: otherSignInsSession), its values adopted on the cookie store (DESIGN.md 'The user's other sessions'; TestDoubleSubmitsOtherSessionLandingLastIsHealed, TestSessionPutBackAfterTwoLoginsIsHealed; memstore/1 seeds 3463310875996890873, 3083465453223272485, memstore/2 7139981964008802547, cookie/1 3500128006311341743, 2786155779854870961, 6943610614722568197, cookie/2 723981733136389889, 8379323902246412429, redis-2pools/1 1780565890198899471, redis-2pools/2 1699914186823580561, 4793851251390006427). Carrying the other session's values, as an anonymous one's are, is not done: which value the browser reads would then depend on the order two sessions' writes were saved. Green: go test -run 'TestSimulation$' -count=1 -sim.check.late-session-cookie -sim.long=90s . passed (4778 sequences)", "Ordering principle; Cookieless sign-in; The user's other sessions", false},
	{faultStaleRevoke, "2 sign-in survives", "RevokeOthers on a request verified before its browser's newer login (its record replaced or ended meanwhile) revokes that newer login", "Ordering principle; Operations on ended records", false},
	// Found after the fixes merged; model or code not yet decided.
	{faultSignInExpired, "2 sign-in survives", "a settled browser whose last login answered is anonymous with reason expired (memstore/1 seed 7173040176598088035 step 84; cookie/2 seed 6604434249175084835 step 80): a model gap. A double-submitted login's response, held up, landed after a newer login that replaced its record; its token the browser had presented already, so by the Outcomes table it is dead, and DESIGN.md ('Superseded credentials') now says so; the model expects the browser anonymous there. Model gap: cookie/1 seed 1890706786875131333 step 85 (the joined login's token of such a response was first presented after the newer login committed, by a thief's copy, and forwarded to the successor; the browser presenting it again is forwarded again, the same token to every such request, while the model, counting any presentation, expected it signed out: only a presentation before the newer login makes it dead). Model gap: memstore/1 seed 2170060667699695797 step 76 (a login's response, held up, landed after two newer logins of the browser; the first of them presented the token of the record this login's had replaced and was forwarded into this login's record before it signed in, so it replaced that record, and the second replaced its successor: nothing is forwarded, marker chains are one step long, README 'Known limits'; the model looked only at the token a login presented and expected the late login's sign-in)", "Cookieless sign-in; Timeouts; Endings", false},
	{faultStaleExpiry, "2 sign-in survives", "an anonymous request's Save with MaxAge < 0 (gin-contrib's logout idiom), verified before a login and answered after it, expires the signed-in session's cookie: the browser is signed out", "Cookie writes (ordering principle)", false},
	// A documented limit of one store (README, "Known limits").
	{faultTwoPoolsUndo, "5 acked writes kept", "on Redis with two pools (gin-contrib's own redis.NewStore: a session write was checked only after it was saved), a signed-in write held from before an ending saved, found the tombstone and undid itself by deleting the session, taking an anonymous write acknowledged after the ending with it (fixed on memstore first, memstore/1 seed 764050480281671193). Fixed: on a session store with IDs that the shared-Redis script does not write, Save reads the marker before the write too and refuses a stale write without writing (TestEndedSessionStaleWriteKeepsALaterWrite, now on every store). What remains is the window between that read and the store's SETEX of the same request (README 'Known limits', DESIGN.md 'Writes'), which the simulation, running a released handler to its answer before its next step, does not reach; a violation classed here is one inside it, or a new fault", "Writes", false},
	// Seeds a run of new seeds failed on with no class the model can give
	// (simulation_seeds_test.go names them), until they are told apart.
	// Device-bound sessions (simulation_dbsc_test.go).
	{faultBoundCopy, "8 bound copy dies", "a copy of a bound record's token, taken without the device's key, is served as its user after the token's life (DeviceBinding.CookieLifetime from its issue). Fixed: memstore/1 seed 5935890672407567555 step 74 (a refresh superseded the token past its life and the copy was served while the rotation was unconfirmed, or within the window the owner's presentation opened: TestDeviceBindingSupersededCopyDiesWithItsLife)", "Lifecycle (device-bound)", false},
	{faultUndecided, "any", "a violation the model classes under no known fault. All told apart: cookie/2 seed 3387811526384502071 step 55 a library fault (older-token, fixed), cookie/1 seed 1890706786875131333 step 85 and memstore/1 seed 2170060667699695797 step 76 model gaps (sign-in-expired). With -sim.check.undecided, -sim.long=90s and -sim.long=4m (about 19 000 sequences) found no violation outside the rows still waiting. Open again: four seeds found by 90-second long runs after this round's merges, under checks that are on, all told apart since as model gaps (memstore/1 seed 4211035090211340541 step 97 under cookieless-evict, and): cookie/2 seed 1881554355967275875 step 54 (older-token: a replay of a record a login had replaced ends nothing, TestReplayOfAReplacedRecordEndsNothing), redis-2pools/2 seed 3638099897827006621 step 57 and memstore/2 seed 9072270062857364189 step 64 (cookie-gone: the model took a login's session cookie for the fresh session, and a late response that put the ended token back beside it made a pair the server rightly finds foreign); found by a 150-second long run after that: cookie/1 seed 5876581969144301433 step 77 (a library fault, fixed: a joined login whose first token was presented was taken for a rotated record, so a late rotating response was not forwarded; late-replay, TestForwardIntoALoginJoinedAfterItsFirstTokenWasPresented) (memstore/1 seed 1823257934927080459 step 43, an acknowledged write read back empty, was a model gap: revoked-data, TestSupersededLateWriteAnswerAfterReLoginSignsOut); found by a 60-second long run, told apart since as model gaps: cookie/1 seed 6268131166618514089 step 93 (read cart empty where v2-P2 was expected: lost-write, a login over another user's session starts empty) and memstore/1 seed 2645628706533976175 step 80 (a browser expected signed in as bob refused as foreign_session: tossed, a Renew's replaced session cookie behind tossed cookies); found by a 150-second long run on the final tree: cookie/1 seed 2601430577973471169 step 87 (an acknowledged write read back empty; told apart since as a model gap: revoked-data, a login's record never presented ended after UnpresentedAge with the data it carried); told apart since, three model gaps: memstore/1 seed 4505153843345193727 step 97 (lost-write: a login over another user's session whose record the model held maybe ended, a waiting one over MaxUnpresented, skipped loginData, so the model kept the previous user's write where the login started empty, DESIGN.md 'Carry-over'), memstore/2 seed 2753430759228395765 step 76 (lost-write: a record revoked before its browser's first request after the login; that request, anonymous beside its record's own pair, was served the emptied, tombstoned session, written into, and a login from it started empty, 'Carry-over'; the model learnt a session's record only from requests served as the user), redis/2 seed 4531887672877962921 step 76 (tossed: a joined login's late pair applied after a Renew of its record had moved the session: behind tossed cookies the pre-Renew session cookie is not the record's own and none is healed from, 'Tossed cookies', README 'Known limits'; the model took the pair for the record's own); found by a 90-second long run with late-replay on, on main too, told apart since: cookie/1 seed 8244048725729786719 step 83 (read an older acknowledged write: a library fault, fixed, lost-write: a forwarded read's healed session, a full copy on the cookie store, landed after a later write; TestForwardedReadAnsweredAfterAWriteKeepsTheWrite), memstore/1 seed 3588641416372172197 step 44 (a settled browser read as expired after a Renew's late response: a model gap, late-replay: two logins each replaced the Renew's record, which names the later its successor, and the token next to the earlier one's session is not forwarded, README 'Known limits'); a 60-second long run with this check on then found cookie/2 seed 5782159605878646529 step 55 under cookie-gone, a model gap (a superseded device-bound token past its life is refused and ends nothing). All told apart: with this check on, go test -run 'TestSimulation$' -count=1 -sim.check.undecided -sim.long=60s . found no violation in 6144 sequences on a tree with main's ad0ce69 (no token on rotating responses); after merging main's fix (838ba57) the same run found memstore/2 seed 1175252571466313905 step 47 (a settled browser read as no_session, device_binding_required; fails on main too), so the check waited again; found by a 90-second long run with the default checks, failing before the resent-token recheck too: memstore/1 seed 7222702662864141309 step 105 (an acknowledged write read back older), told apart since as a model gap (lost-write); found by a 60-second long run with this check and late-replay on, failing on main too: cookie/2 seed 2201296382756469141 step 74 (a settled browser expected signed in as alice read as device_binding_required; it passed under TestSimulationSeeds, which draws it with device binding off: simDeviceConfig keeps it off for a seed simSeedCases lists unless simBoundSeeds names it, as it now does). Both told apart as model gaps: a login's answer, written before the other answer of its double submit (or a re-login joined to its record) bound the record, lands past its token's life; the token, never presented, is refused by design (DESIGN.md 'Device-bound sessions': a bound record's stale credentials are refused), and its cookie, with the unbound Max-Age, is not due, so the device does not refresh; the model forgot such a browser only when its device held no session for the record, and now also when the cookie is not due (deviceLost). Green: go test -run 'TestSimulation$' -count=1 -sim.check.undecided -sim.long=60s . found no violation in 3696 sequences, and in 2373 on a second run. The same family, found by a 90-second long run with late-replay on before that fix: redis/1 seed 5993714344373543749 step 68 (passes with deviceLost; simBoundSeeds)", "Lifecycle", false},
}

// simChecks holds the -sim.check.<class> flags, one per known fault.
var simChecks = func() map[faultClass]*bool {
	m := map[faultClass]*bool{}
	for _, k := range knownFaults {
		m[k.class] = flag.Bool("sim.check."+string(k.class), !k.waiting, "simulation: check for: "+k.fault)
	}
	return m
}()

// checkOn reports whether violations of class fail the test.
func checkOn(class faultClass) bool {
	if class == "" || *simStrict {
		return true
	}
	on, ok := simChecks[class]
	return !ok || *on
}

// seedSource gives the seeds a run tries after the fixed ones. A default
// run (the test suite, CI) draws them from a generator seeded by the store
// kind and server count, so that every default run tries the same seeds
// in the same order, as many as its budget allows: CI passes or fails the
// same way on every run, and a seed that fails there fails on every
// machine. -sim.long searches seeds nobody tried before.
func seedSource(kind string, servers int) func() uint64 {
	if *simLong > 0 {
		return rand.Uint64
	}
	var h uint64 = 14695981039346656037 // FNV-1a of the combination's name
	for _, b := range []byte(fmt.Sprintf("%s/%d", kind, servers)) {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return rand.New(rand.NewPCG(h, uint64(servers))).Uint64
}

// simFixedSeeds run in every default run, before new ones.
var simFixedSeeds = []uint64{1, 2, 3, 4, 5}

func TestSimulation(t *testing.T) {
	budget := *simBudget
	if *simLong > 0 {
		budget = *simLong / time.Duration(len(storeKinds)*2)
	}
	for _, kind := range storeKinds {
		for _, servers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d", kind, servers), func(t *testing.T) {
				runSimCombo(t, kind, servers, budget)
			})
		}
	}
}

// simStats are the figures of one store kind and server count.
type simStats struct {
	seqs, steps, checks, known int
	elapsed                    time.Duration
	firstSeed                  map[faultClass]string // the first seed that stopped at each known fault, and where
	dbsc                       simDBSCFigures
}

func runSimCombo(t *testing.T, kind string, servers int, budget time.Duration) {
	var rd *simRedis
	if isRedis(kind) {
		rd = newSimRedis(t, kind, servers)
	}
	seeds := simFixedSeeds
	if *simSeed != 0 {
		seeds, budget = []uint64{*simSeed}, 0
	} else if *simLong > 0 {
		seeds = nil
	}
	st := simStats{firstSeed: map[faultClass]string{}}
	start := time.Now()
	run := func(seed uint64) bool {
		res := runSimSeed(t, rd, kind, servers, seed)
		st.seqs, st.steps, st.checks = st.seqs+1, st.steps+res.steps, st.checks+res.checks
		st.dbsc.add(res.dbsc)
		return reportSim(t, kind, servers, seed, res, &st)
	}
	for _, s := range seeds {
		if !run(s) {
			return
		}
	}
	var fresh []uint64
	next := seedSource(kind, servers)
	for budget > 0 && time.Since(start) < budget || (*simSeed == 0 && len(fresh) == 0) {
		s := next()>>1 | 1
		fresh = append(fresh, s)
		if !run(s) {
			break
		}
	}
	st.elapsed = time.Since(start)
	perMin := float64(time.Minute) / float64(st.elapsed)
	t.Logf("%s/%d: %d sequences, %d steps, %d checks in %v (%.0f sequences, %.0f steps, %.0f checks per minute); %d stopped at a known fault; new seeds %v",
		kind, servers, st.seqs, st.steps, st.checks, st.elapsed.Round(time.Millisecond),
		float64(st.seqs)*perMin, float64(st.steps)*perMin, float64(st.checks)*perMin, st.known, fresh)
	fmt.Printf("simulation %s/%d: %d sequences (%d steps, %d checks, %d at a known fault) in %v; new seeds %s\n",
		kind, servers, st.seqs, st.steps, st.checks, st.known, st.elapsed.Round(time.Millisecond), seedList(fresh))
	fmt.Printf("simulation %s/%d: device binding %s\n", kind, servers, st.dbsc)
	for _, k := range knownFaults {
		if at, ok := st.firstSeed[k.class]; ok {
			t.Logf("known fault %s first found by %s", k.class, at)
		}
	}
}

// reportSim reports one sequence's result; false stops the combination.
func reportSim(t *testing.T, kind string, servers int, seed uint64, res simResult, st *simStats) bool {
	t.Helper()
	if *simTrace {
		t.Logf("seed %d trace:\n%s", seed, strings.Join(res.trace, "\n"))
	}
	v := res.fail
	if v == nil {
		return true
	}
	if !checkOn(v.class) {
		st.known++
		if _, ok := st.firstSeed[v.class]; !ok {
			st.firstSeed[v.class] = fmt.Sprintf("seed %d step %d", seed, v.step)
		}
		t.Logf("seed %d stopped at known fault %s (step %d: %s)", seed, v.class, v.step, v.msg)
		return true
	}
	fmt.Printf("simulation FAILED %s/%d -sim.seed=%d step %d: %s: %s\n", kind, servers, seed, v.step, v.inv, v.msg)
	t.Errorf("simulation failed: %s/%d seed %d at step %d\ninvariant %s%s: %s\nreplay: go test -run '^TestSimulation$/^%s$/^%d$' -sim.seed=%d -sim.strict -v\ntrace:\n%s",
		kind, servers, seed, v.step, v.inv, classNote(v.class), v.msg, kind, servers, seed, strings.Join(res.trace, "\n"))
	return false
}

// seedList prints a few seeds and how many more.
func seedList(s []uint64) string {
	if len(s) <= 4 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v and %d more (-v lists them)", s[:4], len(s)-4)
}

func classNote(c faultClass) string {
	if c == "" {
		return ""
	}
	return " (known fault " + string(c) + ", checked with -sim.check." + string(c) + ")"
}

// simViolation is the first invariant a sequence broke.
type simViolation struct {
	inv   string
	class faultClass
	step  int
	msg   string
}

type simResult struct {
	fail          *simViolation
	steps, checks int
	trace         []string
	dbsc          simDBSCFigures
}

// runSimSeed runs the sequence of one seed on a fresh world.
func runSimSeed(t testing.TB, rd *simRedis, kind string, servers int, seed uint64) simResult {
	if rd != nil {
		if err := rd.flush(); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cfg := simConfig(rng)
	r := &simRun{t: t, kind: kind, rng: rng}
	r.dbsc = simDeviceConfig(&cfg, seed)
	r.w = newSimWorld(t, kind, servers, cfg, rd)
	r.addParties()
	r.addDevices()
	r.m = newSimModel(r)
	r.trace = append(r.trace, fmt.Sprintf("seed %d on %s with %d server(s): %s", seed, kind, servers, describeConfig(r.w.cfg)))
	defer r.freeAll()
	for i := 0; i < *simSteps && r.fail == nil; i++ {
		r.do(r.next())
	}
	for _, s := range r.settleSteps() {
		if r.fail != nil {
			break
		}
		r.do(s)
	}
	return simResult{fail: r.fail, steps: r.step, checks: r.checks, trace: r.trace, dbsc: r.dbsc.figures()}
}

// simConfig draws a Guard configuration: every window short enough for the
// clock moves to cross, MaxSessionsPerUser and KeepSessionOnIPMismatch in
// some.
func simConfig(rng *rand.Rand) ginsecure.Config {
	cfg := ginsecure.Config{
		GracePeriod: 2 * time.Second, RotateEvery: 5 * time.Minute, IdleTimeout: 30 * time.Minute,
		AbsoluteTimeout: 2 * time.Hour, TouchInterval: time.Minute,
	}
	if rng.IntN(2) == 0 {
		cfg.MaxSessionsPerUser = 2
	}
	cfg.KeepSessionOnIPMismatch = rng.IntN(4) == 0
	return cfg
}

func describeConfig(c ginsecure.Config) string {
	s := fmt.Sprintf("GracePeriod %v, RotateEvery %v, IdleTimeout %v, AbsoluteTimeout %v, TouchInterval %v, MaxSessionsPerUser %d, KeepSessionOnIPMismatch %v",
		c.GracePeriod, c.RotateEvery, c.IdleTimeout, c.AbsoluteTimeout, c.TouchInterval, c.MaxSessionsPerUser, c.KeepSessionOnIPMismatch)
	if c.DeviceBinding.Enabled {
		s += fmt.Sprintf(", DeviceBinding CookieLifetime %v", c.DeviceBinding.CookieLifetime)
	}
	return s
}

// TestSimulationReplaysExactly runs seeds twice and compares their traces:
// a seed names one sequence, whatever the goroutine scheduling.
func TestSimulationReplaysExactly(t *testing.T) {
	for _, kind := range []string{"memstore", "redis"} {
		t.Run(kind, func(t *testing.T) {
			var rd *simRedis
			if isRedis(kind) {
				rd = newSimRedis(t, kind, 2)
			}
			for _, seed := range simFixedSeeds[:3] {
				a := runSimSeed(t, rd, kind, 2, seed)
				b := runSimSeed(t, rd, kind, 2, seed)
				if strings.Join(a.trace, "\n") != strings.Join(b.trace, "\n") {
					t.Fatalf("seed %d replayed differently:\n%s\n---\n%s", seed, strings.Join(a.trace, "\n"), strings.Join(b.trace, "\n"))
				}
			}
		})
	}
}
