package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/stadion-dev/stadion/internal/cmdio"
	"github.com/stadion-dev/stadion/internal/inspect"
)

var inspectCmd = &command{
	name:  "inspect",
	short: "inspect the running system (system) or the services around it (k8s)",
	long:  inspectLong,
	example: `stadion inspect system --html report.html
stadion inspect k8s deploy/
helm template games ./chart | stadion inspect k8s -`,
	sub: []*command{inspectSystemCmd, inspectK8sCmd},
}

var inspectK8sCmd = &command{
	name:  "k8s",
	short: "review Kubernetes manifests: JVM/Go/Node memory against limits, probes, PDBs, spreading, images, security",
	usage: "FILE|DIR|- ...",
	long: `Reads Kubernetes manifests (files, directories of .yaml/.yml/.json, "-" for
stdin; multi-document YAML and List objects; Helm output piped in) and
reports findings with a rule id, category, severity, object, container, an
explanation with the numbers and a fix, then a score (0-100) and a grade
(A-F) per object and overall.

Memory is computed the way each runtime computes it: the JVM's heap from
-Xmx, MaxRAMPercentage and friends in the command, args, JAVA_TOOL_OPTIONS,
JDK_JAVA_OPTIONS, _JAVA_OPTIONS and JAVA_OPTS (ConfigMap-fed too), with the
JDK's defaults otherwise; GOMEMLIMIT and GOGC for Go; --max-old-space-size and
Node 24's defaults for Node. A container's runtime is known from the
annotation stadion.dev/runtime[.CONTAINER], its command, its env or its image;
otherwise it stays unknown. Rules and sources: docs/inspect.md.

With --kubeconfig FILE (and --context) or --in-cluster it lists a live
cluster's Deployments, StatefulSets, DaemonSets, CronJobs, Jobs and Pods
(those owned by a controller are skipped), ConfigMaps, PDBs, HPAs and
LimitRanges through the API server (bearer token or client certificate;
exec plugins are not run: use 'kubectl proxy' and --server, or pipe
'kubectl get ... -o yaml' into '-').

Suppress findings with the annotation stadion.dev/ignore: rule-id,... on an
object or its pod template, or with --ignore (rule-id, Kind/ns/name or
Kind/ns/name:rule-id). --min-grade exits 1 when the overall grade is worse.`,
	example: `stadion inspect k8s deploy/
helm template games ./chart | stadion inspect k8s --min-grade C -
stadion inspect k8s --format sarif --ignore image-not-pinned manifests/ > inspect.sarif
stadion inspect k8s --kubeconfig ~/.kube/config --namespace games
kubectl proxy & stadion inspect k8s --server http://127.0.0.1:8001`,
	flags: func(fs *flag.FlagSet) func(context.Context, Env, []string) error {
		format := fs.String("format", "table", "output: "+strings.Join(inspect.Formats, ", "))
		asJSON := fs.Bool("json", false, "same as --format json")
		minGrade := fs.String("min-grade", "", "exit 1 when the overall grade is worse than this (A-F)")
		var ignore cmdio.ListFlag
		fs.Var(&ignore, "ignore", "suppress: rule-id, Kind/ns/name or Kind/ns/name:rule-id (comma-separated, repeatable)")
		est := inspect.DefaultEstimates()
		fs.IntVar(&est.Threads, "jvm-threads", est.Threads, "Java threads assumed in the JVM non-heap estimate")
		metaspace := fs.String("jvm-metaspace", "128Mi", "metaspace assumed where -XX:MaxMetaspaceSize is not set")
		nodeExtra := fs.String("node-native", "128Mi", "Node memory assumed beyond the V8 heap")
		kubeconfig := fs.String("kubeconfig", "", "review a live cluster reached with this kubeconfig file")
		kubeContext := fs.String("context", "", "kubeconfig context (default: the current one)")
		inCluster := fs.Bool("in-cluster", false, "review the cluster this runs in, with its service account")
		server := fs.String("server", "", "review a live cluster at this API URL without credentials (e.g. http://127.0.0.1:8001 from 'kubectl proxy')")
		namespace := fs.String("namespace", "", "live cluster: only this namespace (default: the context's, else all)")
		return func(ctx context.Context, env Env, args []string) error {
			if *asJSON {
				*format = "json"
			}
			if !slices.Contains(inspect.Formats, *format) {
				return usageErr("--format %q: want one of %s", *format, strings.Join(inspect.Formats, ", "))
			}
			if *minGrade != "" && !slices.Contains([]string{"A", "B", "C", "D", "F"}, *minGrade) {
				return usageErr("--min-grade %q: want A, B, C, D or F", *minGrade)
			}
			live := *kubeconfig != "" || *inCluster || *server != ""
			if len(args) == 0 && !live {
				return usageErr("name manifests (files, directories or - for stdin), or a cluster (--kubeconfig, --in-cluster, --server)")
			}
			var err error
			if est.Metaspace, err = inspect.ParseQuantity(*metaspace); err != nil {
				return usageErr("--jvm-metaspace: %v", err)
			}
			if est.NodeExtra, err = inspect.ParseQuantity(*nodeExtra); err != nil {
				return usageErr("--node-native: %v", err)
			}
			inv := inspect.NewInventory()
			if live {
				if err := readCluster(ctx, env, inv, *kubeconfig, *kubeContext, *namespace, *server, *inCluster); err != nil {
					return err
				}
			}
			if err := inv.ReadPaths(args, env.Stdin); err != nil {
				return err
			}
			for _, c := range inv.SkippedCharts {
				fmt.Fprintf(env.Stderr, "stadion inspect k8s: skipped %s, a Helm chart: "+inspect.HelmRender+"\n", c, c)
			}
			rep := inspect.Inspect(inv, inspect.Options{Estimates: est, Ignore: ignore})
			if err := rep.Write(env.Stdout, *format); err != nil {
				return err
			}
			if *minGrade != "" && !inspect.GradeAtLeast(rep.Grade, *minGrade) {
				fmt.Fprintf(env.Stderr, "stadion inspect k8s: grade %s (score %d) is below --min-grade %s\n", rep.Grade, rep.Score, *minGrade)
				return exitError{code: 1}
			}
			return nil
		}
	},
}

func readCluster(ctx context.Context, env Env, inv *inspect.Inventory, kubeconfig, kubeContext, namespace, server string, inCluster bool) error {
	cfg, err := inspect.ClusterConfigFor(kubeconfig, kubeContext, namespace, server, inCluster)
	if err != nil {
		return err
	}
	warnings, err := inv.ReadCluster(ctx, cfg)
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "stadion inspect k8s: %s\n", w)
	}
	return err
}
