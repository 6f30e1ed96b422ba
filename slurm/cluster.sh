#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, from Debian's packages (slurm-wlm, munge):
#   bash slurm/cluster.sh up     install if missing, write slurm.conf for this host, start
#                                munged, slurmctld and slurmd, wait until sinfo shows the node idle
#   bash slurm/cluster.sh down   stop the daemons this script started
# Two partitions over the one node, "cpu" (default) and "batch", so a fleet run
# (--partition cpu,batch) can be tried here. No accounting (slurmdbd): the harness reads
# element states from scontrol, which keeps a finished job for MinJobAge seconds.
# Needs root. Logs and state live under $SLURM_STATE (default /var/lib/harness-slurm).
set -euo pipefail

STATE=${SLURM_STATE:-/var/lib/harness-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "slurm/cluster.sh needs root (it installs packages and starts daemons); run it with sudo." >&2
    exit 2
  fi
}

install_packages() {
  command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 && return
  echo "== installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
  local host node
  host=$(hostname -s)
  # slurmd -C prints this host's node line (CPUs, sockets, cores, memory) and an UpTime line
  node=$(slurmd -C | grep '^NodeName=' | sed 's/ UpTime=.*//')
  mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$STATE/log"
  cat >"$CONF" <<CONF
# Written by slurm/cluster.sh for $host: a one-node cluster for the harness's tests.
ClusterName=harness
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
KillWait=5
OverTimeLimit=0
InactiveLimit=0
MaxArraySize=10001
$node State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=batch Nodes=ALL MaxTime=INFINITE State=UP
CONF
  # Slurm 22.05 reads cgroup.conf on some hosts even when no cgroup plugin is configured
  [ -f "$CONF_DIR/cgroup.conf" ] || echo "CgroupPlugin=autodetect" >"$CONF_DIR/cgroup.conf"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 "$seconds"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "$what did not come up in ${seconds} s; see $STATE/log/" >&2
  return 1
}

up() {
  need_root
  install_packages
  if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
    echo "slurm: already up ($(sinfo -h -o '%P %D %t' | tr '\n' ' '))"
    return
  fi
  write_conf
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    wait_for 20 munged sh -c 'munge -n | unmunge'
  fi
  pgrep -x slurmctld >/dev/null || slurmctld
  wait_for 30 slurmctld scontrol ping
  pgrep -x slurmd >/dev/null || slurmd
  # a node that was DOWN in saved state comes back with ReturnToService=2; wait until idle
  wait_for 60 "the node (sinfo idle)" sh -c "sinfo -h -o %t | grep -qx idle"
  echo "slurm: up ($(sinfo -h -o '%P %D %t' | tr '\n' ' '))"
}

down() {
  need_root
  scancel --user="$(id -un)" 2>/dev/null || true
  for daemon in slurmd slurmctld; do
    pkill -x "$daemon" 2>/dev/null || true
  done
  for _ in $(seq 1 20); do
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || break
    sleep 0.5
  done
  pkill -x munged 2>/dev/null || true
  echo "slurm: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: bash slurm/cluster.sh up|down" >&2
    exit 2
    ;;
esac
