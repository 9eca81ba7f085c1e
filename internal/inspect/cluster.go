package inspect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// ClusterConfig says how to reach a Kubernetes API server. It is read from
// a kubeconfig file or from a pod's service account; only what a plain
// HTTPS client needs is supported (bearer tokens and client certificates;
// not exec or auth-provider plugins).
type ClusterConfig struct {
	Server    string
	Token     string
	CA        []byte // PEM; the system roots when empty
	Cert, Key []byte // PEM client certificate and key
	Insecure  bool
	Namespace string // "" for every namespace
}

// serviceAccountDir is where a pod finds its service account.
var serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InClusterConfig reads the configuration of the pod this runs in.
func InClusterConfig() (ClusterConfig, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return ClusterConfig{}, errors.New("in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod)")
	}
	token, err := os.ReadFile(filepath.Join(serviceAccountDir, "token"))
	if err != nil {
		return ClusterConfig{}, fmt.Errorf("in-cluster: %w", err)
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return ClusterConfig{}, fmt.Errorf("in-cluster: %w", err)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return ClusterConfig{Server: "https://" + host + ":" + port, Token: strings.TrimSpace(string(token)), CA: ca}, nil
}

// kubeconfig is the part of a kubeconfig file this tool reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			User      string `yaml:"user"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Clusters []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server   string `yaml:"server"`
			CA       string `yaml:"certificate-authority"`
			CAData   string `yaml:"certificate-authority-data"`
			Insecure bool   `yaml:"insecure-skip-tls-verify"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token        string         `yaml:"token"`
			TokenFile    string         `yaml:"tokenFile"`
			Cert         string         `yaml:"client-certificate"`
			CertData     string         `yaml:"client-certificate-data"`
			Key          string         `yaml:"client-key"`
			KeyData      string         `yaml:"client-key-data"`
			Exec         map[string]any `yaml:"exec"`
			AuthProvider map[string]any `yaml:"auth-provider"`
		} `yaml:"user"`
	} `yaml:"users"`
}

// LoadKubeconfig reads a kubeconfig file and picks a context (the current
// one when name is empty). Relative file paths in it are relative to the
// file, as kubectl reads them.
func LoadKubeconfig(path, name string) (ClusterConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ClusterConfig{}, err
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return ClusterConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	if name == "" {
		name = kc.CurrentContext
	}
	cfg := ClusterConfig{}
	var cluster, user string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == name {
			cluster, user, cfg.Namespace, found = c.Context.Cluster, c.Context.User, c.Context.Namespace, true
		}
	}
	if !found {
		return ClusterConfig{}, fmt.Errorf("%s: no context %q", path, name)
	}
	dir := filepath.Dir(path)
	read := func(field, inline, file string) ([]byte, error) {
		switch {
		case inline != "":
			b, err := base64.StdEncoding.DecodeString(inline)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, field, err)
			}
			return b, nil
		case file != "":
			if !filepath.IsAbs(file) {
				file = filepath.Join(dir, file)
			}
			return os.ReadFile(file)
		}
		return nil, nil
	}
	found = false
	for _, c := range kc.Clusters {
		if c.Name == cluster {
			found = true
			cfg.Server, cfg.Insecure = c.Cluster.Server, c.Cluster.Insecure
			if cfg.CA, err = read("certificate-authority-data", c.Cluster.CAData, c.Cluster.CA); err != nil {
				return ClusterConfig{}, err
			}
		}
	}
	if !found || cfg.Server == "" {
		return ClusterConfig{}, fmt.Errorf("%s: context %q: no cluster %q with a server", path, name, cluster)
	}
	for _, u := range kc.Users {
		if u.Name != user {
			continue
		}
		if u.User.Exec != nil || u.User.AuthProvider != nil {
			return ClusterConfig{}, fmt.Errorf("%s: user %q uses an exec or auth-provider plugin, which stadion does not run: pipe `kubectl get deploy,sts,ds,cronjob,cm,pdb,hpa,limitrange -A -o yaml` into `stadion inspect k8s -` instead", path, user)
		}
		cfg.Token = u.User.Token
		if u.User.TokenFile != "" {
			b, err := read("tokenFile", "", u.User.TokenFile)
			if err != nil {
				return ClusterConfig{}, err
			}
			cfg.Token = strings.TrimSpace(string(b))
		}
		if cfg.Cert, err = read("client-certificate-data", u.User.CertData, u.User.Cert); err != nil {
			return ClusterConfig{}, err
		}
		if cfg.Key, err = read("client-key-data", u.User.KeyData, u.User.Key); err != nil {
			return ClusterConfig{}, err
		}
	}
	return cfg, nil
}

// clusterResources are listed from the API server, with the kind of
// their items (list items carry no kind).
var clusterResources = []struct{ group, resource, kind string }{
	{"apis/apps/v1", "deployments", "Deployment"},
	{"apis/apps/v1", "statefulsets", "StatefulSet"},
	{"apis/apps/v1", "daemonsets", "DaemonSet"},
	{"apis/batch/v1", "cronjobs", "CronJob"},
	{"apis/batch/v1", "jobs", "Job"},
	{"api/v1", "pods", "Pod"},
	{"api/v1", "configmaps", "ConfigMap"},
	{"api/v1", "limitranges", "LimitRange"},
	{"apis/policy/v1", "poddisruptionbudgets", "PodDisruptionBudget"},
	{"apis/autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"},
}

// ReadCluster lists the workloads of a live cluster, and the ConfigMaps,
// PodDisruptionBudgets, HPAs and LimitRanges the rules use, page by page.
// Jobs and Pods owned by a controller are skipped (their owner is
// reviewed). A resource the credentials may not list (403) or the server
// does not serve (404) is skipped with a warning; any other failure stops.
func (inv *Inventory) ReadCluster(ctx context.Context, cfg ClusterConfig) (warnings []string, err error) {
	client, err := cfg.httpClient()
	if err != nil {
		return nil, err
	}
	for _, r := range clusterResources {
		w, err := inv.listResource(ctx, client, cfg, r.group, r.resource, r.kind)
		if err != nil {
			return warnings, err
		}
		warnings = append(warnings, w...)
	}
	return warnings, nil
}

func (cfg ClusterConfig) httpClient() (*http.Client, error) {
	// InsecureSkipVerify only when the kubeconfig says insecure-skip-tls-verify.
	tc := &tls.Config{InsecureSkipVerify: cfg.Insecure, MinVersion: tls.VersionTLS12}
	if len(cfg.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CA) {
			return nil, errors.New("cluster CA: no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if len(cfg.Cert) > 0 {
		pair, err := tls.X509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}, nil
}

func (inv *Inventory) listResource(ctx context.Context, client *http.Client, cfg ClusterConfig, group, resource, kind string) ([]string, error) {
	path := "/" + group + "/" + resource
	if cfg.Namespace != "" {
		path = "/" + group + "/namespaces/" + url.PathEscape(cfg.Namespace) + "/" + resource
	}
	cont := ""
	for page := 1; ; page++ {
		q := url.Values{"limit": {"500"}}
		if cont != "" {
			q.Set("continue", cont)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(cfg.Server, "/")+path+"?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if cfg.Token != "" {
			req.Header.Set("Authorization", "Bearer "+cfg.Token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", resource, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", resource, err)
		}
		switch {
		case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
			return []string{fmt.Sprintf("%s not listed (%s): the rules that need them see none", resource, resp.Status)}, nil
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("list %s: %s: %s", resource, resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
		}
		var list struct {
			Metadata struct {
				Continue string `json:"continue"`
			} `json:"metadata"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("list %s: %w", resource, err)
		}
		for i, item := range list.Items {
			if err := inv.Add(Source{File: path, Doc: page, Item: i + 1}, kind, item); err != nil {
				return nil, err
			}
		}
		if cont = list.Metadata.Continue; cont == "" {
			return nil, nil
		}
	}
}

// controlled reports whether an object has a controlling owner.
func controlled(item []byte) bool {
	var m struct {
		Metadata struct {
			OwnerReferences []struct {
				Controller *bool `json:"controller"`
			} `json:"ownerReferences"`
		} `json:"metadata"`
	}
	if json.Unmarshal(item, &m) != nil {
		return false
	}
	for _, o := range m.Metadata.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// ClusterConfigFor is the live cluster `stadion inspect k8s` reviews: the
// API at server without credentials, the one this runs in (inCluster), or
// kubeconfig's context (both "": the current one); namespace ("": the
// context's) narrows it.
func ClusterConfigFor(kubeconfig, kubeContext, namespace, server string, inCluster bool) (ClusterConfig, error) {
	var cfg ClusterConfig
	var err error
	switch {
	case server != "":
		cfg.Server = server
	case inCluster:
		cfg, err = InClusterConfig()
	default:
		cfg, err = LoadKubeconfig(kubeconfig, kubeContext)
	}
	if err != nil {
		return cfg, err
	}
	if namespace != "" {
		cfg.Namespace = namespace
	}
	return cfg, nil
}
