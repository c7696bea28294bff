{{/*
Names, labels and shared pieces of the inferd chart.
*/}}

{{- define "inferd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "inferd.fullname" -}}
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

{{- define "inferd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "inferd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inferd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "inferd.labels" -}}
helm.sh/chart: {{ include "inferd.chart" . }}
{{ include "inferd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: inference-server
{{- end }}

{{- define "inferd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "inferd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "inferd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The job label Prometheus gives inferd's series: the Service name with a
ServiceMonitor; alerts and analyses select on it. */}}
{{- define "inferd.job" -}}
{{- include "inferd.fullname" . }}
{{- end }}

{{/* Seconds between SIGTERM being due and SIGKILL: preStop sleep, drain
delay, exit timeout, and 5 s of slack. An explicit value below that fails. */}}
{{- define "inferd.terminationGracePeriodSeconds" -}}
{{- $need := add (int .Values.lifecycle.preStopSleepSeconds) (int .Values.server.drainDelaySecs) (int .Values.server.exitTimeoutSecs) 5 }}
{{- $set := .Values.lifecycle.terminationGracePeriodSeconds }}
{{- if eq (toString $set) "" }}
{{- $need }}
{{- else if lt (int $set) (int $need) }}
{{- fail (printf "lifecycle.terminationGracePeriodSeconds=%v is shorter than preStopSleepSeconds + server.drainDelaySecs + server.exitTimeoutSecs + 5 = %d: pods would be killed mid-drain" $set $need) }}
{{- else }}
{{- $set }}
{{- end }}
{{- end }}

{{/* Which workload the autoscalers target. */}}
{{- define "inferd.scaleTargetRef" -}}
{{- if .Values.argoRollouts.enabled }}
apiVersion: argoproj.io/v1alpha1
kind: Rollout
{{- else }}
apiVersion: apps/v1
kind: Deployment
{{- end }}
name: {{ include "inferd.fullname" . }}
{{- end }}

{{- define "inferd.validate" -}}
{{- if and .Values.autoscaling.hpa.enabled .Values.autoscaling.keda.enabled }}
{{- fail "autoscaling.hpa.enabled and autoscaling.keda.enabled are alternatives: KEDA creates its own HPA for the workload, and two HPAs on one Deployment fight. Enable one." }}
{{- end }}
{{- if not (has .Values.models.source (list "pvc" "hostPath" "download" "image")) }}
{{- fail (printf "models.source must be pvc, hostPath, download or image, not %q" .Values.models.source) }}
{{- end }}
{{- if not (has .Values.server.modelControlMode (list "none" "poll" "explicit")) }}
{{- fail (printf "server.modelControlMode must be none, poll or explicit, not %q" .Values.server.modelControlMode) }}
{{- end }}
{{- if not (has .Values.probes.readiness.type (list "http" "grpc")) }}
{{- fail (printf "probes.readiness.type must be http or grpc, not %q" .Values.probes.readiness.type) }}
{{- end }}
{{- if not (has .Values.podAntiAffinity (list "none" "soft" "hard")) }}
{{- fail (printf "podAntiAffinity must be none, soft or hard, not %q" .Values.podAntiAffinity) }}
{{- end }}
{{- end }}

{{/* The pod template shared by the Deployment and the Argo Rollout. */}}
{{- define "inferd.podTemplate" -}}
metadata:
  labels:
    {{- include "inferd.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if .Values.scrapeAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .Values.server.metricsPort | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "inferd.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ include "inferd.terminationGracePeriodSeconds" . }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- if and .Values.accelerator.enabled .Values.accelerator.runtimeClassName }}
  runtimeClassName: {{ .Values.accelerator.runtimeClassName }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- if eq .Values.models.source "download" }}
  initContainers:
    - name: fetch-models
      image: {{ .Values.models.download.image }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        {{- toYaml .Values.models.download.command | nindent 8 }}
      {{- with .Values.models.download.env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.models.download.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml .Values.models.download.resources | nindent 8 }}
      volumeMounts:
        - name: models
          mountPath: {{ .Values.models.mountPath }}
        - name: tmp
          mountPath: /tmp
  {{- end }}
  containers:
    - name: inferd
      image: {{ include "inferd.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --model-repository={{ .Values.models.mountPath }}
        {{- range .Values.server.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "inferd.fullname" . }}
      {{- with .Values.server.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.server.httpPort }}
          protocol: TCP
        - name: grpc
          containerPort: {{ .Values.server.grpcPort }}
          protocol: TCP
        - name: metrics
          containerPort: {{ .Values.server.metricsPort }}
          protocol: TCP
      startupProbe:
        httpGet:
          path: {{ .Values.probes.startup.path }}
          port: http
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      readinessProbe:
        {{- if eq .Values.probes.readiness.type "grpc" }}
        grpc:
          port: {{ .Values.server.grpcPort }}
          service: ""
        {{- else }}
        httpGet:
          path: {{ .Values.probes.readiness.path }}
          port: http
        {{- end }}
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
        successThreshold: {{ .Values.probes.readiness.successThreshold }}
      livenessProbe:
        httpGet:
          path: {{ .Values.probes.liveness.path }}
          port: http
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      {{- if gt (int .Values.lifecycle.preStopSleepSeconds) 0 }}
      lifecycle:
        preStop:
          sleep:
            seconds: {{ .Values.lifecycle.preStopSleepSeconds }}
      {{- end }}
      resources:
        {{- $res := deepCopy (default dict .Values.resources) }}
        {{- if .Values.accelerator.enabled }}
        {{- $limits := default dict $res.limits }}
        {{- $_ := set $limits .Values.accelerator.resourceName (toString .Values.accelerator.count) }}
        {{- $_ := set $res "limits" $limits }}
        {{- end }}
        {{- toYaml $res | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        {{- if ne .Values.models.source "image" }}
        - name: models
          mountPath: {{ .Values.models.mountPath }}
          readOnly: true
        {{- end }}
        - name: tmp
          mountPath: /tmp
  volumes:
    {{- if eq .Values.models.source "pvc" }}
    - name: models
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-models" (include "inferd.fullname" .)) .Values.models.pvc.claimName }}
        readOnly: true
    {{- else if eq .Values.models.source "hostPath" }}
    - name: models
      hostPath:
        path: {{ .Values.models.hostPath.path }}
        type: {{ .Values.models.hostPath.type }}
    {{- else if eq .Values.models.source "download" }}
    - name: models
      emptyDir:
        sizeLimit: {{ .Values.models.download.sizeLimit }}
    {{- end }}
    - name: tmp
      emptyDir:
        medium: Memory
        sizeLimit: 64Mi
  {{- $nodeSelector := deepCopy (default dict .Values.nodeSelector) }}
  {{- if .Values.accelerator.enabled }}
  {{- $nodeSelector = merge $nodeSelector (default dict .Values.accelerator.nodeSelector) }}
  {{- end }}
  {{- with $nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $tolerations := concat (default list .Values.tolerations) (ternary (default list .Values.accelerator.tolerations) list .Values.accelerator.enabled) }}
  {{- with $tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if ne .Values.podAntiAffinity "none" }}
  affinity:
    podAntiAffinity:
      {{- if eq .Values.podAntiAffinity "hard" }}
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "inferd.selectorLabels" . | nindent 14 }}
      {{- else }}
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "inferd.selectorLabels" . | nindent 16 }}
      {{- end }}
  {{- end }}
  {{- if .Values.topologySpread.enabled }}
  topologySpreadConstraints:
    {{- range .Values.topologySpread.topologyKeys }}
    - maxSkew: {{ $.Values.topologySpread.maxSkew }}
      topologyKey: {{ . }}
      whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "inferd.selectorLabels" $ | nindent 10 }}
      matchLabelKeys: [{{ ternary "rollouts-pod-template-hash" "pod-template-hash" $.Values.argoRollouts.enabled }}]
    {{- end }}
  {{- end }}
{{- end }}

{{/* KEDA's query: requests queued over all of the release's pods. */}}
{{- define "inferd.kedaQuery" -}}
sum(inferd_queue_size{job="{{ include "inferd.job" . }}", namespace="{{ .Release.Namespace }}"})
{{- end }}

{{/* prometheus-adapter rules publishing inferd_queue_size per pod. */}}
{{- define "inferd.adapterRules" -}}
rules:
  - seriesQuery: 'inferd_queue_size{namespace!="",pod!=""}'
    resources:
      overrides:
        namespace: {resource: namespace}
        pod: {resource: pod}
    name:
      matches: ^inferd_queue_size$
      as: inferd_queue_size
    # A pod serves several models: its queue is the sum over them.
    metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
{{- end }}
