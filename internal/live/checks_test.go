package live

import (
	"testing"
	"time"
)

func TestDropRate(t *testing.T) {
	var d dropRate
	t0 := time.Unix(1000, 0)
	if _, ok := d.perMinute(50, t0); ok {
		t.Error("a rate from one reading")
	}
	if r, ok := d.perMinute(350, t0.Add(30*time.Second)); !ok || r != 600 {
		t.Errorf("300 drops in 30 s = %g/min (%v), want 600", r, ok)
	}
	if _, ok := d.perMinute(10, t0.Add(time.Minute)); ok {
		t.Error("a counter that went back (restart) gave a rate")
	}
	if r, ok := d.perMinute(10, t0.Add(2*time.Minute)); !ok || r != 0 {
		t.Errorf("no drops = %g (%v)", r, ok)
	}
}
