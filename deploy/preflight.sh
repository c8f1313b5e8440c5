#!/bin/sh
# Run by the preflight service of docker-compose.yml before anything else starts: refuses the
# placeholder secrets of .env.example (and secrets too short to be generated), so a copied but
# unedited .env never brings up an InfluxDB or Grafana with a publicly known password.
set -u
bad=""
for name in INFLUXDB_ADMIN_PASSWORD STRESSTRACK_INFLUX_TOKEN STRESSTRACK_GRAFANA_TOKEN \
    GRAFANA_ADMIN_PASSWORD; do
    eval "value=\${$name:-}"
    case "$value" in
        "" | change-me*) bad="$bad $name" ;;
        *) [ "${#value}" -ge 16 ] || bad="$bad $name" ;;
    esac
done
if [ -n "$bad" ]; then
    echo "stresstrack preflight: set real secrets in .env (16+ characters, not the" \
        ".env.example placeholders):$bad" >&2
    echo 'generate each with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"' >&2
    exit 1
fi
echo "stresstrack preflight: secrets set"
