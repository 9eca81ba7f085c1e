package inspect

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Byte units.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

var errBadSize = errors.New("not a size")

// parseJVMSize parses a HotSpot size argument: decimal digits with an
// optional k/K, m/M, g/G or t/T suffix (binary multiples); no suffix means
// bytes. This is what -Xmx, -Xss and -XX:MaxHeapSize= accept.
func parseJVMSize(s string) (int64, error) {
	if s == "" {
		return 0, errBadSize
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = KiB
	case 'm', 'M':
		mult = MiB
	case 'g', 'G':
		mult = GiB
	case 't', 'T':
		mult = GiB << 10
	}
	digits := s
	if mult != 1 {
		digits = s[:len(s)-1]
	}
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, errBadSize
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, errBadSize
	}
	return n * mult, nil
}

// parsePercent parses a HotSpot double flag such as MaxRAMPercentage
// ("75", "75.0", "62.5"); the JVM accepts 0 to 100.
func parsePercent(s string) (float64, error) {
	if s == "" || strings.ContainsAny(s, "eEnNxX+") {
		return 0, errBadSize
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 100 {
		return 0, errBadSize
	}
	return f, nil
}

// parseGoByteCount parses GOMEMLIMIT exactly as the Go runtime does
// (runtime.parseByteCount): bytes, or a B, KiB, MiB, GiB or TiB suffix.
// "off" means no limit and is reported as ok with n = -1.
func parseGoByteCount(s string) (int64, bool) {
	if s == "off" {
		return -1, true
	}
	if s == "" {
		return 0, false
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB}, {"TiB", GiB << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	if num == "" || num[0] == '+' || num[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// parseQuantity parses a Kubernetes resource quantity ("2Gi", "1500M",
// "512Mi", "1e9") into bytes, rounding up as the kubelet does.
func parseQuantity(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: %w", s, err)
	}
	if q.AsApproximateFloat64() >= math.MaxInt64 {
		return 0, fmt.Errorf("quantity %q: too large", s)
	}
	return quantityBytes(q), nil
}

// quantityBytes is a quantity in bytes, rounded up; quantities beyond
// int64 (which Quantity.Value wraps) are clamped.
func quantityBytes(q resource.Quantity) int64 {
	if q.AsApproximateFloat64() >= math.MaxInt64 {
		return math.MaxInt64
	}
	return q.Value()
}

// human prints bytes in the unit a reader expects: "2 GiB", "1536 MiB",
// "124.8 MiB".
func human(b int64) string {
	switch {
	case b >= GiB && b%GiB == 0:
		return fmt.Sprintf("%d GiB", b/GiB)
	case b >= 10*GiB:
		return fmt.Sprintf("%.1f GiB", float64(b)/float64(GiB))
	case b >= MiB && b%MiB == 0:
		return fmt.Sprintf("%d MiB", b/MiB)
	case b >= MiB:
		return fmt.Sprintf("%.1f MiB", float64(b)/float64(MiB))
	case b >= KiB && b%KiB == 0:
		return fmt.Sprintf("%d KiB", b/KiB)
	}
	return fmt.Sprintf("%d B", b)
}

// ParseQuantity parses a Kubernetes memory quantity into bytes.
func ParseQuantity(s string) (int64, error) { return parseQuantity(s) }
