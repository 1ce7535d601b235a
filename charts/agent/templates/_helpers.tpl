{{- define "driftless-agent.name" -}}driftless-agent{{- end -}}
{{- define "driftless-agent.labels" -}}
app.kubernetes.io/name: driftless-agent
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
