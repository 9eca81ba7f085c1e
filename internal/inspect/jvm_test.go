package inspect

import (
	"strings"
	"testing"
)

func opts(s string) jvmOptions { return parseJVMOptions(splitOptions(s, "test")) }

var jdk21 = jdkVersion{major: 21, known: true}

// jvmHeapCases are the heap table's cases; FuzzJVMOptions is seeded with them.
var jvmHeapCases = []struct {
	name  string
	opts  string
	limit int64
	jdk   jdkVersion
	want  int64 // -1: unknown
}{
	{"default 25% of 2Gi", "", 2 * GiB, jdk21, 512 * MiB},
	{"default 25% of 4Gi", "", 4 * GiB, jdk21, GiB},
	{"small: MinRAMPercentage 50% of 200Mi", "", 200 * MiB, jdk21, 100 * MiB},
	{"small: 249Mi still uses MinRAMPercentage, aligned to 2 MiB", "", 249 * MiB, jdk21, 126 * MiB},
	{"floor: 300Mi gets 124.8 MiB, aligned to 126", "", 300 * MiB, jdk21, 126 * MiB},
	{"256Mi gets the floor too", "", 256 * MiB, jdk21, 126 * MiB},
	{"-Xmx aligned up to 2 MiB", "-Xmx1001m", 0, jdk21, 1002 * MiB},
	{"70% of 4Gi aligned up", "-XX:MaxRAMPercentage=70", 4 * GiB, jdk21, 2868 * MiB},
	{"80% of 1Gi aligned up", "-XX:MaxRAMPercentage=80", GiB, jdk21, 820 * MiB},
	{"77% of 16Gi aligned to G1 regions", "-XX:MaxRAMPercentage=77", 16 * GiB, jdk21, 12616 * MiB},
	{"512Mi gets 25%", "", 512 * MiB, jdk21, 128 * MiB},
	{"MaxRAMPercentage=75.0", "-XX:MaxRAMPercentage=75.0", 2 * GiB, jdk21, 1536 * MiB},
	{"MaxRAMPercentage=62.5 decimal", "-XX:MaxRAMPercentage=62.5", 2 * GiB, jdk21, 1280 * MiB},
	{"MaxRAMPercentage=80 integer", "-XX:MaxRAMPercentage=80", 1000 * MiB, jdk21, 800 * MiB},
	{"MinRAMPercentage=25 on a small limit", "-XX:MinRAMPercentage=25", 200 * MiB, jdk21, 50 * MiB},
	{"MaxRAMFraction=2 is 50%", "-XX:MaxRAMFraction=2", 2 * GiB, jdk21, GiB},
	{"-Xmx lowercase g", "-Xmx2g", 4 * GiB, jdk21, 2 * GiB},
	{"-Xmx k", "-Xmx1048576k", 4 * GiB, jdk21, GiB},
	{"-XX:MaxHeapSize", "-XX:MaxHeapSize=1536m", 4 * GiB, jdk21, 1536 * MiB},
	{"last of -Xmx and MaxHeapSize wins", "-Xmx1g -XX:MaxHeapSize=3g", 4 * GiB, jdk21, 3 * GiB},
	{"-Xmx beats MaxRAMPercentage", "-XX:MaxRAMPercentage=75 -Xmx1g", 4 * GiB, jdk21, GiB},
	{"MaxRAM replaces the limit", "-XX:MaxRAM=4g", 2 * GiB, jdk21, GiB},
	{"-Xms above the ergonomic max raises it", "-Xms1g", 2 * GiB, jdk21, GiB},
	{"-Xms below the ergonomic max does not", "-Xms256m", 2 * GiB, jdk21, 512 * MiB},
	{"container support off", "-XX:-UseContainerSupport", 2 * GiB, jdk21, -1},
	{"container support off, -Xmx still known", "-XX:-UseContainerSupport -Xmx1g", 2 * GiB, jdk21, GiB},
	{"container support back on", "-XX:-UseContainerSupport -XX:+UseContainerSupport", 2 * GiB, jdk21, 512 * MiB},
	{"no limit", "", 0, jdk21, -1},
	{"no limit with -Xmx", "-Xmx1g", 0, jdk21, GiB},
	{"JDK 8u181 predates container support", "", 2 * GiB, jdkVersion{major: 8, update: 181, known: true}, -1},
	{"JDK 8u191 reads the limit", "", 2 * GiB, jdkVersion{major: 8, update: 191, known: true}, 512 * MiB},
	{"JDK 9 does not", "", 2 * GiB, jdkVersion{major: 9, known: true}, -1},
	{"unknown JDK assumed aware", "", 2 * GiB, jdkVersion{}, 512 * MiB},
	{"huge limit capped by MaxRAM 128G", "", 256 * GiB, jdk21, 32 * GiB},
}

func TestJVMMaxHeap(t *testing.T) {
	for _, tt := range jvmHeapCases {
		t.Run(tt.name, func(t *testing.T) {
			h := jvmMaxHeap(opts(tt.opts), tt.limit, tt.jdk)
			if tt.want < 0 {
				if h.known {
					t.Fatalf("heap = %s (%s), want unknown", human(h.bytes), h.how)
				}
				if h.why == "" {
					t.Fatal("unknown heap without a reason")
				}
				return
			}
			if !h.known || h.bytes != tt.want {
				t.Fatalf("heap = %d (%s; known %v, why %q), want %d", h.bytes, h.how, h.known, h.why, tt.want)
			}
		})
	}
}

func TestJVMInvalidOptions(t *testing.T) {
	for _, in := range []string{"-Xmx2GB", "-Xmx1.5g", "-XX:MaxRAMPercentage=75%", "-XX:MaxRAMPercentage=120", "-XX:MaxRAMFraction=0", "-Xmxg"} {
		t.Run(in, func(t *testing.T) {
			o := opts(in)
			if len(o.Invalid) != 1 {
				t.Fatalf("Invalid = %v, want one entry", o.Invalid)
			}
		})
	}
}

func TestJDKFromImage(t *testing.T) {
	tests := []struct {
		image string
		want  jdkVersion
	}{
		{"eclipse-temurin:21-jre", jdkVersion{major: 21, known: true}},
		{"eclipse-temurin:17.0.9_9-jre-jammy", jdkVersion{major: 17, update: 9, known: true}},
		{"openjdk:8u181-jre-alpine", jdkVersion{major: 8, update: 181, known: true}},
		{"openjdk:11.0.16-jre-slim", jdkVersion{major: 11, update: 16, known: true}},
		{"eclipse-temurin:11.0.15_10-jre", jdkVersion{major: 11, update: 15, known: true}},
		{"eclipse-temurin:11-jre", jdkVersion{major: 11, known: true}},
		{"amazoncorretto:8u392", jdkVersion{major: 8, update: 392, known: true}},
		{"tomcat:9.0-jdk17-temurin", jdkVersion{major: 17, known: true}},
		{"maven:3.9-eclipse-temurin-21", jdkVersion{major: 21, known: true}},
		{"gcr.io/distroless/java17-debian12", jdkVersion{major: 17, known: true}},
		{"ibm-semeru-runtimes:open-17-jre", jdkVersion{major: 17, known: true}},
		{"registry.example.com/orders:1.4.2", jdkVersion{}},
		{"eclipse-temurin:21-jre@sha256:0123", jdkVersion{major: 21, known: true}},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := jdkFromImage(tt.image); got != tt.want {
				t.Fatalf("jdkFromImage(%q) = %+v, want %+v", tt.image, got, tt.want)
			}
		})
	}
}

// TestJVMOptionSources checks each place options come from and their
// precedence: JAVA_TOOL_OPTIONS < JDK_JAVA_OPTIONS < command line <
// _JAVA_OPTIONS, JAVA_OPTS only through a command or the image's script.
func TestJVMOptionSources(t *testing.T) {
	cm := `apiVersion: v1
kind: ConfigMap
metadata: {name: jvm, namespace: games}
data: {JAVA_OPTS: "-Xmx700m", JTO: "-XX:MaxRAMPercentage=50"}`
	tests := []struct {
		name      string
		container string
		extra     []string
		want      int64
		source    string // a substring of how the heap came about
		unused    bool
	}{
		{"JAVA_TOOL_OPTIONS", `image: eclipse-temurin:21
env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}]
resources: {limits: {memory: 2Gi}}`, nil, GiB, "env JAVA_TOOL_OPTIONS", false},
		{"command line beats JAVA_TOOL_OPTIONS", `image: eclipse-temurin:21
command: [java, -Xmx1200m, -jar, app.jar, -Xmx9g]
env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}]
resources: {limits: {memory: 2Gi}}`, nil, 1200 * MiB, "command", false},
		{"JDK_JAVA_OPTIONS between", `image: eclipse-temurin:21
env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}, {name: JDK_JAVA_OPTIONS, value: "-Xmx900m"}]
resources: {limits: {memory: 2Gi}}`, nil, 900 * MiB, "JDK_JAVA_OPTIONS", false},
		{"JDK_JAVA_OPTIONS ignored by JDK 8", `image: openjdk:8u392-jre
env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}, {name: JDK_JAVA_OPTIONS, value: "-Xmx900m"}]
resources: {limits: {memory: 2Gi}}`, nil, GiB, "JAVA_TOOL_OPTIONS", false},
		{"_JAVA_OPTIONS beats the command line", `image: eclipse-temurin:21
args: [java, -Xmx1200m, -jar, app.jar]
env: [{name: _JAVA_OPTIONS, value: "-Xmx300m"}]
resources: {limits: {memory: 2Gi}}`, nil, 300 * MiB, "_JAVA_OPTIONS", false},
		{"JAVA_OPTS through sh -c", `image: eclipse-temurin:21
command: [sh, -c, 'exec java $JAVA_OPTS -jar /app.jar']
env: [{name: JAVA_OPTS, value: "-XX:MaxRAMPercentage=75.0 -XX:+UseG1GC"}]
resources: {limits: {memory: 2Gi}}`, nil, 1536 * MiB, "env JAVA_OPTS", false},
		{"JAVA_OPTS from a ConfigMap key, $(VAR) in args", `image: eclipse-temurin:21
command: [/bin/bash, -c]
args: ["java $(JAVA_OPTS) -jar /app.jar"]
env: [{name: JAVA_OPTS, valueFrom: {configMapKeyRef: {name: jvm, key: JAVA_OPTS}}}]
resources: {limits: {memory: 2Gi}}`, []string{cm}, 700 * MiB, "ConfigMap jvm key JAVA_OPTS", false},
		{"JAVA_TOOL_OPTIONS via envFrom prefix", `image: eclipse-temurin:21
envFrom: [{configMapRef: {name: jvm}, prefix: CFG_}]
env: [{name: JAVA_TOOL_OPTIONS, value: "$(CFG_JTO)"}]
resources: {limits: {memory: 2Gi}}`, []string{cm}, GiB, "MaxRAMPercentage=50", false},
		{"JAVA_OPTS read by the image's script", `image: eclipse-temurin:21
env: [{name: JAVA_OPTS, value: "-Xmx1g"}]
resources: {limits: {memory: 2Gi}}`, nil, GiB, "passed to java by the start script", false},
		{"JAVA_OPTS not passed by an explicit command", `image: eclipse-temurin:21
command: [java, -jar, /app.jar]
env: [{name: JAVA_OPTS, value: "-Xmx1g"}]
resources: {limits: {memory: 2Gi}}`, nil, 512 * MiB, "25%", true},
		{"export inside the script", `image: eclipse-temurin:21
command: [sh, -c, 'export HEAP="-Xmx1100m"; exec java $HEAP -jar app.jar']
resources: {limits: {memory: 2Gi}}`, nil, 1100 * MiB, "command", false},
		{"default expansion", `image: eclipse-temurin:21
command: [sh, -c, 'java ${JAVA_OPTS:--Xmx800m} -jar app.jar']
resources: {limits: {memory: 2Gi}}`, nil, 800 * MiB, "command", false},
		{"tini wrapper", `image: eclipse-temurin:21
command: [/sbin/tini, --, java, -XX:MaxRAMPercentage=60, -jar, app.jar]
resources: {limits: {memory: 1Gi}}`, nil, 616 * MiB, "60%", false},
		{"LimitRange default limit", `image: eclipse-temurin:21`, []string{`apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: games}
spec: {limits: [{type: Container, default: {memory: 1Gi}}]}`}, 256 * MiB, "LimitRange", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := containerOf(t, pod(tt.container, tt.extra...), "app")
			if ct.rt.kind != runtimeJVM {
				t.Fatalf("runtime %q, want jvm", ct.rt.kind)
			}
			_, h, unknown, unused := jvmOf(ct)
			if len(unknown) > 0 || !h.known {
				t.Fatalf("heap unknown: %v %s", unknown, h.why)
			}
			if h.bytes != tt.want {
				t.Fatalf("heap %d (%s), want %d", h.bytes, h.how, tt.want)
			}
			if !strings.Contains(h.how+" "+ct.limitOf, tt.source) {
				t.Errorf("how %q (limit from %q) does not name %q", h.how, ct.limitOf, tt.source)
			}
			if (len(unused) > 0) != tt.unused {
				t.Errorf("unused = %v, want unused %v", unused, tt.unused)
			}
		})
	}
}

func TestJVMUnknownHeap(t *testing.T) {
	tests := []struct{ name, container string }{
		{"from a Secret", `image: eclipse-temurin:21
env: [{name: JAVA_TOOL_OPTIONS, valueFrom: {secretKeyRef: {name: s, key: k}}}]
resources: {limits: {memory: 2Gi}}`},
		{"command substitution", `image: eclipse-temurin:21
command: [sh, -c, 'exec java -Xmx$(cat /etc/heap) -jar app.jar']
resources: {limits: {memory: 2Gi}}`},
		{"argfile", `image: eclipse-temurin:21
command: [java, "@/etc/jvm.args", -jar, app.jar]
resources: {limits: {memory: 2Gi}}`},
		{"heap options in args for the image's entrypoint", `image: eclipse-temurin:21
args: [-Xmx512m, -jar, /app.jar]
resources: {limits: {memory: 2Gi}}`},
		{"launcher sizes its own heap", `image: docker.elastic.co/elasticsearch/elasticsearch:8.15.0
resources: {limits: {memory: 4Gi}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Inspect(inventoryOf(t, pod(tt.container)), Options{})
			got := strings.Join(rulesOf(rep.Findings, "app"), " ")
			if !strings.Contains(got, "jvm-heap-unknown") || strings.Contains(got, "jvm-heap-over") || strings.Contains(got, "jvm-heap-waste") {
				t.Fatalf("rules %s: want jvm-heap-unknown and no heap verdict", got)
			}
		})
	}
}

func TestJVMThreadsAnnotation(t *testing.T) {
	c := `image: eclipse-temurin:21
env: [{name: JAVA_TOOL_OPTIONS, value: "-Xmx1g"}]
resources: {limits: {memory: 2Gi}}`
	tests := []struct {
		name, annotation string
		want             string
	}{
		{"default 250 threads fit", "", ""},
		{"800 threads do not", "800", "jvm-total-over-limit"},
		{"not a number is ignored", "many", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := pod(c)
			if tt.annotation != "" {
				y = strings.Replace(y, "metadata: {labels: {app: svc}}", "metadata: {labels: {app: svc}, annotations: {stadion.dev/jvm-threads: '"+tt.annotation+"'}}", 1)
			}
			got := rulesOf(Inspect(inventoryOf(t, y), Options{}).Findings, "app")
			has := false
			for _, r := range got {
				has = has || r == "jvm-total-over-limit"
			}
			if has != (tt.want != "") {
				t.Fatalf("rules %v, want jvm-total-over-limit: %v", got, tt.want != "")
			}
		})
	}
}

func TestCgroupV1Only(t *testing.T) {
	tests := []struct {
		image string
		want  bool
	}{
		{"openjdk:8u212-jre", true}, {"openjdk:8u371-jre", true}, {"amazoncorretto:8u372", false}, {"openjdk:8u181-jre", false}, // 8u181 has no container support at all
		{"openjdk:8-jre", false}, {"eclipse-temurin:11.0.15_10-jre", true}, {"eclipse-temurin:11.0.16_8-jre", false}, {"eclipse-temurin:11-jre", false},
		{"openjdk:14-jdk", true}, {"eclipse-temurin:17-jre", false}, {"registry.example.com/app:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := jdkFromImage(tt.image).cgroupV1Only(); got != tt.want {
				t.Fatalf("cgroupV1Only(%s) = %v, want %v", jdkFromImage(tt.image), got, tt.want)
			}
		})
	}
}
