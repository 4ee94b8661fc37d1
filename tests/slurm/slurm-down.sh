#!/usr/bin/env bash
# Stop the cluster that tests/slurm/slurm-up.sh started under BASE_DIR: its jobs, slurmd, slurmctld and munged.
# Safe to run twice, or after a partial start.
set -uo pipefail

base="${1:?usage: slurm-down.sh BASE_DIR}"
[ -d "$base" ] || exit 0
base="$(cd "$base" && pwd)"
export SLURM_CONF="$base/etc/slurm.conf"

# A daemon is alive while its pid answers and is not a zombie waiting for its parent to reap it.
alive() {
    [ -s "$1" ] || return 1
    local pid
    pid="$(cat "$1")"
    kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]
}

if alive "$base/run/slurmctld.pid" && [ -f "$SLURM_CONF" ]; then
    # The jobs first, so no step outlives its slurmd (their slurmstepd are not our children).
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 50); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.1
    done
fi
for daemon in slurmd slurmctld munged; do
    pid_file="$base/run/$daemon.pid"
    alive "$pid_file" && kill -TERM "$(cat "$pid_file")" 2>/dev/null
done
for daemon in slurmd slurmctld munged; do
    pid_file="$base/run/$daemon.pid"
    for _ in $(seq 1 100); do
        alive "$pid_file" || break
        sleep 0.1
    done
    if alive "$pid_file"; then
        kill -KILL "$(cat "$pid_file")" 2>/dev/null
    fi
    rm -f "$pid_file"
done
exit 0
