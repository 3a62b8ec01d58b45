package redisstore

import (
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
)

// BenchmarkRecordCodec measures the record's JSON encoding and decoding,
// which every authenticated Redis request pays once (decode) and every
// record write once (encode).
func BenchmarkRecordCodec(b *testing.B) {
	now := time.UnixMilli(1764500000000).UTC()
	rec := storeext.Record{
		Seq: 1764500000123456, Handle: "q83vEjRWeJASNFZ4kBI0Vg", UserID: "user-12345", SessionID: "QZ2XKXK3J7NAV5LRLHPP7FYSTLCQ6J2EXZ5TNQ7K3RHE4HCMZ3HA",
		TokenHash: [32]byte{1, 2, 3}, IssuedAt: now, IP: "203.0.113.7",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		CreatedAt: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(12 * time.Hour),
	}
	enc, err := encode(rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
