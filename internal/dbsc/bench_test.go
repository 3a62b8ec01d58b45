package dbsc

import "testing"

// BenchmarkVerifyRegistration: parsing the jwk and verifying the signature
// of a registration proof.
func BenchmarkVerifyRegistration(b *testing.B) {
	for _, br := range []*testBrowser{newES256Browser(b), newRS256Browser(b, 0)} {
		proof := br.registrationProof(b, mustChallenge(b), testAuth)
		b.Run(string(br.alg), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := VerifyRegistration(proof, DefaultAlgorithms, testAuth); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRefresh: verifying a refresh proof with the stored key,
// the work of every refresh.
func BenchmarkVerifyRefresh(b *testing.B) {
	for _, br := range []*testBrowser{newES256Browser(b), newRS256Browser(b, 0)} {
		key := registeredKey(b, br)
		proof := br.refreshProof(b, mustChallenge(b))
		b.Run(string(br.alg), func(b *testing.B) {
			for b.Loop() {
				if _, err := VerifyRefresh(proof, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadKey: reading a stored key back, done once per refresh when
// the record keeps the JWK.
func BenchmarkLoadKey(b *testing.B) {
	for _, br := range []*testBrowser{newES256Browser(b), newRS256Browser(b, 0)} {
		key := registeredKey(b, br)
		b.Run(string(br.alg), func(b *testing.B) {
			for b.Loop() {
				if _, err := LoadKey(key.Algorithm, key.JWK); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
