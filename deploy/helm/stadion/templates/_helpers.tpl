{{/* The release's object name: the release name, or "stadion" inside it. */}}
{{- define "stadion.fullname" -}}
{{- if contains "stadion" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-stadion" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "stadion.selectorLabels" -}}
app.kubernetes.io/name: stadion
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "stadion.labels" -}}
{{ include "stadion.selectorLabels" . }}
app.kubernetes.io/part-of: stadion
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The headless Service that gives each pod its DNS name for routes. */}}
{{- define "stadion.peers" -}}
{{- printf "%s-peers" (include "stadion.fullname" .) -}}
{{- end -}}

{{- define "stadion.embedded" -}}
{{- if eq .Values.engine.mode "embedded" -}}true{{- else if eq .Values.engine.mode "external" -}}{{- else -}}
{{- fail (printf "engine.mode: %q is neither embedded nor external" .Values.engine.mode) -}}
{{- end -}}
{{- end -}}

{{- define "stadion.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else if or (not .Values.image.tag) (eq .Values.image.tag "latest") -}}
{{- fail "image.tag: pin a release tag (or set image.digest); \"latest\" and an empty tag are refused" -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag -}}
{{- end -}}
{{- end -}}

{{/*
The memory limit in MiB, from resources.limits.memory written in Ki, Mi
or Gi; GOMEMLIMIT is goMemLimitPercent of it.
*/}}
{{- define "stadion.limitMiB" -}}
{{- $m := toString .Values.resources.limits.memory -}}
{{- if hasSuffix "Gi" $m -}}{{ mul (trimSuffix "Gi" $m | atoi) 1024 }}
{{- else if hasSuffix "Mi" $m -}}{{ trimSuffix "Mi" $m | atoi }}
{{- else if hasSuffix "Ki" $m -}}{{ div (trimSuffix "Ki" $m | atoi) 1024 }}
{{- else -}}{{ fail (printf "resources.limits.memory: %q: write it in Ki, Mi or Gi (GOMEMLIMIT is computed from it)" $m) }}
{{- end -}}
{{- end -}}

{{- define "stadion.goMemLimit" -}}
{{- $pct := int .Values.goMemLimitPercent -}}
{{- if or (lt $pct 50) (gt $pct 95) -}}{{ fail "goMemLimitPercent: between 50 and 95" }}{{- end -}}
{{- $mib := include "stadion.limitMiB" . | atoi -}}
{{- if lt $mib 256 -}}{{ fail "resources.limits.memory: at least 256Mi" }}{{- end -}}
{{- printf "%dMiB" (div (mul $mib $pct) 100) -}}
{{- end -}}

{{/* Checks that hold the values together; included by the StatefulSet. */}}
{{- define "stadion.validate" -}}
{{- $n := int .Values.engine.nodes -}}
{{- $r := int .Values.engine.replicas -}}
{{- if not (has $r (list 1 3 5)) -}}{{ fail (printf "engine.replicas: %d; use 1, 3 or 5" $r) }}{{- end -}}
{{- if lt $n 1 -}}{{ fail "engine.nodes: at least 1" }}{{- end -}}
{{- if include "stadion.embedded" . -}}
{{- if gt $r $n -}}{{ fail (printf "engine.replicas: %d needs at least %d nodes; engine.nodes is %d" $r $r $n) }}{{- end -}}
{{- if and (gt $n 1) (not (has $n (list 3 5))) -}}{{ fail (printf "engine.nodes: %d; an embedded cluster has 1, 3 or 5 nodes (an odd number keeps a quorum)" $n) }}{{- end -}}
{{- else -}}
{{- if and (not .Values.engine.external.url) (not .Values.engine.external.urlSecret.name) -}}{{ fail "engine.external.url or engine.external.urlSecret.name: required with engine.mode external" }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* --routes: every pod of the StatefulSet by its stable DNS name. */}}
{{- define "stadion.routes" -}}
{{- $full := include "stadion.fullname" . -}}
{{- $peers := include "stadion.peers" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.engine.nodes) -}}
{{- $urls = append $urls (printf "nats-route://%s-%d.%s.%s.svc.%s:%d" $full $i $peers $.Release.Namespace $.Values.engine.clusterDomain (int $.Values.engine.cluster.port)) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{/* The Secret holding the routes' secret. */}}
{{- define "stadion.clusterSecret" -}}
{{- .Values.engine.cluster.secret.existingSecret | default (printf "%s-routes" (include "stadion.fullname" .)) -}}
{{- end -}}
