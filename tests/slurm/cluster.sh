#!/usr/bin/env bash
# Starts or stops a one-node Slurm cluster on localhost, for the Slurm test.
#   tests/slurm/cluster.sh start SCRATCH   installs Slurm and MUNGE from Debian's packages if
#                                          needed (as root), then starts munged, slurmctld and
#                                          slurmd with their config, state and logs in SCRATCH
#   tests/slurm/cluster.sh stop SCRATCH    stops the daemons it started
# Jobs then need SLURM_CONF=SCRATCH/slurm.conf in their environment.
set -euo pipefail
command=${1:?start or stop}
scratch=$(realpath -m "${2:?scratch folder}")

stop() {
  for pidfile in "$scratch"/slurmd.pid "$scratch"/slurmctld.pid "$scratch"/munge/munged.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "$command" in
stop)
  stop
  ;;
start)
  # Whatever fails from here on, stop the daemons already started.
  trap 'status=$?; echo "the Slurm cluster did not start; logs in $scratch" >&2; stop; exit $status' ERR
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "installing Slurm and MUNGE from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge libmunge2 >/dev/null
  fi
  mkdir -p "$scratch/state" "$scratch/spool"
  host=$(hostname -s)
  cat > "$scratch/slurm.conf" <<CONF
ClusterName=coordsim-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/slurmctld.log
SlurmdLogFile=$scratch/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerParameters=kill_invalid_depend
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  # MUNGE: a key, its socket folder, and munged as the munge user with files it owns.
  [ -f /etc/munge/munge.key ] || mungekey -c -f
  install -d -o munge -g munge /run/munge "$scratch/munge"
  runuser -u munge -- munged --log-file="$scratch/munge/munged.log" --pid-file="$scratch/munge/munged.pid"
  munge -n | unmunge >/dev/null
  export SLURM_CONF="$scratch/slurm.conf"
  slurmctld -i
  slurmd
  for _ in $(seq 300); do
    if sinfo -h -o %T 2>/dev/null | grep -q idle; then trap - ERR; exit 0; fi
    sleep 0.1
  done
  trap - ERR
  echo "the Slurm node did not become idle; logs in $scratch" >&2
  stop
  exit 1
  ;;
*)
  echo "usage: $0 start|stop SCRATCH" >&2
  exit 2
  ;;
esac
