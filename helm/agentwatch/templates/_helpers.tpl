{{- define "agentwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "agentwatch.fullname" -}}
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

{{- define "agentwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "agentwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "agentwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agentwatch
{{- end }}

{{- define "agentwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "agentwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "agentwatch.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* kafka://a:9092;kafka://b:9092 -> a:9092,b:9092 (KEDA's bootstrapServers form) */}}
{{- define "agentwatch.bootstrapServers" -}}
{{- if .Values.keda.bootstrapServers }}
{{- .Values.keda.bootstrapServers }}
{{- else }}
{{- .Values.kafka.brokers | replace "kafka://" "" | replace ";" "," | replace " " "" }}
{{- end }}
{{- end }}

{{- define "agentwatch.sasl" -}}
{{- hasPrefix "SASL_" (.Values.kafka.securityProtocol | upper) }}
{{- end }}

{{- define "agentwatch.tls" -}}
{{- has (.Values.kafka.securityProtocol | upper) (list "SSL" "SASL_SSL") }}
{{- end }}

{{- define "agentwatch.validate" -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled }}
{{- fail "autoscaling.enabled and keda.enabled are mutually exclusive: KEDA creates its own HorizontalPodAutoscaler" }}
{{- end }}
{{- if and (eq (include "agentwatch.sasl" .) "true") (not .Values.kafka.existingSecret) }}
{{- fail "kafka.existingSecret is required when kafka.securityProtocol is SASL_PLAINTEXT or SASL_SSL" }}
{{- end }}
{{- if and (or .Values.kafka.clientCert.existingSecret (not .Values.kafka.checkHostname)) (ne (include "agentwatch.tls" .) "true") }}
{{- fail "kafka.clientCert and kafka.checkHostname=false need kafka.securityProtocol SSL or SASL_SSL" }}
{{- end }}
{{- if and .Values.kafka.caKey (not .Values.kafka.existingSecret) }}
{{- fail "kafka.caKey needs kafka.existingSecret (the Secret holding the CA)" }}
{{- end }}
{{- if and .Values.notify.enabled (not .Values.notify.alertmanagerUrl) }}
{{- fail "notify.alertmanagerUrl is required when notify.enabled is true" }}
{{- end }}
{{- if and .Values.config.inputKeyedByTrace (ne .Values.config.taskKey "trace") }}
{{- fail "config.inputKeyedByTrace=true only applies with config.taskKey=trace" }}
{{- end }}
{{- end }}

{{/* Kafka security settings of every container that talks to Kafka (the worker, notify) */}}
{{- define "agentwatch.kafkaEnv" -}}
{{- $sasl := eq (include "agentwatch.sasl" .) "true" }}
{{- with .Values.kafka.securityProtocol }}
- name: AGENTWATCH_SECURITY_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.saslMechanism }}
- name: AGENTWATCH_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- if $sasl }}
- name: AGENTWATCH_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.existingSecret }}
      key: {{ .Values.kafka.usernameKey }}
- name: AGENTWATCH_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.existingSecret }}
      key: {{ .Values.kafka.passwordKey }}
{{- end }}
{{- if .Values.kafka.caKey }}
- name: AGENTWATCH_SSL_CAFILE
  value: /etc/agentwatch/kafka-ca/ca.crt
{{- end }}
{{- if not .Values.kafka.checkHostname }}
- name: AGENTWATCH_SSL_CHECK_HOSTNAME
  value: "false"
{{- end }}
{{- with .Values.kafka.clientCert }}
{{- if .existingSecret }}
- name: AGENTWATCH_SSL_CERTFILE
  value: /etc/agentwatch/kafka-client/tls.crt
- name: AGENTWATCH_SSL_KEYFILE
  value: /etc/agentwatch/kafka-client/tls.key
{{- if .keyPasswordKey }}
- name: AGENTWATCH_SSL_KEY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .keyPasswordKey }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "agentwatch.kafkaVolumeMounts" -}}
{{- if .Values.kafka.caKey }}
- name: kafka-ca
  mountPath: /etc/agentwatch/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.kafka.clientCert.existingSecret }}
- name: kafka-client
  mountPath: /etc/agentwatch/kafka-client
  readOnly: true
{{- end }}
{{- end }}

{{- define "agentwatch.kafkaVolumes" -}}
{{- if .Values.kafka.caKey }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.existingSecret }}
    items:
      - key: {{ .Values.kafka.caKey }}
        path: ca.crt
{{- end }}
{{- with .Values.kafka.clientCert }}
{{- if .existingSecret }}
- name: kafka-client
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440  # the key: readable by the pod's fsGroup only
    items:
      - key: {{ .certKey }}
        path: tls.crt
      - key: {{ .keyKey }}
        path: tls.key
{{- end }}
{{- end }}
{{- end }}
