package inspect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// HotSpot constants (src/hotspot/share/gc/shared/gc_globals.hpp and
// runtime/arguments.cpp, JDK 10 to 25 and 8u191+; see docs/inspect.md):
const (
	// jvmDefaultMaxHeapSize is MaxHeapSize's built-in default on 64-bit:
	// ScaleForWordSize(96 MB) = 96 MiB × 13/10, aligned down to 8 bytes.
	jvmDefaultMaxHeapSize = 96 * MiB * 13 / 10 &^ 7
	// jvmDefaultMaxRAM caps the memory the ergonomics see (64-bit server).
	jvmDefaultMaxRAM = 128 * GiB
	jvmDefaultMaxPct = 25.0
	jvmDefaultMinPct = 50.0
	// jvmCardAlignment is the heap alignment the card table imposes with
	// 4 KiB pages (512-byte cards × page size).
	jvmCardAlignment = 2 * MiB
)

// alignHeap rounds a maximum heap up as HotSpot does: to 2 MiB, or to G1's
// region size for large heaps (heap/2048 rounded down to a power of two,
// at most 32 MiB).
func alignHeap(b int64) int64 {
	align := jvmCardAlignment
	for r := int64(4 * MiB); r <= 32*MiB && r <= b/2048; r *= 2 {
		align = r
	}
	return (b + align - 1) / align * align
}

// jdkVersion is what the image name says of the JDK; known is false when
// it says nothing. update is 8's update (8u372) or the patch of a later
// release (11.0.16 → 16), 0 when the tag does not say.
type jdkVersion struct {
	major, update int
	known         bool
}

func (v jdkVersion) String() string {
	switch {
	case !v.known:
		return "unknown JDK"
	case v.update > 0 && v.major == 8:
		return fmt.Sprintf("JDK %du%d", v.major, v.update)
	case v.update > 0:
		return fmt.Sprintf("JDK %d.0.%d", v.major, v.update)
	}
	return fmt.Sprintf("JDK %d", v.major)
}

// containerAware reports whether this JDK reads the container's memory
// limit: JDK 10 and later, and 8u191 and later. An unknown JDK, or an 8
// without an update number (a floating tag), is assumed to be aware and
// the assumption is returned so messages can say so.
func (v jdkVersion) containerAware() (aware bool, assumption string) {
	switch {
	case !v.known:
		return true, "assuming JDK 11+ or 8u191+, which read the container limit"
	case v.major >= 10:
		return true, ""
	case v.major == 8 && v.update == 0:
		return true, "assuming 8u191 or later, which read the container limit"
	case v.major == 8 && v.update >= 191:
		return true, ""
	}
	return false, ""
}

// cgroupV1Only reports a JDK that reads container limits from cgroup v1
// only: cgroup v2 support (JDK-8230305) came in JDK 15 and was backported
// to 11.0.16 and 8u372. On a cgroup v2 node such a JDK sizes its heap from
// the node's memory. A tag without the update number is not reported.
func (v jdkVersion) cgroupV1Only() bool {
	switch {
	case !v.known:
		return false
	case v.major == 8:
		return v.update >= 191 && v.update < 372
	case v.major == 11:
		return v.update > 0 && v.update < 16
	}
	return v.major == 10 || (v.major >= 12 && v.major <= 14)
}

var (
	jdkInName = regexp.MustCompile(`(?:jdk|jre|java|temurin|openjdk|corretto|zulu|semeru|liberica)[-_]?(\d+)(?:u(\d+))?(?:\.\d+\.(\d+))?`)
	jdkInTag  = regexp.MustCompile(`^(?:open-|jdk-?|jre-?)?(\d+)(?:u(\d+))?(?:\.\d+\.(\d+))?(?:[.\-_+]|$)`)
)

// jdkRepos are images whose tag starts with the Java version.
var jdkRepos = []string{"openjdk", "eclipse-temurin", "amazoncorretto", "zulu-openjdk", "sapmachine", "ibm-semeru-runtimes", "liberica-openjdk", "microsoft/openjdk/jdk", "ibmjava", "adoptopenjdk", "ubi8/openjdk", "ubi9/openjdk", "graalvm"}

// jdkFromImage reads the JDK version from an image reference.
func jdkFromImage(image string) jdkVersion {
	repo, tag := splitImage(strings.ToLower(image))
	if m := jdkInName.FindStringSubmatch(repo + ":" + tag); m != nil {
		return versionFrom(m)
	}
	for _, r := range jdkRepos {
		if strings.HasSuffix(repo, r) || strings.Contains(repo, r+"-") {
			if m := jdkInTag.FindStringSubmatch(tag); m != nil {
				return versionFrom(m)
			}
		}
	}
	return jdkVersion{}
}

func versionFrom(m []string) jdkVersion {
	major, _ := strconv.Atoi(m[1])
	update, _ := strconv.Atoi(m[2])
	if patch, _ := strconv.Atoi(m[3]); major >= 9 && patch > 0 {
		update = patch // 11.0.16: the third number plays 8's update role
	}
	if major == 1 && update == 0 { // "1.8": not a JDK name this tool reads
		return jdkVersion{}
	}
	return jdkVersion{major: major, update: update, known: major >= 5 && major < 100}
}

// splitImage returns an image's repository and tag ("" without one); a
// digest is dropped.
func splitImage(image string) (repo, tag string) {
	image, _, _ = strings.Cut(image, "@")
	slash := strings.LastIndexByte(image, '/')
	if c := strings.LastIndexByte(image, ':'); c > slash {
		return image[:c], image[c+1:]
	}
	return image, ""
}

// heap is a runtime's maximum heap as this tool computed it.
type heap struct {
	bytes    int64
	known    bool
	explicit bool   // set by a flag rather than derived from the limit
	how      string // how the number came about, for messages
	why      string // when unknown: why
}

// jvmMaxHeap computes the JVM's maximum heap as HotSpot's
// Arguments::set_heap_size does, for a container with the given memory
// limit (0 for none).
func jvmMaxHeap(o jvmOptions, limit int64, v jdkVersion) heap {
	if o.MaxHeap.set {
		return heap{bytes: alignHeap(o.MaxHeap.bytes), known: true, explicit: true, how: fmt.Sprintf("%s (%s)", o.MaxHeap.text, o.MaxHeap.source)}
	}
	var phys int64
	var physHow string
	aware, assumption := v.containerAware()
	off := o.ContainerSupport != nil && !*o.ContainerSupport
	switch {
	case o.MaxRAM.set:
		phys, physHow = o.MaxRAM.bytes, fmt.Sprintf("%s (%s)", o.MaxRAM.text, o.MaxRAM.source)
	case off:
		return heap{why: fmt.Sprintf("%s (%s) makes the JVM size its heap from the node's memory, not the container's", o.ContainerSupportText, o.ContainerSrc)}
	case !aware:
		return heap{why: fmt.Sprintf("%s predates container support (8u191, 10): it sizes its heap from the node's memory", v)}
	case limit <= 0:
		return heap{why: "without a memory limit the JVM sizes its heap from the node's memory"}
	default:
		phys, physHow = min(limit, jvmDefaultMaxRAM), "the "+human(limit)+" limit"
		if assumption != "" {
			physHow += ", " + assumption
		}
	}
	maxPct, minPct := pctOr(o.MaxPct, jvmDefaultMaxPct), pctOr(o.MinPct, jvmDefaultMinPct)
	reasonableMax := int64(float64(phys) * maxPct / 100)
	reasonableMin := int64(float64(phys) * minPct / 100)
	var h heap
	switch {
	case reasonableMin < jvmDefaultMaxHeapSize:
		h = heap{bytes: reasonableMin, how: fmt.Sprintf("%s of %s (below ~250 MB the JVM uses MinRAMPercentage)", pctText(o.MinPct, jvmDefaultMinPct), physHow)}
	case reasonableMax < jvmDefaultMaxHeapSize:
		h = heap{bytes: jvmDefaultMaxHeapSize, how: fmt.Sprintf("the JVM's floor of %s, as %s of %s is below it", human(jvmDefaultMaxHeapSize), pctText(o.MaxPct, jvmDefaultMaxPct), physHow)}
	default:
		h = heap{bytes: reasonableMax, how: fmt.Sprintf("%s of %s", pctText(o.MaxPct, jvmDefaultMaxPct), physHow)}
	}
	h.known = true
	h.explicit = o.MaxPct.set || o.MaxRAM.set
	if o.InitialHeap.set && o.InitialHeap.bytes > h.bytes {
		h.bytes, h.explicit = o.InitialHeap.bytes, true
		h.how = fmt.Sprintf("%s (%s), which raises the maximum to the initial size", o.InitialHeap.text, o.InitialHeap.source)
	}
	if a := alignHeap(h.bytes); a != h.bytes {
		h.bytes, h.how = a, h.how+", rounded up to the heap alignment"
	}
	return h
}

func pctOr(p pctOpt, def float64) float64 {
	if p.set {
		return p.pct
	}
	return def
}

func pctText(p pctOpt, def float64) string {
	if p.set {
		return fmt.Sprintf("%s%% (%s, %s)", strconv.FormatFloat(p.pct, 'f', -1, 64), p.text, p.source)
	}
	return fmt.Sprintf("%s%% (the JDK default)", strconv.FormatFloat(def, 'f', -1, 64))
}

// Estimates are the assumptions behind the JVM's non-heap estimate, used
// where the options do not set the size. The defaults follow the Paketo /
// Cloud Foundry Java memory calculator (250 threads, 240 MiB code cache,
// 10 MiB direct memory) and HotSpot's 1 MiB thread stack on Linux x64.
type Estimates struct {
	Threads   int   // live Java threads
	Metaspace int64 // class metadata, when -XX:MaxMetaspaceSize is not set
	CodeCache int64 // when -XX:ReservedCodeCacheSize is not set
	Direct    int64 // when -XX:MaxDirectMemorySize is not set
	Stack     int64 // when -Xss is not set
	NodeExtra int64 // a Node process's memory beyond the V8 heap
}

// DefaultEstimates are the documented defaults.
func DefaultEstimates() Estimates {
	return Estimates{Threads: 250, Metaspace: 128 * MiB, CodeCache: 240 * MiB, Direct: 10 * MiB, Stack: MiB, NodeExtra: 128 * MiB}
}

// jvmNonHeap estimates the JVM's memory beyond the heap and says what it
// is made of.
func jvmNonHeap(o jvmOptions, e Estimates) (int64, string) {
	pick := func(s sizeOpt, def int64) (int64, string) {
		if s.set {
			return s.bytes, s.text
		}
		return def, "est."
	}
	meta, metaSrc := pick(o.Metaspace, e.Metaspace)
	code, codeSrc := pick(o.CodeCache, e.CodeCache)
	direct, directSrc := pick(o.Direct, e.Direct)
	stack, stackSrc := pick(o.Xss, e.Stack)
	threads := int64(e.Threads) * stack
	total := meta + code + direct + threads
	return total, fmt.Sprintf("metaspace %s (%s) + code cache %s (%s) + %d thread stacks × %s (%s) + direct %s (%s)",
		human(meta), metaSrc, human(code), codeSrc, e.Threads, human(stack), stackSrc, human(direct), directSrc)
}
