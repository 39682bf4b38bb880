#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# torture.sh [--prebuilt BUILD_DIR]
#
# Run kprim_torture.ko (kunit/torture_*.c) in QEMU on the test kernel:
# every selected torture at once for DURATION seconds, with CPU hotplug,
# then unload it and kprim (refused while it runs, clean afterwards),
# load/unload loops and a kmemleak scan.  Results are parsed like the
# KUnit suites (scripts/ktap-report.py: KTAP plus a console splat scan).
#
# --prebuilt BUILD_DIR reuses modules built by scripts/build-module.sh for
# the same kernel (make check passes its build/test); without it the
# modules are built into build/torture-$KERNEL.
#
# Environment: DURATION (s, default 60), TORTURE (tortures to run, default
# "smr,psref,vmem,ltable"), TORTURE_SEED (default: random, printed),
# TORTURE_PARAMS (more kprim_torture.ko parameters), KERNEL (flavour),
# KPRIM_TORTURE_CPUS (guest CPUs, default 4), KPRIM_QEMU_ACCEL.
#
# Standalone it ends with "N passed, N failed[, N skipped]" and exits
# non-zero on any failure; under make check it prints the report with a
# COUNTS line for check.sh to add up.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

prebuilt=
if [ "${1:-}" = --prebuilt ]; then
	prebuilt=$(realpath "$2")
	shift 2
fi
duration=${DURATION:-60}
tortures=${TORTURE:-smr,psref,vmem,ltable}
seed=${TORTURE_SEED:-0}
cpus=${KPRIM_TORTURE_CPUS:-4}
case $duration in ''|*[!0-9]*) die "DURATION must be a number of seconds" ;; esac

kdir=$("$KPRIM_TOP/scripts/build-test-kernel.sh")
src=$(kprim_src_dir)
if [ -n "$prebuilt" ]; then
	mods=$prebuilt
else
	mods=$KPRIM_TOP/build/torture-${KERNEL:-debug}
	rm -rf "$mods"
	mkdir -p "$(dirname "$mods")"
	run_with_progress "$mods.build.log" "module build" \
		"$KPRIM_TOP/scripts/build-module.sh" "$kdir" "$mods" ||
		{ cat "$mods.build.log"; die "module build failed"; }
fi
[ -e "$mods/kunit/kprim_torture.ko" ] || die "no $mods/kunit/kprim_torture.ko"

run=$mods/torture-run
rm -rf "$run"
mkdir -p "$run"
params="duration=$duration tortures=$tortures seed=$seed ${TORTURE_PARAMS:-}"
wait_s=$((duration + 600))
say "torture: $params on ${KERNEL:-debug} kernel, $cpus CPUs (log: $run/console.log)"
sed "s|^#@KPRIM_CONF@\$|KPRIM_MODE=torture KPRIM_TESTS='' KPRIM_LOOPS=${KPRIM_LOOPS:-20} KPRIM_EXTRA='' KPRIM_TORTURE='$params' KPRIM_TORTURE_WAIT=$wait_s|" \
	"$KPRIM_TOP/scripts/guest-init.sh" >"$run/init"
"$KPRIM_TOP/scripts/mkinitramfs.sh" "$run/initrd.gz" "$run/init" \
	"$mods/module/kprim.ko" "$mods/kunit/kprim_torture.ko"
"$KPRIM_TOP/scripts/qemu-run.sh" "$kdir/arch/x86/boot/bzImage" "$run/initrd.gz" "$run" \
	"$cpus" 2048 $((wait_s + 600)) || true
python3 "$KPRIM_TOP/scripts/ktap-report.py" --results "$run/results.log" \
	--console "$run/console.log" --out "$run" --label "torture (${KERNEL:-debug})" \
	--kunit-py "$src/tools/testing/kunit/kunit.py" --expect-module kprim_torture |
	tee "$run/report.txt"
sed -n 's/^ *# \(kprim_torture\|smr\|psref\|vmem\|ltable\|hotplug\|seed\)\b/  \0/p' \
	"$run/ktap-kprim_torture.log" 2>/dev/null || true
echo "  console log: $run/console.log"
if [ -z "$prebuilt" ]; then
	read -r _ p f s < <(grep '^COUNTS ' "$run/report.txt" | tail -n1)
	line="$p passed, $f failed"
	[ "$s" -gt 0 ] && line="$line, $s skipped"
	echo "$line"
	[ "$f" -eq 0 ]
fi
