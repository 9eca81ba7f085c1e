package server

import (
	"net"
	"strings"
	"testing"
)

func TestListenScope(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "loopback"},
		{"[::1]:8080", "loopback"},
		{"localhost:8080", "loopback"},
		{"127.9.9.9:1", "loopback"},
		{":8080", "every interface"},
		{"0.0.0.0:8080", "every interface"},
		{"[::]:8080", "every interface"},
		{"192.0.2.7:8080", "interface 192.0.2.7"},
		{"no-port", "unknown"},
	}
	for _, tt := range tests {
		if got := ListenScope(tt.addr); got != tt.want {
			t.Errorf("ListenScope(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestDescribeListeners(t *testing.T) {
	local := DescribeListeners([]listener{{"API", "127.0.0.1:8080"}, {"MQTT", "127.0.0.1:1883"}}, "HINT")
	if local != "API 127.0.0.1:8080, MQTT 127.0.0.1:1883: this machine only (HINT)" {
		t.Errorf("loopback: %q", local)
	}
	open := DescribeListeners([]listener{{"API", "[::]:8080"}, {"MQTT", "127.0.0.1:1883"}}, "HINT")
	if !strings.Contains(open, "API [::]:8080 (every interface)") || !strings.Contains(open, "MQTT 127.0.0.1:1883 (loopback)") || strings.Contains(open, "HINT") {
		t.Errorf("open: %q", open)
	}
}

// A --http address that is taken, or that is not HOST:PORT, fails with
// what to do, and leaves the data directory free for the next try.
func TestClaimSaysWhatToDo(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	dir := t.TempDir()
	tests := []struct{ addr, want string }{
		{held.Addr().String(), "pick another address with --http"},
		{"nope", "--http wants HOST:PORT"},
	}
	for _, tt := range tests {
		_, _, err := claim(dir, tt.addr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("claim(%q): %v, want it to say %q", tt.addr, err, tt.want)
		}
	}
	lock, ln, err := claim(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("the data directory stayed claimed after a failed listen: %v", err)
	}
	ln.Close()
	lock.release()
}
