#!/usr/bin/env bash
# `make bench`: a benchmark, not a test. Builds what `make check` builds, with fio in the guest
# image (WITH_FIO=1, a separate image: build/bench-initramfs.cpio.gz), boots two guests once
# (scenario bench-fio) and prints one table: fio write workloads on the raw backing device, on
# /dev/drbd0 with the C DRBD and with drbd_rs (protocol C, after the initial full sync), and the
# guest link's TCP throughput. A drbd_rs pair that does not connect and sync shows "n/a".
#   usage: bench.sh [runtime=SECONDS]   (per fio job, default 6; the run takes about 2 minutes)
# Numbers come from TCG guests on a shared host: compare columns of one run, not runs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"
build=${DRBD_RS_BUILD:-$top/build}
mkdir -p "$build/bench"
start=$(date +%s)
stamp() { printf '[%4ds] %s\n' $(($(date +%s) - start)) "$*"; }
die() { stamp "bench: $*"; exit 1; }
. "$here/prepare.sh"
export WITH_FIO=1
INITRD_NAME=bench-initramfs.cpio.gz
prepare_all >/dev/null

stamp "booting two guests: bench-fio $*"
rm -f "$build/bench"/*.log
"$here/run-scenario.sh" -o "$build/bench" "$KERNEL_IMAGE" "$INITRD" bench-fio "$@"
rc=$?
results=$(cat "$build/bench"/bench-fio*.node0.log "$build/bench"/bench-fio*.node1.log 2>/dev/null | tr -d '\r' |
          grep -E '^BENCH [a-z_]+ [a-z0-9-]+ ' | cut -d' ' -f2-)
[ -n "$results" ] || die "no results (console logs in $build/bench)"

# One row per workload: MB/s and IOPS per column, then the ratios (of MB/s; the same as of IOPS
# at a fixed block size).
echo "$results" | awk '
    function cell(t, w) { k = t SUBSEP w; return (k in mb) && mb[k] != "n/a" ? sprintf("%s MB/s %s IOPS", mb[k], io[k]) : "n/a" }
    function ratio(a, b, w) {
        ka = a SUBSEP w; kb = b SUBSEP w
        if (!(ka in mb) || !(kb in mb) || mb[ka] == "n/a" || mb[kb] == "n/a" || mb[kb] == 0) return "n/a"
        return sprintf("%.2f", mb[ka] / mb[kb])
    }
    { mb[$1 SUBSEP $2] = $3; io[$1 SUBSEP $2] = $4 }
    END {
        # Two Primaries: the sum of both nodes (n/a unless both measured).
        split("drbd drbd_rs", ts, " ")
        for (j = 1; j <= 2; j++) {
            a = ts[j] SUBSEP "dp-rand4k-qd32-n0"; b = ts[j] SUBSEP "dp-rand4k-qd32-n1"
            k = ts[j] SUBSEP "dp-rand4k-qd32"
            if ((a in mb) && (b in mb) && mb[a] != "n/a" && mb[b] != "n/a") {
                mb[k] = sprintf("%.1f", mb[a] + mb[b]); io[k] = io[a] + io[b]
            } else {
                mb[k] = "n/a"
            }
        }
        name["dp-rand4k-qd32"] = "2 Primaries, 4K qd32 (sum)"
        name["seq1m-qd4"] = "seq write 1M, iodepth 4"
        name["rand4k-qd1"] = "rand write 4K, iodepth 1"
        name["rand4k-qd32"] = "rand write 4K, iodepth 32"
        fmt = "| %-26s | %-22s | %-22s | %-22s | %-10s | %-8s |\n"
        printf fmt, "workload", "raw", "C DRBD", "drbd-rs", "drbd-rs/C", "C/raw"
        printf "| %s | %s | %s | %s | %s | %s |\n", "---", "---", "---", "---", "---", "---"
        n = split("seq1m-qd4 rand4k-qd1 rand4k-qd32 dp-rand4k-qd32", ws, " ")
        for (i = 1; i <= n; i++) {
            w = ws[i]
            printf fmt, name[w], cell("raw", w), cell("drbd", w), cell("drbd_rs", w), ratio("drbd_rs", "drbd", w), ratio("drbd", "raw", w)
        }
        k = "net" SUBSEP "tcp"
        printf fmt, "TCP, guest link", (k in mb) ? mb[k] " MB/s" : "n/a", "-", "-", "-", "-"
    }'
stamp "done (console logs in $build/bench)"
exit $rc
