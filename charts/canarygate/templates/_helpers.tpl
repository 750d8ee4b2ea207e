{{/* Names, labels and the derived settings every template shares. */}}

{{- define "canarygate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "canarygate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "canarygate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canarygate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "canarygate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "canarygate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: canarygate
{{- end }}

{{- define "canarygate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "canarygate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "canarygate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Leader election: asked for, or implied by more than one replica. */}}
{{- define "canarygate.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{- define "canarygate.leaseName" -}}
{{- default (include "canarygate.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* The watched namespaces as a JSON list (empty: all namespaces), after checking the scope. */}}
{{- define "canarygate.watchNamespaces" -}}
{{- if eq .Values.scope "cluster" }}
{{- if .Values.watchNamespaces }}
{{- fail "watchNamespaces needs scope: namespaced (with scope: cluster the operator watches every namespace)" }}
{{- end }}
{{- list | toJson }}
{{- else if eq .Values.scope "namespaced" }}
{{- default (list .Release.Namespace) .Values.watchNamespaces | uniq | toJson }}
{{- else }}
{{- fail (printf "scope must be cluster or namespaced, not %q" .Values.scope) }}
{{- end }}
{{- end }}

{{/* Receivers' Secrets grouped by namespace: {"ns": ["name", ...]} as JSON. */}}
{{- define "canarygate.notificationSecrets" -}}
{{- $byNamespace := dict }}
{{- range .Values.notifications.secrets }}
{{- $name := required "notifications.secrets[].name is required" .name }}
{{- $namespace := default $.Release.Namespace .namespace }}
{{- $_ := set $byNamespace $namespace (append (get $byNamespace $namespace | default list) $name | uniq) }}
{{- end }}
{{- $byNamespace | toJson }}
{{- end }}

{{/* The verdict API's token Secrets grouped by namespace: {"ns": ["name", ...]} as JSON. */}}
{{- define "canarygate.verdictSecrets" -}}
{{- $byNamespace := dict }}
{{- if .Values.verdict.enabled }}
{{- range .Values.verdict.tokenSecrets }}
{{- $name := required "verdict.tokenSecrets[].name is required" .name }}
{{- $namespace := default $.Release.Namespace .namespace }}
{{- $_ := set $byNamespace $namespace (append (get $byNamespace $namespace | default list) $name | uniq) }}
{{- end }}
{{- if and (not .Values.verdict.tokenReview) (not .Values.verdict.tokenSecrets) }}
{{- fail "verdict.tokenReview: false needs at least one verdict.tokenSecrets entry (no caller could authenticate)" }}
{{- end }}
{{- end }}
{{- $byNamespace | toJson }}
{{- end }}
