// Package deploy holds stadion's Kubernetes manifests; its test decodes them.
package deploy
