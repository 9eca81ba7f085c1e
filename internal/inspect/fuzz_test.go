package inspect

import (
	"strings"
	"testing"
)

func FuzzJVMOptions(f *testing.F) {
	for _, s := range []string{"-Xmx2g", "-XX:MaxRAMPercentage=75.0 -Xms1g", "-XX:MaxRAMFraction=2", "-XX:-UseContainerSupport", "-XX:MaxRAM=4g -XX:MinRAMPercentage=25",
		"-Xss512k -XX:ThreadStackSize=1024 -XX:MaxMetaspaceSize=256m", "'-Xmx1g' \"-Xms1g\"", "-Xmx2GB", "@argfile", "-XX:MaxRAMPercentage=1e308"} {
		f.Add(s, int64(2*GiB), 21)
	}
	for _, c := range jvmHeapCases {
		f.Add(c.opts, c.limit, c.jdk.major)
	}
	f.Fuzz(func(t *testing.T, s string, limit int64, major int) {
		o := parseJVMOptions(splitOptions(s, "fuzz"))
		for _, so := range []sizeOpt{o.MaxHeap, o.InitialHeap, o.MaxRAM, o.Xss, o.Metaspace, o.CodeCache, o.Direct} {
			if so.set && so.bytes < 0 {
				t.Fatalf("negative size %d from %q", so.bytes, s)
			}
		}
		for _, p := range []pctOpt{o.MaxPct, o.MinPct, o.InitPct} {
			if p.set && (p.pct < 0 || p.pct > 100) {
				t.Fatalf("percentage %v out of range from %q", p.pct, s)
			}
		}
		h := jvmMaxHeap(o, max(limit, 0), jdkVersion{major: major, known: major > 0})
		if h.known && h.bytes < 0 {
			t.Fatalf("negative heap %d from %q", h.bytes, s)
		}
		if !h.known && h.why == "" {
			t.Fatalf("unknown heap without a reason from %q", s)
		}
		nh, _ := jvmNonHeap(o, DefaultEstimates())
		if nh < 0 && !o.Xss.set {
			t.Fatalf("negative non-heap %d", nh)
		}
	})
}

func FuzzNodeOptions(f *testing.F) {
	for _, s := range []string{"--max-old-space-size=1024", "--max_old_space_size 512", "--max-old-space-size-percentage=75", "--max-old-space-size=abc", "--inspect --max-old-space-size=99999999999"} {
		f.Add(s, int64(GiB), 24)
	}
	for _, c := range nodeHeapCases {
		f.Add(c.opts, c.limit, c.version)
	}
	f.Fuzz(func(t *testing.T, s string, limit int64, version int) {
		o := parseNodeOptions(splitOptions(s, "fuzz"))
		if o.OldSpace.set && o.OldSpace.bytes <= 0 {
			t.Fatalf("non-positive old space from %q", s)
		}
		h := nodeHeap(o, max(limit, 0), version)
		if h.known && h.bytes < 0 {
			t.Fatalf("negative heap from %q", s)
		}
	})
}

func FuzzQuantity(f *testing.F) {
	for _, s := range []string{"2Gi", "2G", "1500M", "512Mi", "1e9", "1.5Gi", "100m", "", "9223372036854775807", "1Ei"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseQuantity(s); err == nil && n < 0 && !strings.HasPrefix(strings.TrimSpace(s), "-") {
			t.Fatalf("parseQuantity(%q) = %d", s, n)
		}
		if n, err := parseJVMSize(s); err == nil && n < 0 {
			t.Fatalf("parseJVMSize(%q) = %d", s, n)
		}
		if n, ok := parseGoByteCount(s); ok && n < -1 {
			t.Fatalf("parseGoByteCount(%q) = %d", s, n)
		}
	})
}

func FuzzScript(f *testing.F) {
	for _, s := range []string{`exec java $JAVA_OPTS -jar app.jar`, `java "${A:-x}" $(cat f) 'q' \` + "\n" + ` x; y && z`, "${", "$(", "`", `"unterminated`, `'`} {
		f.Add(s)
	}
	lookup := func(n string) (string, string, bool, bool) {
		return "-Xmx1g  -Xms1g", "env " + n, true, n == "JAVA_OPTS"
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, st := range parseScript(s, "fuzz", lookup) {
			if len(st) == 0 {
				t.Fatalf("empty statement from %q", s)
			}
		}
		expandK8s(s, lookup)
	})
}
