#!/bin/sh
# The stresstrack service of docker-compose.yml: a simulated study in real time, sent to InfluxDB
# so the Grafana dashboards come alive. One `stresstrack collect --simulate` per participant
# (the real collector, pipeline and InfluxDB sink; simulated devices through bleak), each with
# its own store in /data; each runs the protocol, then starts again.
#
# Environment (docker-compose.yml passes them from .env): STRESSTRACK_INFLUX_URL,
# STRESSTRACK_INFLUX_ORG, STRESSTRACK_INFLUX_BUCKET, STRESSTRACK_INFLUX_TOKEN or
# STRESSTRACK_INFLUX_TOKEN_FILE (read by stresstrack itself, never on a command line),
# STRESSTRACK_STUDY, STRESSTRACK_PARTICIPANTS,
# STRESSTRACK_PROTOCOL.
set -eu

# The token may come in a file (docker-compose.yml: the write-only collectors' token).
if [ -n "${STRESSTRACK_INFLUX_TOKEN_FILE:-}" ]; then
    STRESSTRACK_INFLUX_TOKEN=$(cat "$STRESSTRACK_INFLUX_TOKEN_FILE")
    export STRESSTRACK_INFLUX_TOKEN
fi
: "${STRESSTRACK_INFLUX_URL:?}" "${STRESSTRACK_INFLUX_BUCKET:?}" "${STRESSTRACK_INFLUX_TOKEN:?}"
participants="${STRESSTRACK_PARTICIPANTS:-sim-001 sim-002 sim-003}"
protocol="${STRESSTRACK_PROTOCOL:-stress-selfcare-recovery}"
study="${STRESSTRACK_STUDY:-live-demo}"
influx="--influx-url $STRESSTRACK_INFLUX_URL --influx-org ${STRESSTRACK_INFLUX_ORG:--}
        --influx-bucket $STRESSTRACK_INFLUX_BUCKET"

# Each loop runs its collector in the background and waits for it, so a TERM reaches the
# loop at once (sh runs traps only between commands, and `wait` is interruptible) and is
# passed on to the collector, which closes its sessions and flushes its store.
participant_loop() {
    seed=$2
    child=""
    trap 'test -n "$child" && kill -TERM "$child" 2>/dev/null; wait; exit 0' TERM INT
    while true; do
        # shellcheck disable=SC2086  # $influx holds several options
        stresstrack collect --simulate --participant "$1" --seed "$seed" --study "$study" \
            --protocol "$protocol" --store "/data/$1.db" $influx &
        child=$!
        wait "$child" || true
        child=""
        seed=$((seed + 1000))  # a new session of the same simulated person
        sleep 5
    done
}

if ! stresstrack collect --help | grep -q -- "--influx-url"; then
    # This stresstrack's collect cannot send to InfluxDB yet: replay a simulated study instead,
    # in real time. Its events keep the demo's timestamps (from 2026-01-05 09:00 UTC): set
    # the dashboards' time range there.
    echo "stresstrack-live: collect has no --influx-url; replaying a demo study at --speed 1"
    stresstrack demo --out /data/demo --participants 3
    while true; do
        rm -f /data/replay.db /data/replay.db-wal /data/replay.db-shm
        # shellcheck disable=SC2086
        stresstrack replay /data/demo/stresstrack.db --store /data/replay.db --speed 1 $influx
    done
fi

# The loops' PIDs, recorded as they start: under dash `$(jobs -p)` in a trap is empty, which
# left the collectors running (and killed with open sessions when the container stopped).
pids=""
trap 'kill -TERM $pids 2>/dev/null; wait; exit 0' TERM INT
seed=1
for p in $participants; do
    participant_loop "$p" "$seed" &
    pids="$pids $!"
    seed=$((seed + 1))
done
wait
