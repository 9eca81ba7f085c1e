package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestQuorumWatchWaitsOutAnElection: a quorum lost for less than the
// grace (an election) keeps the node ready; lost for the grace or longer,
// it is not, with the reason; regained, ready again at once.
func TestQuorumWatchWaitsOutAnElection(t *testing.T) {
	const why = "no quorum: 1 of 3 nodes reachable; writes need 2"
	t0 := time.Unix(1000, 0)
	steps := []struct {
		name     string
		at       time.Duration
		why      string
		lost     bool
		notReady bool
	}{
		{"whole", 0, "", false, false},
		{"election starts", time.Second, why, true, false},
		{"election goes on", QuorumGrace, why, true, false},
		{"elected", QuorumGrace + time.Second, "", false, false},
		{"lost again", QuorumGrace + 5*time.Second, why, true, false},
		{"lost past the grace", 2*QuorumGrace + 5*time.Second, why, true, true},
		{"still lost", 3 * QuorumGrace, why, true, true},
		{"nodes back", 3*QuorumGrace + time.Second, "", false, false},
	}
	var w quorumWatch
	for _, s := range steps {
		now := t0.Add(s.at)
		w.observe(now, s.why)
		lost, err := w.state(now, QuorumGrace)
		if lost != s.lost || (err != nil) != s.notReady {
			t.Fatalf("%s: lost %v, err %v; want lost %v, not ready %v", s.name, lost, err, s.lost, s.notReady)
		}
		if err != nil && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), why)) {
			t.Fatalf("%s: %v does not name the reason", s.name, err)
		}
	}
}
