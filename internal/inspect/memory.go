package inspect

import (
	"path"
	"strconv"
	"strings"
)

// memory runs the memory rules for one container.
func (k *check) memory(ct *container) {
	switch ct.rt.kind {
	case runtimeJVM:
		k.jvm(ct)
	case runtimeGo:
		k.golang(ct)
	case runtimeNode:
		k.node(ct)
	}
	if ct.limit == 0 && ct.rt.kind != runtimeJVM {
		k.add("memory-limit-missing", Warning, ct, "%s has no memory limit: it can use the node's memory until the kernel kills it or its neighbours.", ct.title())
	}
	if ct.request == 0 && ct.limit == 0 {
		k.add("memory-request-missing", Warning, ct, "%s has no memory request: the scheduler places it as if it needed none.", ct.title())
	}
}

// scriptOptionVars are read by start scripts and passed to java; the JVM
// itself does not read them.
var scriptOptionVars = []string{"JAVA_OPTS", "CATALINA_OPTS", "JVM_OPTS", "ES_JAVA_OPTS", "OPENSEARCH_JAVA_OPTS", "LS_JAVA_OPTS", "KAFKA_HEAP_OPTS"}

// ownHeapImages size the heap in their own launcher when no option sets it.
var ownHeapImages = []string{"elasticsearch", "opensearch", "logstash", "kafka", "cassandra", "solr", "neo4j"}

// jvmWords assembles the JVM's options in the order the JVM applies them:
// JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS (java launcher, JDK 9+), the command
// line (or, when the image's entrypoint starts java, the start script's
// variables), then _JAVA_OPTIONS. The last occurrence of an option wins.
func jvmWords(ct *container) (words []word, unknown, unused []string) {
	fromEnv := func(name, note string) {
		v, ok := ct.env[name]
		switch {
		case !ok:
		case !v.known:
			unknown = append(unknown, name+" from "+v.source+" is not in the input")
		default:
			words = append(words, splitOptions(v.value, v.source+note)...)
		}
	}
	fromEnv("JAVA_TOOL_OPTIONS", "")
	if ct.rt.jdk.major == 0 || ct.rt.jdk.major >= 9 {
		fromEnv("JDK_JAVA_OPTIONS", "")
	}
	if ct.rt.progOK && len(ct.rt.prog) > 0 && path.Base(ct.rt.prog[0].text) == "java" {
		words = append(words, javaOptions(ct.rt.prog[1:])...)
		for _, n := range scriptOptionVars {
			if _, set := ct.env[n]; set && !mentions(ct.rt.prog, n) {
				unused = append(unused, n)
			}
		}
	} else {
		for _, n := range scriptOptionVars {
			fromEnv(n, ", passed to java by the start script")
		}
		if len(ct.c.Command) == 0 && hasHeapOption(ct.argv) {
			unknown = append(unknown, "args "+strings.Join(texts(ct.argv), " ")+" go to the image's entrypoint, which is not in the manifest")
		}
	}
	fromEnv("_JAVA_OPTIONS", "")
	return words, unknown, unused
}

// hasHeapOption reports whether words hold a JVM heap option.
func hasHeapOption(ws []word) bool {
	o := parseJVMOptions(ws)
	return o.MaxHeap.set || o.InitialHeap.set || o.MaxPct.set || o.MinPct.set || o.MaxRAM.set || len(o.Invalid) > 0
}

func texts(ws []word) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.text
	}
	return out
}

func mentions(ws []word, name string) bool {
	for _, w := range ws {
		if strings.Contains(w.source, name) {
			return true
		}
	}
	return false
}

// javaTakesValue are java launcher options whose value is the next argument.
var javaTakesValue = map[string]bool{"-cp": true, "-classpath": true, "--class-path": true, "-p": true, "--module-path": true,
	"--upgrade-module-path": true, "--add-modules": true, "--add-opens": true, "--add-exports": true, "--add-reads": true,
	"--limit-modules": true, "--enable-native-access": true}

// javaOptions returns the launcher options before the main class, -jar
// FILE or -m MODULE; what follows belongs to the application.
func javaOptions(args []word) []word {
	var out []word
	for i := 0; i < len(args); i++ {
		t := args[i].text
		switch {
		case t == "-jar" || t == "-m" || t == "--module":
			return out
		case javaTakesValue[t]:
			i++
		case strings.HasPrefix(t, "-") || strings.HasPrefix(t, "@"):
			out = append(out, args[i])
		default:
			return out
		}
	}
	return out
}

// jvmOf reads a JVM container's options and computes its maximum heap.
func jvmOf(ct *container) (o jvmOptions, h heap, unknown, unused []string) {
	words, unknown, unused := jvmWords(ct)
	o = parseJVMOptions(words)
	return o, jvmMaxHeap(o, ct.limit, ct.rt.jdk), unknown, unused
}

func (k *check) jvm(ct *container) {
	o, h, unknown, unused := jvmOf(ct)
	for _, n := range unused {
		k.add("jvm-opts-unused", Warning, ct, "%s is set (%s) but the command starts java without it, so none of its options apply.", n, ct.env[n].source)
	}
	if len(o.Invalid) > 0 {
		k.add("jvm-invalid-option", Critical, ct, "The JVM refuses to start with %s.", strings.Join(o.Invalid, ", "))
		return
	}
	if ct.limit == 0 {
		k.add("jvm-no-memory-limit", Warning, ct, "JVM (%s) with no memory limit: its heap is a share of the node's memory (25%% by default), and nothing stops it growing into its neighbours'.", ct.rt.evidence)
		return
	}
	limitText := human(ct.limit) + " limit (" + ct.limitOf + ")"
	aware, _ := ct.rt.jdk.containerAware()
	switch {
	case o.ContainerSupport != nil && !*o.ContainerSupport && h.known:
		k.add("jvm-container-support-off", Warning, ct, "%s (%s): the heap is set explicitly (%s), but the JVM's CPU count and GC choices ignore the container.", o.ContainerSupportText, o.ContainerSrc, h.how)
	case !h.known && ((o.ContainerSupport != nil && !*o.ContainerSupport) || !aware):
		k.add("jvm-container-support-off", Critical, ct, "%s: its default heap (25%% of the node's memory) can be several times the %s.", h.why, limitText)
		return
	}
	if h.known && !h.explicit && ct.rt.jdk.cgroupV1Only() {
		k.add("jvm-cgroup-v1-only", Warning, ct, "%s reads container limits from cgroup v1 only: on cgroup v2 nodes (the default on current distributions and managed Kubernetes) it sizes its heap from the node's memory, not the %s; the %s heap computed here holds on cgroup v1 nodes only.", ct.rt.jdk, limitText, human(h.bytes))
	}
	if !h.known || len(unknown) > 0 || len(o.Dynamic) > 0 || len(o.ArgFiles) > 0 || (!h.explicit && ownHeap(ct.c.Image)) {
		k.add("jvm-heap-unknown", Info, ct, "The heap is not checked: %s.", unknownReason(h, unknown, o, ct.c.Image))
		return
	}
	nh, parts := jvmNonHeap(o, k.estimates())
	total := h.bytes + nh
	caveat := ""
	if len(ct.hidden) > 0 {
		caveat = " (" + strings.Join(ct.hidden, ", ") + " may add JVM options not seen here)"
	}
	switch {
	case h.bytes >= ct.limit:
		k.add("jvm-heap-over-limit", Critical, ct, "Max heap %s = %s, at or over the %s: the kernel kills the container before the GC is pressed%s.", human(h.bytes), h.how, limitText, caveat)
	case total > ct.limit:
		k.add("jvm-total-over-limit", Warning, ct, "Max heap %s (%s) + non-heap estimate %s [%s] = %s, over the %s%s.", human(h.bytes), h.how, human(nh), parts, human(total), limitText, caveat)
	case total < ct.limit/2:
		k.add("jvm-heap-waste", Info, ct, "Max heap %s (%s) + non-heap estimate %s = %s, under half the %s: the rest is never used by the JVM.", human(h.bytes), h.how, human(nh), human(total), limitText)
	}
	if o.MaxHeap.set {
		k.add("jvm-heap-fixed", Info, ct, "%s (%s) fixes the heap at %s whatever the limit: container-aware heap sizing no longer applies.", o.MaxHeap.text, o.MaxHeap.source, human(h.bytes))
	}
	if ct.request > 0 && ct.request < ct.limit && ct.request < min(total, ct.limit) {
		k.add("jvm-request-below-limit", Warning, ct, "Memory request %s is below the JVM's expected footprint %s (heap %s + non-heap %s; limit %s): on a shared node the JVM grows past its request and overcommits the node.", human(ct.request), human(min(total, ct.limit)), human(h.bytes), human(nh), human(ct.limit))
	}
}

// ThreadsAnnotation sets the Java thread count of one workload's non-heap
// estimate ("stadion.dev/jvm-threads: \"400\""), on the object or its pod
// template; --jvm-threads sets it for all.
const ThreadsAnnotation = "stadion.dev/jvm-threads"

func (k *check) estimates() Estimates {
	e := k.opt.Estimates
	for _, a := range []map[string]string{k.w.Annotations, k.w.Template.Annotations} {
		if n, err := strconv.Atoi(strings.TrimSpace(a[ThreadsAnnotation])); err == nil && n > 0 && n < 1_000_000 {
			e.Threads = n
		}
	}
	return e
}

func ownHeap(image string) bool {
	repo, _ := splitImage(strings.ToLower(image))
	for _, s := range ownHeapImages {
		if strings.Contains(repo, s) {
			return true
		}
	}
	return false
}

func unknownReason(h heap, unknown []string, o jvmOptions, image string) string {
	var r []string
	if !h.known {
		r = append(r, h.why)
	}
	r = append(r, unknown...)
	for _, d := range o.Dynamic {
		r = append(r, d+" is computed at run time")
	}
	for _, a := range o.ArgFiles {
		r = append(r, a+" reads options from a file")
	}
	if h.known && !h.explicit && ownHeap(image) {
		r = append(r, "the image's launcher sizes the heap itself when no option sets it")
	}
	return strings.Join(r, "; ")
}

func (k *check) golang(ct *container) {
	gml, hasLimit := ct.env["GOMEMLIMIT"]
	gogc := ct.env["GOGC"]
	if hasLimit && !gml.known {
		return
	}
	n := int64(-1)
	if hasLimit {
		var ok bool
		if n, ok = parseGoByteCount(gml.value); !ok {
			k.add("go-gomemlimit-invalid", Critical, ct, "GOMEMLIMIT=%s (%s) is malformed: the Go runtime aborts at start (\"malformed GOMEMLIMIT\").", gml.value, gml.source)
			return
		}
	}
	switch {
	case n >= 0 && ct.limit > 0 && n > ct.limit:
		k.add("go-gomemlimit-over-limit", Critical, ct, "GOMEMLIMIT=%s (%s) = %s, over the %s memory limit: the GC lets the heap grow past what the kernel allows.", gml.value, gml.source, human(n), human(ct.limit))
	case n >= 0 && ct.limit > 0 && n == ct.limit:
		k.add("go-gomemlimit-over-limit", Warning, ct, "GOMEMLIMIT=%s (%s) equals the %s memory limit: it counts only the Go runtime's memory, so stacks outside it, cgo and the page cache push the container over first.", gml.value, gml.source, human(ct.limit))
	case gogc.known && strings.EqualFold(gogc.value, "off") && n < 0:
		k.add("go-gogc-off", Critical, ct, "GOGC=off (%s) and no GOMEMLIMIT: the GC never runs and the heap grows until the container is killed.", gogc.source)
	case n < 0 && ct.limit > 0:
		k.add("go-gomemlimit-missing", Warning, ct, "Go (%s) with a %s memory limit and no GOMEMLIMIT: the GC paces on GOGC alone and can let the heap reach twice the live data, past the limit.", ct.rt.evidence, human(ct.limit))
	}
}

// nodeOptionsOf reads a Node container's heap options: NODE_OPTIONS, then
// the command line's options before the script.
func nodeOptionsOf(ct *container) (nodeOptions, string) {
	var words []word
	unknown := ""
	if v, ok := ct.env["NODE_OPTIONS"]; ok {
		if !v.known {
			unknown = "NODE_OPTIONS from " + v.source + " is not in the input"
		}
		words = append(words, splitOptions(v.value, v.source)...)
	}
	if ct.rt.progOK && len(ct.rt.prog) > 0 {
		if p := path.Base(ct.rt.prog[0].text); p == "node" || p == "nodejs" {
			for _, w := range ct.rt.prog[1:] {
				if !strings.HasPrefix(w.text, "-") {
					break
				}
				words = append(words, w)
			}
		}
	}
	return parseNodeOptions(words), unknown
}

func (k *check) node(ct *container) {
	o, unknown := nodeOptionsOf(ct)
	if ct.limit == 0 {
		return
	}
	if unknown != "" || len(o.Invalid) > 0 || len(o.Dynamic) > 0 {
		reasons := append(append([]string{}, o.Invalid...), o.Dynamic...)
		if unknown != "" {
			reasons = append(reasons, unknown)
		}
		k.add("node-heap-unknown", Info, ct, "The heap is not checked: %s.", strings.Join(reasons, "; "))
		return
	}
	limitText := human(ct.limit) + " limit (" + ct.limitOf + ")"
	h := nodeHeap(o, ct.limit, ct.rt.node)
	if !h.known {
		if nodeWorstDefault+k.opt.Estimates.NodeExtra > ct.limit {
			k.add("node-heap-unset", Warning, ct, "No --max-old-space-size: %s, so the default heap may be up to %s, over the %s.", h.why, human(nodeWorstDefault), limitText)
		}
		return
	}
	switch {
	case h.bytes >= ct.limit:
		k.add("node-heap-over-limit", Critical, ct, "Heap limit %s (%s), at or over the %s: V8 will not collect hard before the kernel kills the process.", human(h.bytes), h.how, limitText)
	case h.bytes+k.opt.Estimates.NodeExtra > ct.limit:
		k.add("node-total-over-limit", Warning, ct, "Heap limit %s (%s) + native memory estimate %s = %s, over the %s.", human(h.bytes), h.how, human(k.opt.Estimates.NodeExtra), human(h.bytes+k.opt.Estimates.NodeExtra), limitText)
	case !h.explicit && ct.limit >= 4*GiB && h.bytes < ct.limit/2:
		k.add("node-heap-plateau", Info, ct, "Heap limit %s (%s): from 4 GiB up to 15 GiB the default does not grow, so this %s gives the same heap as 4 GiB.", human(h.bytes), h.how, limitText)
	}
}
