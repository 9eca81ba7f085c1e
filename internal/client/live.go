package client

// LiveStats is a room's state and counts as GET /v1/live/{room} shows them.
type LiveStats struct {
	Room      string `json:"room"`
	State     struct{ State, Slow string }
	Viewers   int              `json:"viewers"`
	PerSecond float64          `json:"comments_per_second"`
	Accepted  int64            `json:"accepted"`
	Rejected  map[string]int64 `json:"rejected"`
	Processes int              `json:"processes"`
}
