#!/usr/bin/env bash
# run-bench.sh - MANA-C overhead benchmark: native MPI vs. under mana-launch.
#
# Measures, with 2 ranks, natively ("native") and under the launcher ("mana"):
#   * NetPIPE (NPmpich2) ping-pong: 8-byte latency, 64 KiB latency (one-way
#     time, microseconds) and 4 MiB bandwidth (MiB/s);
#   * compute_allreduce (tests/bench/compute_allreduce.c): main-loop time as
#     measured with MPI_Wtime by the program (targeted); for information, the
#     wall time of the whole mpirun job (start-up and shut-down included) and
#     the median time of one iteration (insensitive to occasional stalls);
#   * call_cost (tests/bench/call_cost.c), 1 rank: nanoseconds per
#     MPI_Comm_rank (the trivial call; target <= 40 ns added) and per
#     MPI_Type_create_struct + MPI_Type_commit + MPI_Type_free of a 3-block
#     struct type (the handle-heavy call), with each of the three parts also
#     timed alone (batches of 256 types); reported as native, mana, ratio and
#     added ns (median over pairs of mana - native);
#   * coll_cost (tests/bench/coll_cost.c), 2 ranks: microseconds per
#     MPI_Bcast and MPI_Reduce of 16 KiB (under MANA: a ghost, a copy of the
#     input kept after the call) and of 128 KiB (an arrival barrier before
#     it), for information (docs/checkpoint-protocol.md); and per
#     MPI_Comm_dup + MPI_Allreduce on it + MPI_Comm_free, in loops of
#     BENCH_COLL_COMMS (default 5000), which shows what MANA's tables of
#     communicators cost as they grow;
#   * checkpoint/restart (tests/bench/ckpt_memory.c), 2 ranks under the
#     launcher with BENCH_CKPT_MIB MiB each (default 1024: 1/2 zeros, 1/4
#     random, 1/4 text): the wall time of "mana-ckpt --checkpoint --exit"
#     (request to durable generation) against writing the same bytes (dumped
#     by the program beforehand) with "zstd -T0 -1" plus sync to the same
#     disk (fsync of the outputs), as throughput ratio zstd_time/ckpt_time
#     (target >= 0.8); the wall time of "mpirun -np 2 mana-restart DIR" until
#     the ranks run the program's code again and until the program has
#     verified every byte and exited, against reading the baseline's bytes
#     back: "zstd -d" of its two .zst files to /dev/null, one process per
#     rank, run concurrently as the ranks are (target <= 1.5x); for
#     information the same restart time against "cat" of the image files,
#     which reads the compressed bytes but neither decompresses them nor
#     puts them in memory; all after dropping the page cache; image bytes
#     per rank.  BENCH_CKPT_REPS repetitions, baseline and MANA interleaved
#     (order alternating), medians.  These lines go to results.txt with the
#     baseline in the "native" column.
#
# Lower halves and faces ("flavours", BENCH_FLAVOURS, default "mpich openmpi
# ompi-face"): the
# NetPIPE, compute_allreduce and call_cost parts are measured once per
# flavour, all pairs of one flavour before the next, each flavour with its
# own time budget (BENCH_BUDGET, BENCH_NP_BUDGET count from its warm-up):
#   * mpich (metric names as listed below): native = the program built with
#     $MPICC (NetPIPE: $NETPIPE) run as "$MPIRUN -np N prog"; mana = the same
#     binary run as "$MPIRUN -np N $MANA_LAUNCH -- prog" (MPICH lower half).
#     Hydra (mpirun.mpich) does not bind ranks to cores by default.
#   * openmpi (the same metrics and targets, names prefixed "ompi_"): native
#     = the same source built with $OMPI_MPICC (NetPIPE: $OMPI_NETPIPE, the
#     same NetPIPE source built against Open MPI, Debian package
#     netpipe-openmpi) run as "$OMPI_MPIRUN -np N prog"; mana = the MPICH
#     build (and $NETPIPE) run as "$OMPI_MPIRUN -np N $MANA_LAUNCH -- prog",
#     which starts the Open MPI lower half (mana-launch picks it from
#     mpirun.openmpi's environment).  mpirun.openmpi binds each rank to a
#     core by default (2 ranks or fewer: "bind to core"), and both modes get
#     the same runner options, so the ratio compares like with like; the
#     absolute figures are not comparable with the mpich lines (other MPI,
#     other binding).
#   * ompi-face (names prefixed "face_"): programs built against Open MPI's
#     ABI, which get MANA's Open MPI face: native = the $OMPI_MPICC build
#     (NetPIPE: $OMPI_NETPIPE) run as "$OMPI_MPIRUN -np N prog"; mana = the
#     same binary run as "$OMPI_MPIRUN -np N $MANA_LAUNCH -- prog" (the
#     face over the Open MPI lower half).
# The checkpoint part measures the MPICH lower half only (mpich runner and
# launcher; skipped when BENCH_FLAVOURS lacks mpich).  results.txt has one
# comment line per flavour saying how it was run.
#
# Method
#   * Runs come in pairs, one native and one mana run back to back, the order
#     alternating (N M, M N, N M, ...) so that slow drifts cancel.
#   * Interference gate: for every run the script measures how much CPU time
#     processes other than the benchmark used meanwhile (/proc/stat busy time
#     minus the CPU time of the job's own process tree).  A pair in which
#     either run saw more than BENCH_MAX_FOREIGN percent of the machine's CPU
#     go elsewhere is "disturbed": it is kept in the raw samples but not used,
#     and another pair is run, until BENCH_*_REPS clean pairs exist or the
#     time budget is spent.  (The ranks busy-poll on both cores, so any
#     foreign CPU time directly slows them down.)
#   * Estimate: ratio = median over the clean pairs of the per-pair ratio
#     mana/native (pairing cancels the slow speed drifts of a shared or
#     virtual machine, the median rejects outliers); "native" and "mana" are
#     the medians of each mode's clean samples.  "+-" is the standard error of
#     the median ratio, estimated from the spread of the pair ratios
#     (1.25 * 1.4826 * MAD / sqrt(pairs)): a MISS or PASS within about twice
#     that of the target is not significant.  With fewer than 3 clean pairs
#     all pairs are used and the line is marked "noisy".
#
# Output: a table (metric, native, mana, ratio = mana/native, +-, target,
# PASS/MISS) and a machine-readable copy in $BENCH_BUILD/results.txt
# ("metric native mana ratio target result ..." lines), raw samples in
# $BENCH_BUILD/samples.txt and one log per run in $BENCH_BUILD/logs/.
# A MISS is reported, not fatal: the script exits non-zero only when a run
# fails (non-zero exit status, time-out, unparsable output, or an application
# checksum different from the native one) or the set-up is wrong.
#
# Environment:
#   MANA_LAUNCH     launcher (default: <repo>/build/bin/mana-launch).  Runs are
#                   "RUNNER -np 2 $MANA_LAUNCH -- prog args".  May contain
#                   extra words (launcher options), split on whitespace.
#   MPIRUN          MPI runner of the mpich flavour and of the checkpoint part
#                   (default mpirun.mpich); may contain options,
#                   e.g. MPIRUN="mpirun.mpich -bind-to core".
#   MPICC           compiler for the benchmark program (default mpicc.mpich):
#                   the mpich native runs and all mana runs use its build.
#   NETPIPE         NetPIPE binary (default NPmpich2); idem.
#   BENCH_FLAVOURS  what to measure, any of "mpich openmpi ompi-face" (default
#                   all three; the order is the order of the runs).
#   OMPI_MPIRUN     runner for the openmpi flavour, both modes (default
#                   "mpirun.openmpi --allow-run-as-root --oversubscribe";
#                   may contain options, e.g. "... --bind-to none").
#   OMPI_MPICC      compiler for the openmpi native runs (default
#                   mpicc.openmpi); builds go to $BENCH_BUILD/openmpi/.
#   OMPI_NETPIPE    NetPIPE for the openmpi native runs (default NPopenmpi,
#                   Debian package netpipe-openmpi).
#   BENCH_BUILD     build/output dir (default <repo>/build/bench).
#   BENCH_NP_REPS   clean NetPIPE pairs wanted for the 8 B and 64 KiB
#                   latencies (default 11).
#   BENCH_BW_REPS   clean NetPIPE pairs wanted for the 4 MiB bandwidth, which
#                   varies more from run to run (default 25).
#   BENCH_APP_REPS  clean compute_allreduce pairs wanted (default 12).
#   BENCH_MIN_PAIRS pairs always run per metric, budget or not (default 3).
#   BENCH_BUDGET    seconds after which no new pair starts once
#                   BENCH_MIN_PAIRS exist (default 165; NetPIPE gets the
#                   first BENCH_NP_BUDGET=60 of them), so that a flavour
#                   takes about 3 minutes; raise it (and BENCH_APP_REPS) for
#                   tighter application-time figures.  Counted per flavour.
#   BENCH_MAX_FOREIGN  foreign CPU use, in percent of the machine, above which
#                   a run counts as disturbed (default 1; 2 clock ticks are
#                   always allowed for accounting granularity).
#   BENCH_APP_ARGS  arguments for compute_allreduce (default: none, i.e. its
#                   built-in iteration count, 4-5 s with 2 ranks).
#   BENCH_TIMEOUT   per-run time limit in seconds (default 300).
#   BENCH_PARTS     which parts to run, any of "netpipe app call coll ckpt"
#                   (default: all five), e.g. BENCH_PARTS="call ckpt".
#   BENCH_CALL_PAIRS  native/mana pairs of call_cost (default 7); each run
#                   reports the median of BENCH_CALL_REPS (default 7)
#                   repetitions of BENCH_CALL_MS (default 100) ms per loop.
#   BENCH_COLL_PAIRS  native/mana pairs of coll_cost (default 7); each run
#                   reports the median of BENCH_COLL_REPS (default 7) loops
#                   of BENCH_COLL_MS (default 100) ms per case, and of
#                   BENCH_COLL_COMMS (default 5000) communicators made.
#   BENCH_CKPT_MIB  MiB per rank for the checkpoint part (default 1024;
#                   64 for a quick smoke test).
#   BENCH_CKPT_REPS checkpoint/restart repetitions (default 3).
#   BENCH_CKPT_DIR  where images and the zstd baseline go (default
#                   $BENCH_BUILD/ckpt; the disk being measured).  Needs
#                   about 2 * BENCH_CKPT_MIB MiB for the raw dumps plus room
#                   for two generations of images.
#   ZSTD            zstd command-line tool (default zstd; Debian package zstd).
#
# Test mode, before the real launcher exists: point MANA_LAUNCH at a wrapper
# that drops the leading "--" and execs the rest; ratios should be ~1.0.
set -euo pipefail
export LC_ALL=C

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)

MANA_LAUNCH=${MANA_LAUNCH:-"$(dirname "$0")/../../build/bin/mana-launch"}
MPIRUN=${MPIRUN:-mpirun.mpich}
MPICC=${MPICC:-mpicc.mpich}
NETPIPE=${NETPIPE:-NPmpich2}
BENCH_FLAVOURS=${BENCH_FLAVOURS:-mpich openmpi ompi-face}
OMPI_MPIRUN=${OMPI_MPIRUN:-mpirun.openmpi --allow-run-as-root --oversubscribe}
OMPI_MPICC=${OMPI_MPICC:-mpicc.openmpi}
OMPI_NETPIPE=${OMPI_NETPIPE:-NPopenmpi}
BENCH_BUILD=${BENCH_BUILD:-"$repo_root/build/bench"}
BENCH_NP_REPS=${BENCH_NP_REPS:-11}
BENCH_BW_REPS=${BENCH_BW_REPS:-25}
BENCH_APP_REPS=${BENCH_APP_REPS:-12}
BENCH_MIN_PAIRS=${BENCH_MIN_PAIRS:-3}
BENCH_BUDGET=${BENCH_BUDGET:-165}
BENCH_NP_BUDGET=${BENCH_NP_BUDGET:-60}
BENCH_MAX_FOREIGN=${BENCH_MAX_FOREIGN:-1}
BENCH_APP_ARGS=${BENCH_APP_ARGS:-}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
BENCH_PARTS=${BENCH_PARTS:-netpipe app call coll ckpt}
BENCH_CALL_PAIRS=${BENCH_CALL_PAIRS:-7}
BENCH_COLL_PAIRS=${BENCH_COLL_PAIRS:-7}
BENCH_CKPT_MIB=${BENCH_CKPT_MIB:-1024}
BENCH_CKPT_REPS=${BENCH_CKPT_REPS:-3}
ZSTD=${ZSTD:-zstd}
NPROCS=2

die() { echo "run-bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------- set-up ---
read -r -a launch_cmd <<<"$MANA_LAUNCH"
read -r -a app_args <<<"$BENCH_APP_ARGS"
((${#launch_cmd[@]} > 0)) || die "MANA_LAUNCH is empty"

# want_part NAME: is NAME in BENCH_PARTS?
want_part() { [[ " $BENCH_PARTS " == *" $1 "* ]]; }
for p in $BENCH_PARTS; do
    [[ $p == netpipe || $p == app || $p == call || $p == coll || $p == ckpt ]] ||
        die "BENCH_PARTS: unknown part '$p' (netpipe, app, call, coll, ckpt)"
done
# want_flavour NAME: is NAME in BENCH_FLAVOURS?
want_flavour() { [[ " $BENCH_FLAVOURS " == *" $1 "* ]]; }
[[ -n ${BENCH_FLAVOURS// /} ]] || die "BENCH_FLAVOURS is empty (mpich, openmpi, ompi-face)"
flavours=
for f in $BENCH_FLAVOURS; do
    [[ $f == mpich || $f == openmpi || $f == ompi-face ]] ||
        die "BENCH_FLAVOURS: unknown flavour '$f' (mpich, openmpi, ompi-face)"
    [[ " $flavours " == *" $f "* ]] || flavours+="${flavours:+ }$f" # each once
done
BENCH_FLAVOURS=$flavours

# Per flavour: the runner, the native build's compiler and NetPIPE, the
# environment variables that set them, the metric prefix, and whose build
# the mana runs use (the MPICH build, $MPICC and $NETPIPE, except for the
# Open MPI face, which runs the Open MPI build) under the flavour's runner.
declare -A runner=([mpich]=$MPIRUN [openmpi]=$OMPI_MPIRUN [ompi-face]=$OMPI_MPIRUN)
declare -A runner_var=([mpich]=MPIRUN [openmpi]=OMPI_MPIRUN [ompi-face]=OMPI_MPIRUN)
declare -A native_cc=([mpich]=$MPICC [openmpi]=$OMPI_MPICC [ompi-face]=$OMPI_MPICC)
declare -A native_cc_var=([mpich]=MPICC [openmpi]=OMPI_MPICC [ompi-face]=OMPI_MPICC)
declare -A native_np=([mpich]=$NETPIPE [openmpi]=$OMPI_NETPIPE [ompi-face]=$OMPI_NETPIPE)
declare -A native_np_var=([mpich]=NETPIPE [openmpi]=OMPI_NETPIPE [ompi-face]=OMPI_NETPIPE)
declare -A native_np_pkg=([mpich]=netpipe-mpich2 [openmpi]=netpipe-openmpi [ompi-face]=netpipe-openmpi)
declare -A metric_prefix=([mpich]="" [openmpi]=ompi_ [ompi-face]=face_)
declare -A flavour_title=([mpich]="MPICH lower half" [openmpi]="Open MPI lower half"
    [ompi-face]="Open MPI face (programs built with $OMPI_MPICC)")
declare -A mana_build=([mpich]=mpich [openmpi]=mpich [ompi-face]=ompi-face)
declare -A np_bin=([mpich]="" [openmpi]="" [ompi-face]="")
for f in mpich openmpi ompi-face; do
    # The MPICH build (and NPmpich2) is needed by every flavour's mana runs.
    want_flavour "$f" || [[ $f == mpich ]] || continue
    if want_flavour "$f"; then
        read -r -a w <<<"${runner[$f]}"
        ((${#w[@]} > 0)) || die "${runner_var[$f]} is empty"
        command -v "${w[0]}" >/dev/null ||
            die "MPI runner '${w[0]}' not found (set ${runner_var[$f]})"
    fi
    command -v "${native_cc[$f]}" >/dev/null ||
        die "compiler '${native_cc[$f]}' not found (set ${native_cc_var[$f]})"
    if want_part netpipe; then
        np_bin[$f]=$(command -v "${native_np[$f]}") ||
            die "NetPIPE '${native_np[$f]}' not found (Debian package" \
                "${native_np_pkg[$f]}; set ${native_np_var[$f]})"
    fi
done
if want_part ckpt && ! want_flavour mpich; then
    echo "run-bench: the checkpoint part measures the MPICH lower half only:" \
        "skipped (BENCH_FLAVOURS=$BENCH_FLAVOURS)"
    BENCH_PARTS=${BENCH_PARTS//ckpt/}
fi
if want_part ckpt; then
    command -v "$ZSTD" >/dev/null ||
        die "'$ZSTD' not found: the checkpoint baseline needs the zstd command-line" \
            "tool (Debian package zstd; set ZSTD, or leave ckpt out of BENCH_PARTS)"
fi

# Resolve the launcher to an absolute path: the runs happen in another dir.
launcher=${launch_cmd[0]}
if [[ $launcher != */* ]]; then
    launcher=$(command -v "$launcher") || die "launcher '${launch_cmd[0]}' not found"
fi
[[ -f $launcher && -x $launcher ]] ||
    die "launcher '$launcher' does not exist or is not executable;" \
        "build it first or set MANA_LAUNCH"
launch_cmd[0]=$(cd "$(dirname "$launcher")" && pwd)/$(basename "$launcher")
bindir=$(dirname "${launch_cmd[0]}")
MANA_CKPT=${MANA_CKPT:-$bindir/mana-ckpt}
MANA_RESTART=${MANA_RESTART:-$bindir/mana-restart}
if want_part ckpt; then
    [[ -x $MANA_CKPT && -x $MANA_RESTART ]] ||
        die "the checkpoint part needs $MANA_CKPT and $MANA_RESTART (set MANA_CKPT," \
            "MANA_RESTART, or leave ckpt out of BENCH_PARTS)"
fi

for v in BENCH_NP_REPS BENCH_BW_REPS BENCH_APP_REPS BENCH_MIN_PAIRS BENCH_BUDGET \
    BENCH_NP_BUDGET BENCH_TIMEOUT BENCH_CALL_PAIRS BENCH_CKPT_MIB BENCH_CKPT_REPS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $BENCH_MAX_FOREIGN =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
    die "BENCH_MAX_FOREIGN must be a number (got '$BENCH_MAX_FOREIGN')"
# Threshold in parts per million of the machine's CPU time.
max_foreign_ppm=$(awk -v p="$BENCH_MAX_FOREIGN" 'BEGIN { printf "%d", p * 10000 }')
ncpu=$(getconf _NPROCESSORS_ONLN)
clk_tck=$(getconf CLK_TCK)

mkdir -p "$BENCH_BUILD"
BENCH_BUILD=$(cd "$BENCH_BUILD" && pwd)
logdir=$BENCH_BUILD/logs
mkdir -p "$logdir"
rm -f "$logdir"/*.log "$logdir"/*.out

# prog_dir FLAVOUR: where the programs built with FLAVOUR's compiler go
# (the MPICH builds, which the mana runs use, directly in $BENCH_BUILD).
prog_dir() { [[ $1 == mpich ]] && echo "$BENCH_BUILD" || echo "$BENCH_BUILD/$1"; }
# build_prog FLAVOUR NAME: compile tests/bench/NAME.c with FLAVOUR's compiler
# to $(prog_dir FLAVOUR)/NAME if stale.
build_prog() {
    local src=$script_dir/$2.c dir
    dir=$(prog_dir "$1")
    local bin=$dir/$2
    mkdir -p "$dir"
    if [[ ! -x $bin || $src -nt $bin ]]; then
        echo "run-bench: compiling $bin"
        "${native_cc[$1]}" -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-stringop-overflow \
            -o "$bin" "$src" -lm || die "compiling $src failed"
    fi
}
ckpt_bin=$BENCH_BUILD/ckpt_memory
for f in mpich $BENCH_FLAVOURS; do
    build_prog "$f" compute_allreduce
    want_part call && build_prog "$f" call_cost
    want_part coll && build_prog "$f" coll_cost
done
want_part ckpt && build_prog mpich ckpt_memory

samples=$BENCH_BUILD/samples.txt
results=$BENCH_BUILD/results.txt

# ------------------------------------------------------------------ runs ---
# Monotonic-enough clock in microseconds ($EPOCHREALTIME has 6 decimals).
now_us() { local t=$EPOCHREALTIME; echo $((10#${t/./})); }

# cpu_snap: sets snap_busy (machine non-idle ticks, all CPUs) and snap_ours
# (CPU ticks of this shell's reaped descendants).  No forks.
cpu_snap() {
    local _cpu u n s _idle _iow irq sirq steal rest
    read -r _cpu u n s _idle _iow irq sirq steal rest </proc/stat
    snap_busy=$((u + n + s + irq + sirq + steal))
    read -r rest </proc/$$/stat
    rest=${rest##*) }
    local -a f
    read -r -a f <<<"$rest"
    snap_ours=$((f[13] + f[14])) # cutime + cstime
}

# set_flavour FLAVOUR: the runs that follow measure FLAVOUR's lower half:
# sets flavour, mpirun_cmd (its runner) and key_prefix (for the sample keys).
set_flavour() {
    flavour=$1
    read -r -a mpirun_cmd <<<"${runner[$1]}"
    key_prefix=${metric_prefix[$1]}
}
# prog_for MODE NAME: sets prog to NAME's binary for a MODE run: natively the
# flavour's own build, under the launcher mana_build's.  NetPIPE: NAME np.
prog_for() {
    local built_by=${mana_build[$flavour]}
    [[ $1 == native ]] && built_by=$flavour
    if [[ $2 == np ]]; then prog=${np_bin[$built_by]}; else prog=$(prog_dir "$built_by")/$2; fi
}

run_no=0
last_log=
last_wall=
last_foreign_ppm=0

# run_job MODE TAG CMD...: run CMD with NPROCS ranks (job_np if set), natively or under the
# launcher, in $logdir, output to a log.  Sets last_log, last_wall (seconds)
# and last_foreign_ppm (CPU time used by other processes meanwhile, in ppm of
# the machine's capacity).  Exits the script if the run fails.
run_job() {
    local mode=$1 tag=$2
    shift 2
    local -a cmd=(timeout -k 10 "$BENCH_TIMEOUT" "${mpirun_cmd[@]}" -np "${job_np:-$NPROCS}")
    [[ $mode == mana ]] && cmd+=("${launch_cmd[@]}" --)
    cmd+=("$@")
    run_no=$((run_no + 1))
    last_log=$logdir/$(printf '%03d' "$run_no")-$mode-$tag.log
    local rc=0 t0 t1 busy0 ours0
    cpu_snap
    busy0=$snap_busy ours0=$snap_ours
    t0=$(now_us)
    (cd "$logdir" && exec "${cmd[@]}") </dev/null >"$last_log" 2>&1 || rc=$?
    t1=$(now_us)
    cpu_snap
    local wall_us=$((t1 - t0))
    ((wall_us > 0)) || wall_us=1
    # Foreign ticks, less 2 ticks of slack for the granularity of the
    # tick-sampled /proc/stat counters.
    local foreign=$(((snap_busy - busy0) - (snap_ours - ours0) - 2))
    ((foreign > 0)) || foreign=0
    last_foreign_ppm=$((foreign * 1000000 * 1000000 / clk_tck / (ncpu * wall_us)))
    last_wall=$(printf '%d.%06d' $((wall_us / 1000000)) $((wall_us % 1000000)))
    if ((rc != 0)); then
        {
            echo "run-bench: FAILED ($mode run, exit status $rc$( ((rc == 124)) && echo ", timed out after ${BENCH_TIMEOUT}s")):"
            echo "  ${cmd[*]}"
            echo "---- last lines of $last_log ----"
            tail -n 40 "$last_log"
        } >&2
        exit 1
    fi
}

# netpipe MODE SIZE: one NetPIPE run at exactly SIZE bytes; sets meas to
# "lat_SIZE <one-way time, us>" and "bw_SIZE <MiB/s>".
netpipe() {
    local mode=$1 size=$2
    local out
    out=$logdir/$(printf '%03d' $((run_no + 1)))-$mode-np$size.out
    rm -f "$out"
    prog_for "$mode" np
    run_job "$mode" "np$size" "$prog" -l "$size" -u "$size" -p 0 -o "$out"
    # Output file: "bytes Mbps seconds" per line, Mbps = bits / t / 2^20.
    # The time column has only 8 decimals (0.00000069 s), so recompute the
    # time from the throughput column, which has more significant digits.
    local vals
    vals=$(awk -v s="$size" '$1 == s && $2 > 0 {
               printf "%.6f %.3f\n", $1 * 8 / ($2 * 1048576) * 1e6, $2 / 8 }' \
        "$out" 2>/dev/null | tail -n 1) || vals=
    [[ -n $vals ]] || {
        echo "run-bench: FAILED: no $size-byte result in NetPIPE output $out" >&2
        tail -n 20 "$last_log" >&2
        exit 1
    }
    local lat bw
    read -r lat bw <<<"$vals"
    meas=("lat_$size $lat" "bw_$size $bw")
}

ref_checksum=
# app MODE [ARGS...]: one compute_allreduce run; sets meas to "app_time <s>",
# "app_wall <s>" and "app_iter_med <ms>".  The first run after ref_checksum is cleared (always a
# native one) sets the reference checksum; every later run must reproduce it
# bit for bit.
app() {
    local mode=$1
    shift
    prog_for "$mode" compute_allreduce
    run_job "$mode" app "$prog" "$@"
    local line
    line=$(grep -m1 '^BENCH_RESULT ' "$last_log") || {
        echo "run-bench: FAILED: no BENCH_RESULT line in $last_log" >&2
        tail -n 20 "$last_log" >&2
        exit 1
    }
    local el med cs
    el=$(sed -n 's/.* elapsed_s=\([0-9.]*\).*/\1/p' <<<"$line")
    med=$(sed -n 's/.* iter_median_s=\([0-9.]*\).*/\1/p' <<<"$line")
    cs=$(sed -n 's/.* checksum_bits=\(0x[0-9a-f]*\).*/\1/p' <<<"$line")
    [[ -n $el && -n $med && -n $cs ]] || die "FAILED: malformed result line in $last_log: $line"
    if [[ -z $ref_checksum ]]; then
        ref_checksum=$cs
    elif [[ $cs != "$ref_checksum" ]]; then
        die "FAILED: checksum mismatch ($mode run: $cs, native reference:" \
            "$ref_checksum); see $last_log"
    fi
    meas=("app_time $el" "app_wall $last_wall" "app_iter_med $(awk -v m="$med" 'BEGIN { printf "%.6f", m * 1000 }')")
}

# call_run MODE: one call_cost run with 1 rank; sets meas to the per-call
# times in ns ("call_rank", "call_cycle", "call_create", "call_commit",
# "call_free").
call_run() {
    local mode=$1 line k v
    prog_for "$mode" call_cost
    job_np=1 run_job "$mode" call "$prog"
    line=$(grep -m1 '^CALL_RESULT ' "$last_log") || {
        echo "run-bench: FAILED: no CALL_RESULT line in $last_log" >&2
        tail -n 20 "$last_log" >&2
        exit 1
    }
    meas=()
    for k in rank:comm_rank cycle:type_cycle create:type_create commit:type_commit free:type_free; do
        v=$(sed -n "s/.* ${k#*:}_ns=\([0-9.]*\).*/\1/p" <<<"$line")
        [[ -n $v ]] || die "FAILED: malformed result line in $last_log: $line"
        meas+=("call_${k%%:*} $v")
    done
}

# coll_run MODE: one coll_cost run with 2 ranks; sets meas to the per-call
# times in us ("coll_bcast_16k", "coll_bcast_128k", "coll_reduce_16k",
# "coll_reduce_128k", "coll_comm_churn").
coll_run() {
    local mode=$1 line k v
    prog_for "$mode" coll_cost
    run_job "$mode" coll "$prog"
    line=$(grep -m1 '^COLL_RESULT ' "$last_log") || {
        echo "run-bench: FAILED: no COLL_RESULT line in $last_log" >&2
        tail -n 20 "$last_log" >&2
        exit 1
    }
    meas=()
    for k in bcast_16k bcast_128k reduce_16k reduce_128k comm_churn; do
        v=$(sed -n "s/.* ${k}_us=\([0-9.]*\).*/\1/p" <<<"$line")
        [[ -n $v ]] || die "FAILED: malformed result line in $last_log: $line"
        meas+=("coll_$k $v")
    done
}

# wait_quiet DEADLINE: after a disturbed pair, wait (at most until DEADLINE
# seconds into the run) until other processes leave the machine idle: at most
# 3% of its CPU busy over half a second.  Saves re-running disturbed pairs.
waited_us=0
wait_quiet() {
    local deadline=$1 b0 t0 start
    ((!pair_clean)) || return 0
    start=$(now_us)
    while (($(elapsed_s) < deadline)); do
        cpu_snap
        b0=$snap_busy t0=$(now_us)
        sleep 0.5
        cpu_snap
        if (((snap_busy - b0) * 1000000 * 100 / clk_tck <= 3 * ncpu * ($(now_us) - t0))); then
            break
        fi
        sleep 1
    done
    waited_us=$((waited_us + $(now_us) - start))
}

# pair KIND NO: one native and one mana run of KIND (np:SIZE or app), order
# alternating with NO; appends "key mode value pair clean foreign_pct" lines
# to $samples and sets pair_clean (1 or 0).
pair_id=0
pair_clean=1
pair() {
    local kind=$1 no=$2 mode m
    local -a lines=()
    local -a modes=(native mana)
    ((no % 2)) || modes=(mana native)
    pair_id=$((pair_id + 1))
    pair_clean=1
    for mode in "${modes[@]}"; do
        case $kind in
        np:*) netpipe "$mode" "${kind#np:}" ;;
        app) app "$mode" "${app_args[@]}" ;;
        call) call_run "$mode" ;;
        coll) coll_run "$mode" ;;
        esac
        ((last_foreign_ppm <= max_foreign_ppm)) || pair_clean=0
        local pct
        pct=$(printf '%d.%02d' $((last_foreign_ppm / 10000)) $((last_foreign_ppm / 100 % 100)))
        for m in "${meas[@]}"; do lines+=("$key_prefix${m%% *} $mode ${m#* } $pair_id CLEAN $pct"); done
    done
    for m in "${lines[@]}"; do echo "${m/CLEAN/$pair_clean}" >>"$samples"; done
}

t_start=$(now_us)
# Seconds since the current flavour's measurements began (the budgets apply
# to each flavour).
t_flavour=$t_start
elapsed_s() { echo $((($(now_us) - t_flavour) / 1000000)); }

echo "run-bench: native vs. '${launch_cmd[*]}' with $NPROCS ranks"
echo "run-bench: flavours: $BENCH_FLAVOURS, parts: $BENCH_PARTS, outputs in $BENCH_BUILD"
read -r load1 _ </proc/loadavg
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
    echo "run-bench: warning: load average is $load1 before starting; other work on" \
        "this machine slows the benchmark down (disturbed pairs are re-run)"
fi
: >"$samples"

# clean_pairs KIND TITLE WANT: pairs of KIND until WANT are clean (at most
# 2 * WANT), each after waiting a little for a quiet machine.
clean_pairs() {
    local kind=$1 title=$2 want=$3 clean=0 total=0
    echo "run-bench: $title, $want clean pairs"
    while ((clean < want && total < 2 * want)); do
        total=$((total + 1))
        wait_quiet $(($(elapsed_s) + 20))
        pair "$kind" "$total"
        clean=$((clean + pair_clean))
    done
    echo "  $clean clean of $total pairs"
}

# measure FLAVOUR: the netpipe, app, call and coll parts (those in BENCH_PARTS) for
# FLAVOUR's lower half, natively with FLAVOUR's build against mana_build's
# under the launcher, both under FLAVOUR's runner; appends to $samples.
measure() {
    set_flavour "$1"
    t_flavour=$(now_us)
    pair_clean=1
    echo "run-bench: ${flavour_title[$flavour]}: runner '${mpirun_cmd[*]}'," \
        "native build with ${native_cc[$flavour]}, mana build with ${native_cc[${mana_build[$flavour]}]}"

    # Warm-up (caches, page cache, lazy binding) and a first correctness
    # check of both modes: short application runs must agree on the checksum.
    echo "run-bench: warm-up"
    ref_checksum=
    if want_part app || want_part netpipe; then
        app native 100
        app mana 100
    fi
    if want_part netpipe; then
        netpipe native 8
        netpipe mana 8
    fi
    if want_part call; then
        BENCH_CALL_REPS=1 BENCH_CALL_MS=10 call_run native
        BENCH_CALL_REPS=1 BENCH_CALL_MS=10 call_run mana
    fi
    if want_part coll; then
        BENCH_COLL_REPS=1 BENCH_COLL_MS=10 BENCH_COLL_COMMS=100 coll_run native
        BENCH_COLL_REPS=1 BENCH_COLL_MS=10 BENCH_COLL_COMMS=100 coll_run mana
    fi
    ref_checksum=

    # NetPIPE: rounds over the sizes still short of clean pairs.
    local -a sizes=(8 65536 4194304)
    want_part netpipe || sizes=()
    local -A clean=() total=() want=()
    local size ran
    for size in "${sizes[@]}"; do clean[$size]=0 total[$size]=0 want[$size]=$BENCH_NP_REPS; done
    want[4194304]=$BENCH_BW_REPS
    ((${#sizes[@]} == 0)) || echo "run-bench: NetPIPE, ${#sizes[@]} sizes, $BENCH_NP_REPS clean pairs each" \
        "($BENCH_BW_REPS for 4 MiB)"
    while :; do
        ran=0
        for size in "${sizes[@]}"; do
            ((clean[$size] < want[$size])) || continue
            if ((total[$size] >= BENCH_MIN_PAIRS)); then
                (($(elapsed_s) < BENCH_NP_BUDGET)) || continue
                ((total[$size] < 3 * want[$size])) || continue
            fi
            total[$size]=$((total[$size] + 1))
            wait_quiet "$BENCH_NP_BUDGET"
            pair "np:$size" "${total[$size]}"
            clean[$size]=$((clean[$size] + pair_clean))
            ran=1
        done
        ((ran)) || break
    done
    for size in "${sizes[@]}"; do
        echo "  $size bytes: ${clean[$size]} clean of ${total[$size]} pairs"
    done

    want_part app && echo "run-bench: compute_allreduce, $BENCH_APP_REPS clean pairs"
    local app_clean=0 app_total=0
    while want_part app && ((app_clean < BENCH_APP_REPS)); do
        if ((app_total >= BENCH_MIN_PAIRS)); then
            (($(elapsed_s) < BENCH_BUDGET)) || break
            ((app_total < 3 * BENCH_APP_REPS)) || break
        fi
        app_total=$((app_total + 1))
        wait_quiet "$BENCH_BUDGET"
        pair app "$app_total"
        app_clean=$((app_clean + pair_clean))
        printf '  pair %d: %s (%d clean of %d)\n' "$app_total" \
            "$( ((pair_clean)) && echo clean || echo disturbed)" "$app_clean" "$app_total"
    done
    want_part call && clean_pairs call "call_cost (1 rank)" "$BENCH_CALL_PAIRS"
    want_part coll && clean_pairs coll "coll_cost (2 ranks)" "$BENCH_COLL_PAIRS"
    return 0
}
for f in $BENCH_FLAVOURS; do measure "$f"; done
# The checkpoint part runs under the MPICH runner.
set_flavour mpich

# ------------------------------------------------- checkpoint / restart ---
# One line per repetition in $ckpt_samples:
#   rep zstd_s ckpt_s cat_s restart_s verify_s image_bytes du_bytes zst_bytes
#   unzstd_s (the restart's baseline) resume_s
ckpt_samples=$BENCH_BUILD/ckpt-samples.txt
: >"$ckpt_samples"
can_drop=0
if want_part ckpt; then
    ckdir=${BENCH_CKPT_DIR:-$BENCH_BUILD/ckpt}
    mkdir -p "$ckdir"
    ckdir=$(cd "$ckdir" && pwd)
    rm -rf "${ckdir:?}"/raw-* "$ckdir"/zst-* "$ckdir"/job
    sync
    if { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then can_drop=1; fi
    # drop_cache: write back, then empty the page cache when we may.
    drop_cache() {
        sync
        if ((can_drop)); then echo 3 >/proc/sys/vm/drop_caches; fi
    }
    export BENCH_CKPT_MIB
    echo "run-bench: checkpoint/restart, 2 ranks x $BENCH_CKPT_MIB MiB, $BENCH_CKPT_REPS repetitions, in $ckdir" \
        "($( ((can_drop)) && echo "page cache dropped before reads" || echo "page cache NOT dropped: no permission"))"
    for r in 0 1; do
        "$ckpt_bin" --dump "$ckdir/raw-$r" $r || die "FAILED: ckpt_memory --dump $r"
    done
    sync

    # zstd_write: the baseline, same bytes, same disk; sets t_zstd (s), zst_bytes.
    zstd_write() {
        local t0 r
        sync
        t0=$(now_us)
        for r in 0 1; do
            "$ZSTD" -T0 -1 -q -f "$ckdir/raw-$r" -o "$ckdir/zst-$r" || die "FAILED: $ZSTD on raw-$r"
        done
        # fsync of the two outputs (the checkpoint fsyncs its images), not a
        # global sync that would also pay for other processes' dirty pages.
        sync "$ckdir/zst-0" "$ckdir/zst-1"
        t_zstd=$(($(now_us) - t0))
        zst_bytes=$(($(stat -c %s "$ckdir/zst-0") + $(stat -c %s "$ckdir/zst-1")))
    }
    # ckpt_write: run the job under the launcher, checkpoint-and-exit when it
    # is ready; sets t_ckpt (us), gen_dir, img_bytes (MANIFEST), du_bytes.
    ckpt_write() {
        local d=$ckdir/job log t0 rc=0 i pid
        rm -rf "$d"
        mkdir -p "$d"
        run_no=$((run_no + 1))
        log=$logdir/$(printf '%03d' "$run_no")-mana-ckpt.log
        (cd "$logdir" && exec timeout -k 10 "$BENCH_TIMEOUT" "${mpirun_cmd[@]}" -np 2 \
            "${launch_cmd[@]}" --ckpt-dir "$d" -- "$ckpt_bin" "$d") </dev/null >"$log" 2>&1 &
        pid=$!
        for ((i = 0; i < BENCH_TIMEOUT * 10; i++)); do
            grep -q '^ready ' "$log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        grep -q '^ready ' "$log" || {
            kill "$pid" 2>/dev/null || :
            wait "$pid" || :
            echo "run-bench: FAILED: the checkpoint job did not get ready; last lines of $log:" >&2
            tail -n 30 "$log" >&2
            exit 1
        }
        sync
        t0=$(now_us)
        "$MANA_CKPT" --ckpt-dir "$d" --checkpoint --exit --timeout "$BENCH_TIMEOUT" >"${log%.log}-cmd.log" 2>&1 || rc=$?
        t_ckpt=$(($(now_us) - t0))
        if ((rc != 0)); then
            kill "$pid" 2>/dev/null || :
            wait "$pid" || :
            echo "run-bench: FAILED: mana-ckpt exited with $rc; see ${log%.log}-cmd.log and $log:" >&2
            tail -n 20 "${log%.log}-cmd.log" "$log" >&2
            exit 1
        fi
        wait "$pid" || rc=$?
        # 85: checkpointed and stopped (include/mana/exit_status.h).
        ((rc == 85)) || die "FAILED: the checkpointed job exited with status $rc, not 85, after" \
            "--checkpoint --exit; see $log"
        gen_dir=$d/$(cat "$d/latest")
        img_bytes=$(awk '$1 == "total_bytes" { print $2 }' "$gen_dir/MANIFEST")
        [[ $img_bytes =~ ^[0-9]+$ ]] || die "FAILED: no total_bytes in $gen_dir/MANIFEST"
        du_bytes=$(du -sB1 "$gen_dir" | awk '{ print $1 }')
    }
    # read_images: cat the images of $gen_dir from disk; sets t_cat (us).
    read_images() {
        local t0
        drop_cache
        t0=$(now_us)
        cat "$gen_dir"/rank-*.mana >/dev/null
        t_cat=$(($(now_us) - t0))
    }
    # unzstd: the restart's baseline, reading the checkpoint baseline's bytes
    # back: each rank's .zst file decompressed from disk by a process of its
    # own, the two at once as the two ranks restart at once (zstd
    # decompresses in one thread whatever -T says); sets t_unzstd (us).
    unzstd() {
        local t0 r pids=() rc=0
        drop_cache
        t0=$(now_us)
        for r in 0 1; do
            "$ZSTD" -q -d -c "$ckdir/zst-$r" >/dev/null &
            pids+=($!)
        done
        for r in "${pids[@]}"; do wait "$r" || rc=$?; done
        t_unzstd=$(($(now_us) - t0))
        ((rc == 0)) || die "FAILED: $ZSTD -d of the baseline files (exit status $rc)"
    }
    # restart_job: restart from $gen_dir's checkpoint until the program has
    # verified its data and exited; sets t_restart (us), verify_s, and
    # t_resume (us): from the start of mpirun until the last rank runs its
    # own code again (left its compute loop, from the program's clock).
    restart_job() {
        local d=$ckdir/job log t0 rc=0 line r0 ra
        run_no=$((run_no + 1))
        log=$logdir/$(printf '%03d' "$run_no")-mana-restart.log
        touch "$d/stop"
        drop_cache
        r0=$EPOCHREALTIME
        t0=$(now_us)
        # Each rank's phases (MANA_DEBUG=restore-times) go to the log.
        (cd "$logdir" && MANA_DEBUG="${MANA_DEBUG:+$MANA_DEBUG,}restore-times" exec timeout -k 10 "$BENCH_TIMEOUT" \
            "${mpirun_cmd[@]}" -np 2 "$MANA_RESTART" "$d") </dev/null >"$log" 2>&1 || rc=$?
        t_restart=$(($(now_us) - t0))
        line=$(grep -m1 '^verified ok .*stopped_by=file' "$log") || { ((rc)) || rc=1; }
        if ((rc != 0)); then
            echo "run-bench: FAILED: restart (exit status $rc, or no verification line); last lines of $log:" >&2
            tail -n 30 "$log" >&2
            exit 1
        fi
        verify_s=$(sed -n 's/.* verify_s=\([0-9.]*\).*/\1/p' <<<"$line")
        ra=$(sed -n 's/.* resumed_at=\([0-9.]*\).*/\1/p' <<<"$line")
        [[ -n $verify_s && -n $ra ]] || die "FAILED: malformed verification line in $log: $line"
        t_resume=$(awk -v a="$ra" -v b="$r0" 'BEGIN { printf "%d", (a - b) * 1e6 }')
    }
    for ((rep = 1; rep <= BENCH_CKPT_REPS; rep++)); do
        if ((rep % 2)); then zstd_write; ckpt_write; else ckpt_write; zstd_write; fi
        if ((rep % 2)); then unzstd; read_images; restart_job; else restart_job; read_images; unzstd; fi
        echo "$rep $t_zstd $t_ckpt $t_cat $t_restart $verify_s $img_bytes $du_bytes $zst_bytes $t_unzstd $t_resume" |
            awk '{ printf "%d %.6f %.6f %.6f %.6f %s %s %s %s %.6f %.6f\n", $1, $2 / 1e6, $3 / 1e6,
                   $4 / 1e6, $5 / 1e6, $6, $7, $8, $9, $10 / 1e6, $11 / 1e6 }' >>"$ckpt_samples"
        tail -n 1 "$ckpt_samples" | awk '{ printf "  rep %d: checkpoint %.2f s (zstd %.2f s), restart %.2f s to" \
            " resume, %.2f s with verification (zstd -d %.2f s, cat %.2f s)\n", $1, $3, $2, $11, $5, $10, $4 }'

    done
    rm -f "$ckdir"/raw-* "$ckdir"/zst-*
fi
echo "run-bench: $((waited_us / 1000000)) s in all spent waiting for a quiet machine"
total_s=$(awk -v us=$(($(now_us) - t_start)) 'BEGIN { printf "%.1f", us / 1e6 }')

# --------------------------------------------------------------- report ---
# metric  sample-key  better(lo|hi)  target-op  target
base_metrics="latency_8B_us lat_8 lo <= 1.5
latency_64KiB_us lat_65536 lo <= 1.05
bandwidth_4MiB_MiBps bw_4194304 hi >= 0.98
app_time_s app_time lo <= 1.01
app_wall_s app_wall lo - -
app_iter_median_ms app_iter_med lo - -
call_comm_rank_ns call_rank lo +<= 40
call_type_cycle_ns call_cycle lo - -
call_type_create_ns call_create lo - -
call_type_commit_ns call_commit lo - -
call_type_free_ns call_free lo - -
coll_bcast_16KiB_us coll_bcast_16k lo - -
coll_bcast_128KiB_us coll_bcast_128k lo - -
coll_reduce_16KiB_us coll_reduce_16k lo - -
coll_reduce_128KiB_us coll_reduce_128k lo - -
coll_comm_dup_use_free_us coll_comm_churn lo - -"
# Per flavour: a heading line ("# title", which results.txt gets as a comment)
# and the base metrics, name and sample key with the flavour's prefix.
metrics=
for f in $BENCH_FLAVOURS; do
    np_native='' np_mana=''
    mb=${mana_build[$f]}
    if want_part netpipe; then np_native=" (NetPIPE ${native_np[$f]})" np_mana=" (NetPIPE ${native_np[$mb]})"; fi
    metrics+="# ${flavour_title[$f]} (metrics ${metric_prefix[$f]:-without prefix}): native"
    metrics+=" = ${runner[$f]} -np N prog built with ${native_cc[$f]}$np_native,"
    metrics+=" mana = ${runner[$f]} -np N ${launch_cmd[*]} -- prog built with ${native_cc[$mb]}$np_mana"$'\n'
    metrics+=$(awk -v p="${metric_prefix[$f]}" '{ $1 = p $1; $2 = p $2; print }' <<<"$base_metrics")$'\n'
done

awk -v metrics="${metrics%$'\n'}" -v results="$results" -v launcher="${launch_cmd[*]}" \
    -v total_s="$total_s" -v maxf="$BENCH_MAX_FOREIGN" '
function isort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
function median(a, n) { isort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function best(a, n, hi,    i, b) {
    b = a[1]
    for (i = 2; i <= n; i++) if (hi ? a[i] > b : a[i] < b) b = a[i]
    return b
}
# Standard error of the median of a[1..n] (n >= 2), from the MAD.
function sem(a, n, med,    d, i) {
    for (i = 1; i <= n; i++) d[i] = (a[i] > med) ? a[i] - med : med - a[i]
    return 1.2533 * 1.4826 * median(d, n) / sqrt(n)
}
# samples: $1 key, $2 mode, $3 value, $4 pair id, $5 clean, $6 foreign %
{
    val[$1, $4, $2] = $3
    if (!(($1, $4) in seen)) {
        seen[$1, $4] = 1
        np[$1]++; pid[$1, np[$1]] = $4; pclean[$1, np[$1]] = $5
        if ($5 == 1) nclean[$1]++
    }
}
END {
    nm = split(metrics, lines, "\n")
    printf "\n%-25s %11s %11s %7s %6s  %-7s %-6s %s\n", "metric", "native", "mana",
        "ratio", "+-", "target", "result", "clean/pairs"
    printf "# MANA-C benchmark (run-bench.sh).  ratio = median over clean interleaved pairs\n" > results
    printf "# of mana/native; native, mana = medians; err = standard error of the ratio;\n" >> results
    printf "# best_* = best run of each mode (min time, max bandwidth) for information.\n" >> results
    printf "# launcher: %s\n", launcher >> results
    printf "# metric native mana ratio target result err clean_pairs pairs best_native best_mana best_ratio\n" >> results
    for (m = 1; m <= nm; m++) {
        # "# TITLE (...": a heading, shown before the first figure of its flavour.
        if (lines[m] ~ /^# /) { heading = lines[m]; title = ""; continue }
        split(lines[m], f, " ")
        name = f[1]; k = f[2]; hi = (f[3] == "hi"); op = f[4]; tgt = f[5]
        n = np[k] + 0; nc = nclean[k] + 0
        if (n == 0) continue
        if (title == "") {
            title = substr(heading, 3); sub(/ \(.*/, "", title)
            printf "-- %s --\n", title
            print heading >> results
            atitle = 0
        }
        noisy = (nc < 3)
        delete a; delete b; delete r; delete d
        c = 0
        for (i = 1; i <= n; i++) {
            if (!noisy && pclean[k, i] != 1) continue
            p = pid[k, i]; c++
            a[c] = val[k, p, "native"]; b[c] = val[k, p, "mana"]
            r[c] = (a[c] > 0) ? b[c] / a[c] : 0
            d[c] = b[c] - a[c]
        }
        ratio = median(r, c)
        err = (c >= 2) ? sem(r, c, ratio) : 0
        bn = best(a, c, hi); bm = best(b, c, hi)
        mn = median(a, c); mm = median(b, c)
        if (op == "<=") res = (ratio <= tgt) ? "PASS" : "MISS"
        else if (op == ">=") res = (ratio >= tgt) ? "PASS" : "MISS"
        else res = "info"
        # Per-call metrics: the added time (median of the pairs mana - native).
        if (k ~ /(^|_)call_/) {
            added = median(d, c); aerr = (c >= 2) ? sem(d, c, added) : 0
            if (op == "+<=") res = (added <= tgt) ? "PASS" : "MISS"
            atgt = (op == "+<=") ? "<= " tgt " ns" : "-"
            if (!atitle) { added_out = added_out "  -- " title " --\n"; atitle = 1 }
            added_out = added_out sprintf("  %-25s %+11.1f ns %8.1f   %-10s %s\n", name, added, aerr,
                atgt, (op == "+<=") ? res : "info")
            sub(/_ns$/, "", name)
            printf "%s_added_ns %.6f %.6f %.6f %s %s %.6f %d %d - - -\n", name, mn, mm, added,
                (op == "+<=") ? "<=" tgt : "-", res, aerr, nc, n >> results
            name = name "_ns"
        }
        ts = (op == "-") ? "-" : op " " tgt
        printf "%-25s %11.4f %11.4f %7.4f %6.4f  %-7s %-6s %d/%d%s\n", name, mn, mm, ratio,
            err, ts, res, nc, n, noisy ? " noisy" : ""
        printf "%s %.6f %.6f %.6f %s %s %.6f %d %d %.6f %.6f %.6f\n", name, mn, mm, ratio,
            (op == "-") ? "-" : op tgt, res, err, nc, n, bn, bm, (bn > 0) ? bm / bn : 0 >> results
    }
    printf "(medians over interleaved native/mana pairs; a pair is clean when other\n"
    printf " processes used <= %s%% of the CPU during both of its runs)\n", maxf
    if (added_out != "") {
        printf "\nadded time per call (median over pairs of mana - native), +- its standard error:\n"
        printf "%s", added_out
    }
    printf "# total_seconds %s\n", total_s >> results
}' "$samples"

if [[ -s $ckpt_samples ]]; then
    awk -v results="$results" -v mib="$BENCH_CKPT_MIB" -v dropped="$can_drop" '
function isort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}
function median(a, n,    i, t) {
    for (i = 1; i <= n; i++) t[i] = a[i]
    isort(t, n); return n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
}
function row(name, base, mana, ratio, tgt, res) {
    printf "%-22s %11.3f %11.3f %7.3f  %-7s %s\n", name, base, mana, ratio, tgt, res
    printf "%s %.6f %.6f %.6f %s %s - %d %d - - -\n", name, base, mana, ratio,
        (tgt == "-") ? "-" : tgt, res, n, n >> results
}
# $1 rep $2 zstd_s $3 ckpt_s $4 cat_s $5 restart_s $6 verify_s $7 image_bytes
# $8 du_bytes $9 zst_bytes $10 unzstd_s $11 resume_s
{
    n++; zs[n] = $2; ck[n] = $3; ct[n] = $4; rs[n] = $5; vf[n] = $6
    img[n] = $7 / 2 / 1e6; du[n] = $8 / 2 / 1e6; zb[n] = $9 / 2 / 1e6; uz[n] = $10
    rz[n] = $11
    tr[n] = $2 / $3; rr[n] = $11 / $10; rv[n] = $5 / $10; rc[n] = $11 / $4; ir[n] = $7 / $9
}
END {
    data = 2 * mib * 1048576 / 1e6
    printf "\ncheckpoint/restart: 2 ranks x %d MiB (%.0f MB of data), %d repetitions, medians;\n", mib, data, n
    printf "baseline: zstd -T0 -1 + sync of the same bytes (checkpoint); zstd -d of those files, one process\n"
    printf "per rank at once, output to /dev/null (restart; restart_vs_cat: cat of the images instead)\n"
    printf "%-22s %11s %11s %7s  %-7s %s\n", "metric", "baseline", "mana", "ratio", "target", "result"
    t = median(tr, n)
    row("ckpt_throughput_MBps", data / median(zs, n), data / median(ck, n), t, ">=0.8", t >= 0.8 ? "PASS" : "MISS")
    t = median(rr, n)
    row("restart_time_s", median(uz, n), median(rz, n), t, "<=1.5", t <= 1.5 ? "PASS" : "MISS")
    # Info: it adds the reading of every byte by the program, which the
    # baseline has no counterpart for; it is there to show that nothing
    # was left to restore lazily.
    row("restart_verified_s", median(uz, n), median(rs, n), median(rv, n), "-", "info")
    row("restart_vs_cat", median(ct, n), median(rz, n), median(rc, n), "-", "info")
    row("ckpt_time_s", median(zs, n), median(ck, n), median(zs, n) > 0 ? median(ck, n) / median(zs, n) : 0, "-", "info")
    row("image_MB_per_rank", median(zb, n), median(img, n), median(ir, n), "-", "info")
    printf "(image_MB_per_rank: baseline = zstd output per rank, mana = MANIFEST total_bytes per rank;\n"
    printf " on disk (du) %.1f MB per rank.  restart_time_s: mpirun start until the ranks run again;\n", median(du, n)
    printf " restart_verified_s: until the job exited after checking every byte (%.3f s of checking,\n", median(vf, n)
    printf " which the baseline does not do).\n"
    printf " restart_vs_cat: restart_time_s against cat of the images, which reads the compressed bytes but\n"
    printf " neither decompresses nor puts them in memory.%s)\n",
        dropped ? "" : "  The page cache could NOT be dropped: reads may come from memory"
    printf "# ckpt image_MB_per_rank_du %.3f restart_verify_s %.3f restart_baseline zstd-d-per-rank-concurrent" \
        " unzstd_s %.3f cat_s %.3f cache_dropped %d\n",
        median(du, n), median(vf, n), median(uz, n), median(ct, n), dropped >> results
}' "$ckpt_samples"
fi

echo
echo "run-bench: results in $results, raw samples in $samples$([[ -s $ckpt_samples ]] && echo " and $ckpt_samples"), logs in $logdir"
echo "run-bench: total time $total_s s"
