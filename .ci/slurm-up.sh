#!/usr/bin/env bash
# A working single-node Slurm cluster on this machine (Debian's slurm-wlm with munge), for the Slurm tests.
# Idempotent: installs what is missing, writes slurm.conf only when it differs from what it should be (then
# stops the running daemons cleanly first, so none reads a file half-written or keeps an old node layout),
# starts munged, slurmctld and slurmd when they are not running, and waits until the node takes jobs. Needs root.
set -euo pipefail
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi
host=$(hostname -s)
cpus=$(nproc)
# The node's memory, as slurmd measures it, less a little: a node that claims more than it has is drained,
# and without RealMemory every job asking for memory (--mem, mem_gb) is refused.
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.95)}' /proc/meminfo)
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged

wanted=$(mktemp)
trap 'rm -f "$wanted"' EXIT
cat > "$wanted" <<CONF
ClusterName=dropouttui
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
MpiDefault=none
JobRequeue=1
KillWait=30
MinJobAge=300
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

# Wait until no process of this exact name is left (the daemons finish their shutdown on their own).
gone() {
    for _ in $(seq 60); do
        pgrep -x "$1" >/dev/null || return 0
        sleep 0.5
    done
    echo "$1 did not stop" >&2
    return 1
}

if ! cmp -s "$wanted" /etc/slurm/slurm.conf; then
    if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
        # scontrol shutdown stops slurmctld and every slurmd with their state saved; a daemon that does not
        # answer it (slurmctld already gone) is told by its own pid file
        scontrol shutdown >/dev/null 2>&1 || true
        for daemon in slurmd slurmctld; do
            pid_file=/run/$daemon.pid
            if pgrep -x $daemon >/dev/null && [ -s $pid_file ]; then
                kill -TERM "$(cat $pid_file)" 2>/dev/null || true
            fi
        done
        gone slurmd
        gone slurmctld
    fi
    install -m 0644 "$wanted" /etc/slurm/slurm.conf.new
    mv -f /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf  # one rename: never a half-written file
fi
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
for _ in $(seq 60); do
    if sinfo -h -o "%T" 2>/dev/null | grep -qE "^(idle|mixed|allocated)"; then
        sinfo
        exit 0
    fi
    sleep 1
done
echo "slurm did not come up" >&2
tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
