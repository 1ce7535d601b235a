{{- define "driftless-hub.labels" -}}
app.kubernetes.io/name: driftless-hub
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "driftless-hub.selector" -}}
app.kubernetes.io/name: driftless-hub
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
