#!/bin/sh
# Run once by the influxdb image after its first setup (/docker-entrypoint-initdb.d, with the
# CLI logged in as the admin): the least-privilege credentials of docker-compose.yml.
#  - Grafana: InfluxDB 1.x-compatible user stresstrack-grafana, READ on the bucket only; its
#    password is STRESSTRACK_GRAFANA_TOKEN (Grafana sends "Token user:password" to /query).
#  - Collectors: a token with WRITE on the bucket only, written to /tokens/writer.token
#    (volume influxdb-tokens, read-only in the stresstrack service, readable by its user only).
# The admin token (STRESSTRACK_INFLUX_TOKEN) is used by nothing else.
set -eu
org="$DOCKER_INFLUXDB_INIT_ORG"
bucket_id=$(influx bucket list --org "$org" --name "$DOCKER_INFLUXDB_INIT_BUCKET" --hide-headers | cut -f1)
influx v1 auth create --org "$org" --username stresstrack-grafana \
    --password "$STRESSTRACK_GRAFANA_TOKEN" --read-bucket "$bucket_id" >/dev/null
umask 077
influx auth create --org "$org" --write-bucket "$bucket_id" \
    --description "stresstrack collectors (write only)" --json |
    sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*/\1/p' >/tokens/writer.token
test -s /tokens/writer.token
chown 10001 /tokens/writer.token  # the stresstrack user of the Dockerfile
echo "stresstrack: read-only Grafana user and write-only collector token created"
