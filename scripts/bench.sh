#!/usr/bin/env bash
# `make bench`: a benchmark, not a test. Builds what `make check` builds, with fio in the guest
# image (WITH_FIO=1, a separate image: build/bench-initramfs.cpio.gz), boots two guests once
# (scenario bench-fio) and prints one table: fio workloads on the raw backing device, on
# /dev/drbd0 with the C DRBD and with drbd_rs (protocol C, after the initial full sync), full
# syncs, online verify and a bitmap resync timed with each module, and the guest link's TCP
# throughput. A drbd_rs pair that does not connect and sync shows "n/a".
#   usage: bench.sh [runtime=SECONDS] [rounds=N]   (per fio job, default 5 s; every measurement
#   N times, default 3; the run takes about 15 minutes)
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
rounds=3
for kv in "$@"; do case "$kv" in rounds=*) rounds=${kv#rounds=} ;; esac; done
results=$(cat "$build/bench"/bench-fio*.node0.log "$build/bench"/bench-fio*.node1.log 2>/dev/null | tr -d '\r' |
          grep -E '^BENCH [a-z_]+ [A-Za-z0-9-]+ ' | cut -d' ' -f2-)
[ -n "$results" ] || die "no results (console logs in $build/bench)"

# One row per job: the median of its rounds with (min-max), in the job's unit, for the raw disk,
# the C DRBD and drbd_rs; drbd-rs/C is the ratio of the medians and "goal" the target it has
# (issue 12): throughput rows want a high ratio, time rows a low one.
echo "$results" | awk -v rounds="$rounds" '
    # v[k] holds the values of key k, space separated ("n/a" rounds are left out).
    function add(k, x) { if (x != "n/a" && x != "-" && x != "") v[k] = (k in v) ? v[k] " " x : x }
    function sorted(k, a,    n, i, j, t) {
        n = split(v[k], a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n
    }
    function median(k,    a, n) {
        if (!(k in v)) return ""
        n = sorted(k, a)
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmtnum(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
    function cell(k,    a, n) {
        if (!(k in v)) return "n/a"
        n = sorted(k, a)
        return n == 1 ? fmtnum(a[1]) " (1 run)" : sprintf("%s (%s-%s)", fmtnum(median(k)), fmtnum(a[1]), fmtnum(a[n]))
    }
    function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
    # Lines: target job value1 value2. fio and the link: MB/s IOPS; times: seconds -.
    { add($1 SUBSEP $2 SUBSEP 1, $3); add($1 SUBSEP $2 SUBSEP 2, $4) }
    END {
        # Two Primaries: each round the sum of both nodes (they run at the same time).
        split("drbd drbd_rs", ts, " ")
        for (j = 1; j <= 2; j++) for (fld = 1; fld <= 2; fld++) {
            a = ts[j] SUBSEP "dp-rand4k-qd32-n0" SUBSEP fld; b = ts[j] SUBSEP "dp-rand4k-qd32-n1" SUBSEP fld
            if ((a in v) && (b in v)) {
                na = split(v[a], xa, " "); nb = split(v[b], xb, " ")
                for (i = 1; i <= na && i <= nb; i++) add(ts[j] SUBSEP "dp-rand4k-qd32" SUBSEP fld, xa[i] + xb[i])
            }
        }
        # job | title | field (1 = MB/s or seconds, 2 = IOPS) | unit | goal
        n = 0
        job[++n] = "seq1m-qd1|seq write 1M, QD1|1|MB/s|>= 1.05"
        job[++n] = "seq1m-qd4|seq write 1M, QD4|1|MB/s|>= 1.05"
        job[++n] = "rand4k-qd1|rand write 4K, QD1|2|IOPS|>= 1.05"
        job[++n] = "rand4k-qd32|rand write 4K, QD32|2|IOPS|>= 1.05"
        job[++n] = "randread4k-qd32|rand read 4K, QD32|2|IOPS|>= 1.0, raw -5 %"
        job[++n] = "mix70-4k-qd16|randrw 70/30 4K, QD16|2|IOPS|>= 1.05"
        job[++n] = "dp-rand4k-qd32|2 Primaries, 4K QD32 (sum)|2|IOPS|>= 1.05"
        job[++n] = "full-sync-first|first full sync (from connect)|1|s|<= 0.95"
        job[++n] = "full-sync|full sync, default controller|1|s|<= 0.95"
        job[++n] = "full-sync-20M|full sync, resync-rate 20M|1|s|<= 0.95"
        job[++n] = "verify|online verify (sha1)|1|s|<= 0.95"
        job[++n] = "resync-scattered|bitmap resync, 1024 x 4K|1|s|<= 0.95"
        job[++n] = "resync-moved|  KiB sent / KiB out of sync|1|ratio|<= 1.05 each"
        fmt = "| %-30s | %-5s | %-20s | %-20s | %-20s | %-9s | %-9s | %-14s |\n"
        printf fmt, "job (64 MiB device, protocol C)", "unit", "raw", "C DRBD", "drbd-rs", "drbd-rs/C", "drbd-rs/raw", "goal"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", "---", "---", "---", "---", "---", "---", "---", "---"
        for (i = 1; i <= n; i++) {
            split(job[i], f, "|")
            kr = "raw" SUBSEP f[1] SUBSEP f[3]; kc = "drbd" SUBSEP f[1] SUBSEP f[3]; kd = "drbd_rs" SUBSEP f[1] SUBSEP f[3]
            r = f[1] == "resync-moved" ? "-" : ratio(median(kd), median(kc))
            hasraw = f[4] == "MB/s" || f[4] == "IOPS" && f[1] != "dp-rand4k-qd32"
            printf fmt, f[2], f[4], hasraw ? cell(kr) : "-", cell(kc), cell(kd), r, hasraw ? ratio(median(kd), median(kr)) : "-", f[5]
        }
        k = "net" SUBSEP "tcp" SUBSEP 1
        printf fmt, "TCP stream, guest link", "MB/s", cell(k), "-", "-", "-", "-", "-"
        printf "\nmedian (min-max) of %s rounds per cell\n", rounds
    }'
stamp "done (console logs in $build/bench)"
exit $rc
