#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench [ROWS=prefix,...] [RUNS=n] [BENCH_PARAMS="run_ms=.. cb_count=.."]
#            [KPRIM_PARAMS="psref_debug=0 ..."] [BENCH_TRACE=1]
#
# Build kprim.ko and bench/kprim_bench.ko against Debian's stock kernel
# headers, boot the stock kernel in QEMU with -smp 2, run the benchmark rows
# (kprim and the Linux primitive alternating in the same boot) and print
#
#   operation | kprim ns/op | Linux ns/op | ratio (kprim/Linux)
#
# with the median [min-max] of RUNS runs (default 5).  Raw results are kept
# in build/bench/run/results.log.
#
# kprim itself is built from the committed tree (git HEAD, or the commit in
# KPRIM_REV; KPRIM_REV=worktree for uncommitted sources), so work in progress
# in a shared checkout neither breaks nor silently changes the numbers; the
# benchmark module comes from the working tree's bench/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rows=${ROWS:-all}
runs=${RUNS:-5}
params="runs=$runs ${BENCH_PARAMS:-}"
build=$KPRIM_TOP/build/bench
t0=$(date +%s)

"$KPRIM_TOP/scripts/install-deps.sh"
vmlinuz=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1)
ver=${vmlinuz#/boot/vmlinuz-}
hdr=/usr/src/linux-headers-$ver
if [ -z "$vmlinuz" ] || [ ! -e "$hdr/Makefile" ]; then
	die "stock kernel or its headers missing"
fi
# gen_init_cpio comes from the kernel source package.
src=$(kprim_src_dir)
if [ ! -e "$src/.kprim-extracted" ]; then
	say "extracting the kernel source package (once)"
	mkdir -p "$(dirname "$src")"
	tar -C "$(dirname "$src")" -xf "$KPRIM_SRC_TARBALL"
	touch "$src/.kprim-extracted"
fi

mkdir -p "$build"
log=$build/build.log
rev=${KPRIM_REV:-HEAD}
if [ "$rev" = worktree ]; then
	tree=$KPRIM_TOP
	desc="working tree of $(git -C "$KPRIM_TOP" rev-parse --short HEAD 2>/dev/null || echo '?')"
else
	tree=$build/src
	rm -rf "$tree"
	mkdir -p "$tree"
	git -C "$KPRIM_TOP" archive "$rev" Kbuild module include kunit scripts | tar -x -C "$tree"
	desc="commit $(git -C "$KPRIM_TOP" rev-parse --short "$rev")"
fi
"$tree/scripts/build-module.sh" "$hdr" "$build" >"$log" 2>&1 ||
	{ cat "$log"; die "kprim build failed"; }
# Always from scratch: its symbol CRCs must match the kprim.ko just built.
rm -rf "$build/bench"
cp -r "$KPRIM_TOP/bench" "$build/bench"
make -C "$hdr" M="$build/bench" KBUILD_EXTRA_SYMBOLS="$build/Module.symvers" \
	W=1 modules >>"$log" 2>&1 || { cat "$log"; die "kprim_bench build failed"; }
say "built kprim.ko ($desc) and kprim_bench.ko for Debian $ver"

run=$build/run
mkdir -p "$run"
sed "s|^#@KPRIM_CONF@\$|BENCH_ROWS='$rows' BENCH_PARAMS='$params' KPRIM_PARAMS='${KPRIM_PARAMS:-}' BENCH_TRACE='${BENCH_TRACE:-}'|" \
	"$KPRIM_TOP/bench/guest-init.sh" >"$run/init"
"$KPRIM_TOP/scripts/mkinitramfs.sh" "$run/initrd.gz" "$run/init" \
	"$build/module/kprim.ko" "$build/bench/kprim_bench.ko"
rc=0
"$KPRIM_TOP/scripts/qemu-run.sh" "$vmlinuz" "$run/initrd.gz" "$run" 2 1024 480 || rc=$?

res=$run/results.log
echo
echo "kprim benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n): Debian $ver in QEMU" \
	"(${KPRIM_QEMU_ACCEL:-tcg}, -smp 2), host $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "kprim $desc; median [min-max] of $runs runs, ns per operation${KPRIM_PARAMS:+, kprim.ko $KPRIM_PARAMS}"
echo
tr -d '\r' <"$res" | sed -n 's/^KPRIM bench //p' | awk -F'|' '
function ns(ps) { return ps < 0 ? "-" : sprintf(ps >= 10000000 ? "%.0f" : "%.1f", ps / 1000) }
function cell(m, lo, hi) { return m < 0 ? "-" : ns(m) " [" ns(lo) "-" ns(hi) "]" }
{
	n++; op[n] = $2; k[n] = cell($3, $4, $5); l[n] = cell($6, $7, $8)
	r[n] = ($6 > 0) ? sprintf($3 / $6 >= 0.01 ? "%.2f" : "%.1e", $3 / $6) : "-"
	w1 = length(op[n]) > w1 ? length(op[n]) : w1
	w2 = length(k[n]) > w2 ? length(k[n]) : w2
	w3 = length(l[n]) > w3 ? length(l[n]) : w3
}
END {
	if (w1 < 9) w1 = 9
	if (w2 < 11) w2 = 11
	if (w3 < 11) w3 = 11
	fmt = "%-" w1 "s | %" w2 "s | %" w3 "s | %s\n"
	printf fmt, "operation", "kprim ns/op", "Linux ns/op", "ratio (kprim/Linux)"
	for (i = 1; i <= n; i++) printf fmt, op[i], k[i], l[i], r[i]
}'
echo
fails=$(tr -d '\r' <"$res" | grep '^KPRIM fail' || true)
[ -n "$fails" ] && { echo "guest reported:"; echo "$fails" | sed 's/^KPRIM /  /'; }
say "make bench took $(( $(date +%s) - t0 ))s"
grep -q '^KPRIM done' "$res" || die "guest did not finish (status $rc); see $run/console.log"
[ -z "$fails" ]
