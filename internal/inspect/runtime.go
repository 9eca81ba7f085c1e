package inspect

import (
	"path"
	"strings"
)

// Runtimes a container can be found to run.
const (
	runtimeUnknown = ""
	runtimeJVM     = "jvm"
	runtimeGo      = "go"
	runtimeNode    = "node"
	runtimePython  = "python"
)

// runtimeInfo is what a container runs and how that is known.
type runtimeInfo struct {
	kind     string
	evidence string     // "command runs java", "image eclipse-temurin:21", "annotation stadion.dev/runtime"
	prog     []word     // the runtime's own argv when the command names it
	progOK   bool       // prog is known
	jdk      jdkVersion // JVM only
	node     int        // Node major version, 0 unknown
}

// RuntimeAnnotation declares a runtime for a pod's containers
// ("stadion.dev/runtime: jvm"), or for one ("stadion.dev/runtime.NAME: go"),
// where neither image nor command nor env says it.
const RuntimeAnnotation = "stadion.dev/runtime"

var (
	jvmProgs  = map[string]bool{"java": true}
	nodeProgs = map[string]bool{"node": true, "nodejs": true, "npm": true, "npx": true, "yarn": true, "pnpm": true}
	pyProgs   = map[string]bool{"python": true, "python3": true, "gunicorn": true, "uvicorn": true, "celery": true}
	allProgs  = merge(jvmProgs, nodeProgs, pyProgs)

	jvmImages = []string{"openjdk", "temurin", "corretto", "zulu", "liberica", "semeru", "sapmachine", "graalvm", "distroless/java", "ibmjava",
		"tomcat", "jetty", "wildfly", "jboss", "keycloak", "elasticsearch", "opensearch", "logstash", "kafka", "zookeeper", "cassandra",
		"flink", "spark", "jenkins", "sonarqube", "nexus3", "neo4j", "solr", "activemq", "trino"}
	goImages = []string{"prometheus", "alertmanager", "grafana/loki", "grafana/tempo", "grafana/mimir", "traefik", "coredns", "etcd",
		"nats", "hashicorp/vault", "hashicorp/consul", "jaegertracing", "opentelemetry-collector", "stadion-dev/stadion", "golang",
		"thanos", "victoriametrics", "minio/minio", "external-dns", "cert-manager"}
	pyImages = []string{"python", "pypy"}

	// jvmEnv are read by every HotSpot JVM (JDK_JAVA_OPTIONS by the java
	// launcher of JDK 9+).
	jvmEnv = []string{"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"}
	goEnv  = []string{"GOMEMLIMIT", "GOGC", "GOMAXPROCS"}
)

func merge(ms ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// detectRuntime finds what a container runs from, in order: an annotation,
// the program its command or `sh -c` script starts, the variables only a
// runtime reads, and the image's name. Nothing matched stays unknown.
func detectRuntime(ct *container) runtimeInfo {
	rt := runtimeInfo{}
	rt.prog, _, rt.progOK = program(ct.argv, ct.lookup, allProgs)
	image := strings.ToLower(ct.c.Image)
	rt.kind, rt.evidence = declared(ct)
	if rt.kind == runtimeUnknown && rt.progOK && len(rt.prog) > 0 {
		switch p := path.Base(rt.prog[0].text); {
		case jvmProgs[p]:
			rt.kind, rt.evidence = runtimeJVM, "the command runs java"
		case nodeProgs[p]:
			rt.kind, rt.evidence = runtimeNode, "the command runs "+p
		case pyProgs[p] || strings.HasPrefix(p, "python"):
			rt.kind, rt.evidence = runtimePython, "the command runs "+p
		}
	}
	if rt.kind == runtimeUnknown {
		rt.kind, rt.evidence = fromEnv(ct)
	}
	if rt.kind == runtimeUnknown {
		rt.kind, rt.evidence = fromImage(image)
	}
	if rt.kind == runtimeUnknown {
		if _, ok := ct.env["JAVA_OPTS"]; ok {
			rt.kind, rt.evidence = runtimeJVM, "JAVA_OPTS is set"
		}
	}
	switch rt.kind {
	case runtimeJVM:
		rt.jdk = jdkFromImage(image)
	case runtimeNode:
		rt.node = nodeVersion(image)
	}
	return rt
}

func declared(ct *container) (string, string) {
	for _, a := range []map[string]string{ct.w.Template.Annotations, ct.w.Annotations} {
		for _, key := range []string{RuntimeAnnotation + "." + ct.c.Name, RuntimeAnnotation} {
			if v, ok := a[key]; ok {
				switch v = strings.ToLower(strings.TrimSpace(v)); v {
				case runtimeJVM, runtimeGo, runtimeNode, runtimePython:
					return v, "annotation " + key
				}
			}
		}
	}
	return runtimeUnknown, ""
}

func fromEnv(ct *container) (string, string) {
	for _, n := range jvmEnv {
		if _, ok := ct.env[n]; ok {
			return runtimeJVM, n + " is set"
		}
	}
	if _, ok := ct.env["NODE_OPTIONS"]; ok {
		return runtimeNode, "NODE_OPTIONS is set"
	}
	for _, n := range goEnv {
		if _, ok := ct.env[n]; ok {
			return runtimeGo, n + " is set"
		}
	}
	return runtimeUnknown, ""
}

func fromImage(image string) (string, string) {
	repo, tag := splitImage(image)
	base := repo[strings.LastIndexByte(repo, '/')+1:]
	has := func(list []string) bool {
		for _, s := range list {
			if strings.Contains(repo, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has(jvmImages) || strings.Contains(tag, "jdk") || strings.Contains(tag, "jre"):
		return runtimeJVM, "image " + image
	case base == "node" || strings.HasPrefix(base, "nodejs"):
		return runtimeNode, "image " + image
	case has(goImages):
		return runtimeGo, "image " + image
	case has(pyImages):
		return runtimePython, "image " + image
	}
	return runtimeUnknown, ""
}
