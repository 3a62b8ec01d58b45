// Package dbsc speaks the wire protocol of W3C Device Bound Session
// Credentials (DBSC, https://w3c.github.io/webappsec-dbsc/): the headers,
// the signed proofs and the challenges with which a browser shows, each
// time a short-lived cookie must be renewed, that it still holds the
// private key a session was bound to at sign-in. A thief who copies the
// cookies has no such key, so the copy stops working once the short-lived
// cookie expires.
//
// The package knows nothing of ginsecure's records or middleware; it gives
// them the pieces:
//
//   - Offering: a response that may bind a session carries
//     Secure-Session-Registration (Registration.Header): the signature
//     algorithms the server accepts, the path to POST to, a fresh
//     challenge and an optional authorization value.
//   - Registering: the browser makes a key pair, signs a JWT of type
//     dbsc+jwt whose header holds its public key (jwk) and whose claims
//     repeat the challenge (jti) and the authorization, and POSTs it in
//     Secure-Session-Response (ProofJWT). VerifyRegistration checks it and
//     returns the Key to keep with the session, with its RFC 7638
//     thumbprint. The server answers with Instructions: a session
//     identifier, a refresh URL, a scope and the cookies bound to the
//     session, and sets the bound cookie.
//   - Refreshing: when a request in scope finds the bound cookie missing or
//     about to expire, the browser holds it and POSTs to the refresh URL,
//     naming the session in Sec-Secure-Session-Id (SessionID) and, if it
//     has a challenge, a proof signed with the same key, without jwk.
//     Without a proof, or with one that fails, the server answers 403 and
//     a fresh Secure-Session-Challenge (Challenge.Header); the browser
//     signs again. VerifyRefresh checks the proof against the session's
//     Key; then a new bound cookie, complete Instructions and a fresh
//     challenge go back.
//   - Ending: a refresh answered with EndingJSON, continue false, makes the
//     browser drop the session.
//
// Challenges are single use and a session may have several outstanding at
// once, so that parallel answers and several servers never invalidate each
// other's (Challenges, over a ChallengeStore shared by the servers).
// Verifier checks a proof before it redeems the challenge, so a forged
// proof cannot use up a challenge the browser holds.
//
// Verification uses the standard library only and refuses more than it
// accepts: alg "none", an algorithm not offered or not matching the key,
// an RSA key under 2048 bits, an ES256 signature in any form but 64 raw
// bytes. Each refusal is a sentinel error under ErrInvalidProof.
//
// How the browser reacts to the status of a refresh answer matters more
// than the body: 403 makes it sign again (a few times), 401 and 400 make
// it delete its session, 5xx makes it send the held request without the
// bound cookie. A server therefore answers every failed proof with 403
// and a fresh challenge.
package dbsc
