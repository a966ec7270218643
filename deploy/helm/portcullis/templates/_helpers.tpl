{{/* Names, labels and the pieces every Portcullis container shares. */}}

{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (api, worker, migrations): call with (dict "root" $ "component" "api"). */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret holding DATABASE_URL, REDIS_URL and PORTCULLIS_SSLLABS_EMAIL. */}}
{{- define "portcullis.secretName" -}}
{{- .Values.existingSecret | default (include "portcullis.fullname" .) -}}
{{- end -}}

{{/* Environment of the API and worker containers: credentials from the Secret, the config file from the ConfigMap. */}}
{{- define "portcullis.env" -}}
- name: PORTCULLIS_CONFIG
  value: /etc/portcullis/portcullis.json
- name: PORTCULLIS_DB_POOL_SIZE
  value: {{ .Values.database.poolSize | quote }}
- name: PORTCULLIS_DATA_DIR
  value: /var/lib/portcullis
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "portcullis.envFrom" -}}
- secretRef:
    name: {{ include "portcullis.secretName" . }}
{{- end -}}

{{/* Volumes every Portcullis pod mounts: the config file, and writable scratch space under a read-only root. */}}
{{- define "portcullis.volumes" -}}
- name: config
  configMap:
    name: {{ include "portcullis.fullname" . }}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "portcullis.volumeMounts" -}}
- name: config
  mountPath: /etc/portcullis
  readOnly: true
- name: data
  mountPath: /var/lib/portcullis
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Pod annotations that roll the pods when the config or the chart-made Secret changes. */}}
{{- define "portcullis.podAnnotations" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
