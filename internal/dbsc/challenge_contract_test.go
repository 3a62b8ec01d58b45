package dbsc_test

import (
	"testing"

	"github.com/ginsecure/ginsecure/internal/dbsc"
	"github.com/ginsecure/ginsecure/internal/dbsc/challengetest"
)

func TestMemoryChallengesContract(t *testing.T) {
	challengetest.Run(t, func(*testing.T) dbsc.ChallengeStore { return &dbsc.MemoryChallenges{} })
}
