package inspect

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestJVMHeapMatchesHotSpot checks the heap arithmetic against a real JVM
// where one is installed: -XX:MaxRAM makes the JVM size its heap from a
// given amount of memory exactly as it does from a container limit. It is
// a cross-check, so it skips without java (Debian: openjdk-17-jre-headless).
func TestJVMHeapMatchesHotSpot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM per case")
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("no java in PATH: install openjdk-17-jre-headless to cross-check the heap arithmetic")
	}
	cases := []string{
		"-XX:MaxRAM=200m", "-XX:MaxRAM=249m", "-XX:MaxRAM=256m", "-XX:MaxRAM=300m", "-XX:MaxRAM=512m",
		"-XX:MaxRAM=2g", "-XX:MaxRAM=8g", "-XX:MaxRAM=2g -XX:MaxRAMPercentage=62.5", "-XX:MaxRAM=4g -XX:MaxRAMPercentage=70",
		"-XX:MaxRAM=1g -XX:MaxRAMPercentage=80", "-XX:MaxRAM=200m -XX:MinRAMPercentage=25", "-XX:MaxRAM=2g -Xms1g",
		"-XX:MaxRAM=2g -XX:MaxRAMFraction=2", "-Xmx1001m", "-Xmx1g -XX:MaxHeapSize=3g", "-XX:MaxRAM=16g -XX:MaxRAMPercentage=77",
	}
	re := regexp.MustCompile(`\bMaxHeapSize\s*=\s*(\d+)`)
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			out, err := exec.Command(java, append(strings.Fields(c), "-XX:+PrintFlagsFinal", "-version")...).CombinedOutput()
			if err != nil {
				t.Fatalf("java: %v\n%s", err, out)
			}
			m := re.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no MaxHeapSize in java's output")
			}
			want, _ := strconv.ParseInt(string(m[1]), 10, 64)
			h := jvmMaxHeap(opts(c), 64*GiB, jdk21)
			if !h.known || h.bytes != want {
				t.Fatalf("computed %d (%s), HotSpot says %d", h.bytes, human(h.bytes), want)
			}
		})
	}
}

// TestNodeHeapMatchesV8 does the same for the installed Node's explicit
// --max-old-space-size (its default depends on this host's memory).
func TestNodeHeapMatchesV8(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node per case")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node in PATH")
	}
	v, err := exec.Command(node, "-p", "process.versions.node").Output()
	if err != nil {
		t.Fatal(err)
	}
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimSpace(string(v)), ".", 2)[0])
	for _, mb := range []int{256, 768, 1024, 1536, 2048} {
		flag := fmt.Sprintf("--max-old-space-size=%d", mb)
		t.Run(flag, func(t *testing.T) {
			out, err := exec.Command(node, flag, "-p", "require('v8').getHeapStatistics().heap_size_limit").Output()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
			h := nodeHeap(parseNodeOptions(splitOptions(flag, "test")), 0, major)
			if h.bytes != want {
				t.Fatalf("Node %d: computed %d (%s), V8 says %d", major, h.bytes, human(h.bytes), want)
			}
		})
	}
}
