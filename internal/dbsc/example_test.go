package dbsc_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ginsecure/ginsecure/internal/dbsc"
)

func ExampleRegistration_Header() {
	h, _ := dbsc.Registration{
		Algorithms:    dbsc.DefaultAlgorithms,
		Path:          "/dbsc/register",
		Challenge:     "Zm9v",
		Authorization: "YmFy",
	}.Header()
	fmt.Println(dbsc.HeaderRegistration + ": " + h)
	// Output: Secure-Session-Registration: (ES256 RS256);path="/dbsc/register";challenge="Zm9v";authorization="YmFy"
}

func ExampleNewInstructions() {
	bound := &http.Cookie{Name: "__Host-bound", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 600}
	in, _ := dbsc.NewInstructions("s1", "/dbsc/refresh", "https://example.com", bound)
	body, _ := in.JSON()
	fmt.Println(string(body))
	// Output: {"session_identifier":"s1","refresh_url":"/dbsc/refresh","scope":{"origin":"https://example.com","include_site":false},"credentials":[{"type":"cookie","name":"__Host-bound","attributes":"Path=/; Secure; HttpOnly; SameSite=Strict"}]}
}

func ExampleEndingJSON() {
	fmt.Println(string(dbsc.EndingJSON("s1")))
	// Output: {"session_identifier":"s1","continue":false}
}

// A refresh endpoint: every refusal is 403 with a fresh challenge, so the
// browser signs again instead of deleting its session; the key and the
// session come from wherever the server keeps them.
func ExampleVerifier_Refresh() {
	v := &dbsc.Verifier{Challenges: &dbsc.Challenges{Store: &dbsc.MemoryChallenges{}}}
	keyOf := func(sessionID string) (dbsc.Key, bool) { return dbsc.Key{}, false }

	_ = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid, err := dbsc.SessionID(r.Header)
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		key, ok := keyOf(sid)
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(dbsc.EndingJSON(sid)) // ended: the browser drops it
			return
		}
		proof, err := dbsc.ProofJWT(r.Header)
		if err == nil {
			err = v.Refresh(r.Context(), sid, proof, key)
		}
		if err != nil && !errors.Is(err, dbsc.ErrNoProof) && !errors.Is(err, dbsc.ErrInvalidProof) {
			w.WriteHeader(http.StatusServiceUnavailable) // the store, not the browser
			return
		}
		c, cerr := v.Challenges.Issue(r.Context(), sid)
		if cerr != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h, _ := dbsc.Challenge{Value: c, SessionID: sid}.Header()
		w.Header().Set(dbsc.HeaderChallenge, h)
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		// Verified: set a new bound cookie and answer the complete
		// instructions (NewInstructions) here.
	})
}
