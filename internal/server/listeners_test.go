package server

import (
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
