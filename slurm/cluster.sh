#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, from Debian's packages (slurm-wlm, munge):
#   bash slurm/cluster.sh up     install if missing, write slurm.conf for this host, start
#                                munged, slurmctld and slurmd, wait until sinfo shows the node idle
#   bash slurm/cluster.sh down   stop the daemons this script started (their pid files), cancel
#                                the jobs of the cluster it started, and nothing else
# Safe on a real cluster node: a slurm.conf that this script did not write (its first line is
# the marker below) is never replaced, a controller that already answers is left alone, and
# `down` stops only the processes whose pid files this script's cluster wrote.
# Two partitions over the one node, "cpu" (default) and "batch", so a fleet run
# (--partition cpu,batch) can be tried here. No accounting (slurmdbd): the harness reads
# element states from scontrol, which keeps a finished job for MinJobAge seconds.
# Needs root. Logs and state live under $SLURM_STATE (default /var/lib/harness-slurm).
set -euo pipefail

STATE=${SLURM_STATE:-/var/lib/harness-slurm}
CONF_DIR=${SLURM_CONF_DIR:-/etc/slurm}
CONF=$CONF_DIR/slurm.conf
MARKER="# Written by slurm/cluster.sh"

ours() { # the slurm.conf in place is this script's
  [ -f "$CONF" ] && head -n 1 "$CONF" | grep -q "^$MARKER"
}

pid_of() { # pid_of FILE NAME: the pid in FILE when that process is alive and is NAME
  local pid
  [ -s "$1" ] || return 1
  pid=$(head -n 1 "$1" | tr -dc 0-9)
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}

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
$MARKER for $host: a one-node cluster for the harness's tests.
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
  if [ -f "$CONF" ] && ! ours; then
    echo "slurm/cluster.sh: $CONF was not written by this script (a real cluster's?), so it is left as it is; use that cluster, or move the file away to start a test cluster." >&2
    exit 2
  fi
  install_packages
  if scontrol ping 2>/dev/null | grep -q UP; then
    echo "slurm: a controller already answers ($(sinfo -h -o '%P %D %t' 2>/dev/null | tr '\n' ' ')); nothing changed"
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
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid 2>/dev/null ||
      runuser -u munge -- /usr/sbin/munged
    wait_for 20 munged sh -c 'munge -n | unmunge'
    pgrep -x -u munge munged | head -n 1 >"$STATE/munged.pid" # ours to stop
  fi
  pid_of "$STATE/slurmctld.pid" slurmctld >/dev/null || slurmctld
  wait_for 30 slurmctld scontrol ping
  pid_of "$STATE/slurmd.pid" slurmd >/dev/null || slurmd
  # a node that was DOWN in saved state comes back with ReturnToService=2; wait until idle
  wait_for 60 "the node (sinfo idle)" sh -c "sinfo -h -o %t | grep -qx idle"
  echo "slurm: up ($(sinfo -h -o '%P %D %t' | tr '\n' ' '))"
}

down() {
  need_root
  if ! ours; then
    echo "slurm: $CONF is not this script's; nothing stopped"
    return
  fi
  local ctld pid daemon
  if ctld=$(pid_of "$STATE/slurmctld.pid" slurmctld); then
    # the controller is the one this script started: every job on it is a test job
    SLURM_CONF=$CONF timeout 20 scancel --user="$(id -un)" 2>/dev/null || true
  fi
  for daemon in slurmd slurmctld; do
    if pid=$(pid_of "$STATE/$daemon.pid" "$daemon"); then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
      done
    fi
  done
  if pid=$(pid_of "$STATE/munged.pid" munged); then
    kill "$pid" 2>/dev/null || true
    rm -f "$STATE/munged.pid"
  fi
  echo "slurm: down${ctld:+ (controller $ctld)}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: bash slurm/cluster.sh up|down" >&2
    exit 2
    ;;
esac
