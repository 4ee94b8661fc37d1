#!/usr/bin/env bash
# Start a private single-node Slurm (munged + slurmctld + slurmd) under BASE_DIR, for tests and local trials.
#
#   tests/slurm/slurm-up.sh BASE_DIR [OWNER_PID]   prints the slurm.conf path (export SLURM_CONF=<it>)
#   tests/slurm/slurm-down.sh BASE_DIR               stops it again
#
# With OWNER_PID (the test session's pid), a detached watcher stops the cluster once that process is gone, so
# a session killed before its teardown leaves no daemons behind.
#
# Everything lives under BASE_DIR (key, sockets, pid/state/spool/log files) and the daemons listen on free ports,
# so several clusters can run side by side (parallel test sessions). No systemd, no cgroups: Debian's
# slurm-wlm 22.05 + munge, run as root. The node is named after `hostname -s` and has this machine's CPUs and
# memory (`slurmd -C`). On any failure the daemons started so far are stopped again.
set -euo pipefail

base="${1:?usage: slurm-up.sh BASE_DIR [OWNER_PID]}"
owner="${2:-}"
mkdir -p "$base"
base="$(cd "$base" && pwd)"  # slurmctld -f needs an absolute path
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
conf="$base/etc/slurm.conf"
node="$(hostname -s)"

for tool in munged mungekey slurmctld slurmd scontrol sinfo; do
    command -v "$tool" >/dev/null || { echo "slurm-up: $tool is missing (apt-get install slurm-wlm munge)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "slurm-up: run as root (munged and slurmd need it)" >&2; exit 2; }

# A stale cluster of this base directory keeps answering while a second slurmctld dies on its port.
for daemon in munged slurmctld slurmd; do
    pid_file="$base/run/$daemon.pid"
    if [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "slurm-up: $daemon of $base is already running (pid $(cat "$pid_file")); run slurm-down.sh first" >&2
        exit 1
    fi
done

trap 'status=$?; if [ $status -ne 0 ]; then echo "slurm-up: failed, stopping what started" >&2; "$here/slurm-down.sh" "$base" >&2 || true; fi' EXIT

mkdir -p "$base"/{etc,run,log,state,spool} "$base/munge"
chmod 755 "$base" "$base/munge"  # munged refuses a socket directory others can write to

# munge: its own root-owned key and socket (munged as root rejects the packaged key; nothing creates /run/munge).
[ -s "$base/munge/munge.key" ] || mungekey --create --keyfile="$base/munge/munge.key" >/dev/null
chmod 600 "$base/munge/munge.key"
munged --socket="$base/munge/munge.socket" --key-file="$base/munge/munge.key" \
    --pid-file="$base/run/munged.pid" --log-file="$base/log/munged.log" --seed-file="$base/munge/munged.seed"
munge --socket="$base/munge/munge.socket" -n | unmunge --socket="$base/munge/munge.socket" >/dev/null

read -r controller_port node_port < <(python3 - <<'PY'
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
PY
)
hardware="$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')"

cat >"$conf" <<CONF
# A single-node test cluster written by tests/slurm/slurm-up.sh.
ClusterName=runyard
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$controller_port
SlurmdPort=$node_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$base/munge/munge.socket
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$base/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
KillWait=2
InactiveLimit=0
SchedulerParameters=batch_sched_delay=0
NodeName=$node NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF

export SLURM_CONF="$conf"
slurmctld -c -f "$conf"  # -c: no jobs of an earlier start of this base directory
slurmd -c -f "$conf" -N "$node"

for _ in $(seq 1 100); do
    if scontrol ping 2>/dev/null | grep -q "is UP" \
        && sinfo -h -N -o "%T" 2>/dev/null | grep -qE "^(idle|mixed|allocated)"; then
        if [ -n "$owner" ]; then
            setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; exec "$2" "$3"' \
                watch-owner "$owner" "$here/slurm-down.sh" "$base" </dev/null >/dev/null 2>&1 &
        fi
        echo "$conf"
        exit 0
    fi
    sleep 0.1
done
echo "slurm-up: the node did not come up; see $base/log/" >&2
sinfo -N -l >&2 || true
exit 1
