#!/usr/bin/env bash
# One-node Slurm cluster on this machine, then the test configuration's DAG through it.
#
#   sudo .ci/slurm/run_slurm_test.sh            (root needed: apt-get, daemons)
#
# 1. installs slurm-wlm, slurmdbd, munge, mariadb (Debian 12 packages) if missing;
# 2. starts munged, mariadb, slurmdbd, slurmctld, slurmd (all on 127.0.0.1, state in a temp dir,
#    configuration via SLURM_CONF, nothing written to /etc/slurm);
# 3. runs the DAG locally (reference) and with --profile profiles/slurm (each into its own
#    output directory, via --config results_dir=... figures_dir=...);
# 4. checks: every job the Slurm run submitted is in sacct with state COMPLETED, their number
#    equals the number of non-local jobs Snakemake ran, and the deterministic outputs
#    (CSV/TSV, timing/provenance columns excepted) match the local run;
# 5. stops every daemon it started (trap), also on failure.
#
# Environment overrides: SNAKEFILE (Snakefile), CONFIGFILE (.test/config.yaml), PYTHON
# (.venv/bin/python if present, else python3), OUT (.test/out/slurm_ci), CORES (2), TARGETS
# (space-separated Snakemake targets; default: the workflow's default target),
# SKIP_INSTALL=1 (packages already there), KEEP_RUNDIR=1 (keep daemon logs for debugging),
# REFERENCE=DIR (skip the local run: compare against DIR/results and DIR/figures of a local run
# of the same configuration and targets that CI already made, e.g. REFERENCE=.test/out).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
SNAKEFILE="${SNAKEFILE:-Snakefile}"
CONFIGFILE="${CONFIGFILE:-.test/config.yaml}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
OUT="${OUT:-.test/out/slurm_ci}"
CORES="${CORES:-2}"
HERE=".ci/slurm"

log() { printf '[slurm-ci %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (installs packages and starts Slurm daemons): sudo $0"
[[ -f "$SNAKEFILE" ]] || die "SNAKEFILE=$SNAKEFILE not found (run from the repository, or set SNAKEFILE)."
[[ -f "$CONFIGFILE" ]] || die "CONFIGFILE=$CONFIGFILE not found (set CONFIGFILE to the test configuration)."

# --- 1. packages ------------------------------------------------------------------------------
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
    need=()
    for pkg in slurm-wlm slurmdbd munge mariadb-server; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
    done
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # policy-rc.d keeps the packages' own service scripts from starting daemons
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
        rm -f /usr/sbin/policy-rc.d
    fi
    if ! "$PYTHON" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
        log "installing snakemake-executor-plugin-slurm"
        "$PYTHON" -m pip install -q "snakemake-executor-plugin-slurm>=2.6.1,<2.7"
    fi
fi
for tool in slurmctld slurmd slurmdbd sacct sacctmgr munged mariadbd mariadb-install-db; do
    command -v "$tool" >/dev/null || die "$tool not on PATH (install slurm-wlm slurmdbd munge mariadb-server)."
done

# --- 2. daemons -------------------------------------------------------------------------------
RUN="$(mktemp -d /tmp/slurm-ci.XXXXXX)"
chmod 755 "$RUN"
mkdir -p "$RUN"/{etc,state,spool,db}
export SLURM_CONF="$RUN/etc/slurm.conf"
# Job steps (srun inside the batch script) do not inherit SLURM_CONF: they read the default
# /etc/slurm/slurm.conf, so that path points at ours for the duration of the test.
ETC_CONF=/etc/slurm/slurm.conf
if [[ -e $ETC_CONF || -L $ETC_CONF ]]; then
    [[ -L $ETC_CONF && "$(readlink "$ETC_CONF")" == /tmp/slurm-ci.* ]] ||
        die "$ETC_CONF exists: this machine already has a Slurm configuration; run the test on a fresh machine."
    rm -f "$ETC_CONF"  # left over from an interrupted run of this script
fi
mkdir -p /etc/slurm
ln -s "$SLURM_CONF" "$ETC_CONF"
STARTED_MUNGED=0

stop_pidfile() {  # stop the daemon whose pid is in $1 (only ours), wait up to 10 s
    local pidfile=$1 pid
    [[ -s "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    log "stopping daemons"
    stop_pidfile "$RUN/slurmd.pid"
    stop_pidfile "$RUN/slurmctld.pid"
    stop_pidfile "$RUN/slurmdbd.pid"
    stop_pidfile "$RUN/mariadb.pid"
    if [[ $STARTED_MUNGED == 1 ]]; then stop_pidfile "$RUN/munged.pid"; fi
    rm -f "$ETC_CONF"
    if [[ $rc -ne 0 ]]; then
        for f in "$RUN"/*.log "$RUN"/munge/*.log; do [[ -f $f ]] && { log "--- tail $f"; tail -n 20 "$f" >&2; }; done
    fi
    if [[ "${KEEP_RUNDIR:-0}" == 1 || $rc -ne 0 ]]; then log "daemon logs kept in $RUN"; else rm -rf "$RUN"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "$what did not come up within ${seconds}s"
}

# munge: reuse a running munged, else start one with the packaged key
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already running: reusing it"
else
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge "$RUN/munge" && chown munge:munge /run/munge "$RUN/munge"
    runuser -u munge -- munged --pid-file="$RUN/munge/munged.pid" --log-file="$RUN/munge/munged.log"
    STARTED_MUNGED=1
    wait_for 10 munged bash -c 'munge -n | unmunge'
    cp "$RUN/munge/munged.pid" "$RUN/munged.pid"
fi

# mariadb: a private instance (own datadir, socket, port) for slurmdbd only
DB_PORT=${DB_PORT:-33306}
log "starting mariadb (port $DB_PORT)"
mariadb-install-db --user=root --datadir="$RUN/db" --auth-root-authentication-method=socket \
    --skip-test-db >"$RUN/mariadb-install.log" 2>&1 || die "mariadb-install-db failed (see $RUN/mariadb-install.log)"
mariadbd --user=root --datadir="$RUN/db" --socket="$RUN/mariadb.sock" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --pid-file="$RUN/mariadb.pid" --log-error="$RUN/mariadb.log" &
wait_for 60 mariadb mariadb --socket="$RUN/mariadb.sock" -e "select 1"
mariadb --socket="$RUN/mariadb.sock" -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm-ci';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"

HOST="$(hostname -s)"
# The node advertises at least 16 CPUs and 256 GB (SlurmdParameters=config_overrides: slurmd does
# not check them against the hardware), so that rules asking for more threads or memory than this
# CI machine has are still scheduled (oversubscribed, nothing is enforced) instead of refused.
CPUS="$(nproc)"; ((CPUS >= 16)) || CPUS=16
MEM_MB="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"; ((MEM_MB >= 262144)) || MEM_MB=262144
cat >"$RUN/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm-ci
StorageLoc=slurm_acct_db
LogFile=$RUN/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
EOF
chmod 600 "$RUN/etc/slurmdbd.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$RUN/state
SlurmdSpoolDir=$RUN/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$RUN/slurmctld.log
SlurmdLogFile=$RUN/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/none
MinJobAge=600
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
EOF

log "starting slurmdbd, slurmctld, slurmd (node $HOST: $CPUS CPUs, $MEM_MB MB)"
slurmdbd
wait_for 30 slurmdbd sacctmgr -n show cluster
sacctmgr -i add cluster ci >/dev/null
slurmctld -i
wait_for 30 slurmctld scontrol ping
slurmd
wait_for 30 "node $HOST" bash -c "sinfo -h -N -o %t | grep -qx idle"
sinfo >&2

# --- 3. the DAG, locally and through Slurm ------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
# targets first: --configfile takes several values and would swallow them
read -r -a TARGET_LIST <<<"${TARGETS:-}"
SMK=("$PYTHON" -m snakemake "${TARGET_LIST[@]}" --snakefile "$SNAKEFILE" --configfile "$CONFIGFILE")

if [[ -n "${REFERENCE:-}" ]]; then
    [[ -d "$REFERENCE/results" && -d "$REFERENCE/figures" ]] ||
        die "REFERENCE=$REFERENCE must hold results/ and figures/ of a local run (or unset REFERENCE)."
    LOCAL_OUT="$REFERENCE"
    log "reference: the local run in $REFERENCE"
else
    LOCAL_OUT="$OUT/local"
    log "local reference run"
    "${SMK[@]}" --cores "$CORES" --config results_dir="$LOCAL_OUT/results" figures_dir="$LOCAL_OUT/figures" \
        >"$OUT/local.log" 2>&1 || { tail -n 40 "$OUT/local.log" >&2; die "local run failed (log: $OUT/local.log)"; }
fi

log "Slurm run"
START="$(date +%Y-%m-%dT%H:%M:%S)"
# --workflow-profile none: profiles/default (loaded automatically, and taking precedence) caps
# resources gpu at 1 for local runs, which would shrink multi-GPU requests under Slurm.
"${SMK[@]}" --profile profiles/slurm --workflow-profile none --slurm-no-account --slurm-init-seconds-before-status-checks 2 \
    --latency-wait 5 --retries 0 --jobs 4 \
    --config results_dir="$OUT/slurm/results" figures_dir="$OUT/slurm/figures" \
    >"$OUT/slurm.log" 2>&1 || { tail -n 40 "$OUT/slurm.log" >&2; die "Slurm run failed (log: $OUT/slurm.log)"; }

# --- 4. checks --------------------------------------------------------------------------------
log "checking sacct against the Slurm run's log"
sacct -X -n -P -S "$START" -o JobID,JobName%60,State,ExitCode,AllocCPUS,Comment%200 >"$OUT/sacct.txt"
"$PYTHON" "$HERE/check_slurm_jobs.py" --snakemake-log "$OUT/slurm.log" --sacct "$OUT/sacct.txt"

log "comparing outputs: local vs Slurm"
for part in results figures; do
    # with TARGETS the Slurm run made part of the reference's outputs: those must match
    "$PYTHON" "$HERE/compare_outputs.py" "$LOCAL_OUT/$part" "$OUT/slurm/$part" ${TARGETS:+--subset}
done

log "PASS"
