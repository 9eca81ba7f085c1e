package inspect

import "testing"

func TestParseJVMSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2g", 2 * GiB, true},
		{"2G", 2 * GiB, true},
		{"1536m", 1536 * MiB, true},
		{"1536M", 1536 * MiB, true},
		{"1048576k", GiB, true},
		{"1t", 1024 * GiB, true},
		{"1073741824", GiB, true},
		{"0", 0, true},
		{"2GB", 0, false},
		{"1.5g", 0, false},
		{"-1g", 0, false},
		{"", 0, false},
		{"g", 0, false},
		{"99999999999999999999g", 0, false},
		{"9007199254740993g", 0, false}, // overflows int64 once multiplied
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseJVMSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parseJVMSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"75", 75, true}, {"75.0", 75, true}, {"62.5", 62.5, true}, {"0.5", 0.5, true}, {"100", 100, true},
		{"100.1", 0, false}, {"-1", 0, false}, {"1e2", 0, false}, {"NaN", 0, false}, {"75%", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePercent(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parsePercent(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseGoByteCount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1073741824", GiB, true}, {"900MiB", 900 * MiB, true}, {"1GiB", GiB, true}, {"512KiB", 512 * KiB, true},
		{"100B", 100, true}, {"1TiB", 1024 * GiB, true}, {"off", -1, true},
		{"1Gi", 0, false}, {"1G", 0, false}, {"1GB", 0, false}, {"1.5GiB", 0, false}, {"-1", 0, false}, {"", 0, false}, {"MiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseGoByteCount(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("parseGoByteCount(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2Gi", 2 * GiB, true}, {"2G", 2_000_000_000, true}, {"512Mi", 512 * MiB, true}, {"1500M", 1_500_000_000, true},
		{"1.5Gi", 1536 * MiB, true}, {"1e9", 1_000_000_000, true}, {"128974848", 128974848, true}, {"100m", 1, true}, // 0.1 byte rounds up
		{"2GiB", 0, false}, {"", 0, false}, {"two", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseQuantity(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parseQuantity(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestHuman(t *testing.T) {
	for in, want := range map[int64]string{2 * GiB: "2 GiB", 1536 * MiB: "1536 MiB", jvmDefaultMaxHeapSize: "124.8 MiB", 12 * GiB: "12 GiB", 10*GiB + GiB/2: "10.5 GiB", 512: "512 B"} {
		if got := human(in); got != want {
			t.Errorf("human(%d) = %q, want %q", in, got, want)
		}
	}
}
