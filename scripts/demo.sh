#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: build kprim and the sample consumer (samples/kprim_example)
# against Debian's stock kernel headers, boot the stock kernel in QEMU, load
# kprim.ko and kprim_example.ko, drive the sample from the guest shell
# (samples/kprim_example/demo-guest.sh), print kprim's debugfs views, unload
# both modules and check that nothing leaked.
#
# Environment: KPRIM_DEMO_SESSIONS (default 1000), KPRIM_QEMU_ACCEL.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=$KPRIM_TOP/build/demo
"$KPRIM_TOP/scripts/install-deps.sh"
vmlinuz=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1)
ver=${vmlinuz#/boot/vmlinuz-}
hdr=/usr/src/linux-headers-$ver
[ -n "$vmlinuz" ] && [ -e "$hdr/Makefile" ] || die "stock kernel or its headers missing"
# gen_init_cpio comes from the kernel source package.
src=$(kprim_ensure_src)
rm -rf "$build"
mkdir -p "$KPRIM_TOP/build"
log=$KPRIM_TOP/build/demo.log
"$KPRIM_TOP/scripts/build-module.sh" "$hdr" "$build" >"$log" 2>&1 ||
	{ cat "$log"; die "build failed"; }
say "built kprim.ko for Debian $ver"

# The sample is built like any out-of-tree consumer: against the same
# headers, with kprim's Module.symvers and include directory.
sample=$build/kprim_example
mkdir -p "$sample"
cp "$KPRIM_TOP"/samples/kprim_example/{Kbuild,kprim_example.c} "$sample/"
make -C "$hdr" M="$sample" W=1 KPRIM_INCLUDE="$build/include" \
	KBUILD_EXTRA_SYMBOLS="$build/Module.symvers" modules >>"$log" 2>&1 ||
	{ cat "$log"; die "sample build failed"; }
! grep -E 'warning:|error:' "$log" || die "warnings in the build (see $log)"
say "built kprim_example.ko against kprim's Module.symvers"

run=$build/run
mkdir -p "$run"
cp "$KPRIM_TOP/samples/kprim_example/demo-guest.sh" "$run/demo.sh"
[ -n "${KPRIM_DEMO_SESSIONS:-}" ] &&
	sed -i "s|^N=\${1:-1000}\$|N=\${1:-$KPRIM_DEMO_SESSIONS}|" "$run/demo.sh"
# mkinitramfs.sh installs extra files with mode 0644, so run the guest
# script with sh rather than relying on its execute bit.
sed -e "s|^#@KPRIM_CONF@\$|KPRIM_MODE=demo KPRIM_TESTS='' KPRIM_LOOPS=1 KPRIM_EXTRA=''|" \
	-e 's|\[ -x /lib/kprim/demo.sh \] && /lib/kprim/demo.sh|[ -f /lib/kprim/demo.sh ] \&\& sh /lib/kprim/demo.sh|' \
	"$KPRIM_TOP/scripts/guest-init.sh" >"$run/init"
grep -q 'sh /lib/kprim/demo.sh' "$run/init" || die "guest-init.sh no longer runs /lib/kprim/demo.sh"
"$KPRIM_TOP/scripts/mkinitramfs.sh" "$run/initrd.gz" "$run/init" \
	"$build/module/kprim.ko" "$sample/kprim_example.ko" "$run/demo.sh"
# qemu-run.sh's own progress (waiting for the QEMU lock, boot, exit) is
# shown; the guest's lines are printed in full below.
"$KPRIM_TOP/scripts/qemu-run.sh" "$vmlinuz" "$run/initrd.gz" "$run" 2 1024 \
	"${KPRIM_QEMU_TIMEOUT:-600}" 2>&1 >/dev/null | grep -v '^    guest: ' >&2 || true

results=$(tr -d '\r' <"$run/results.log")
echo
echo "################ kprim demo on Debian $ver (QEMU, 2 CPUs) ################"
# The guest /init first dumps kprim's debugfs with no consumer loaded; the
# demo proper starts at the sample's first heading.
if grep -q '^======== ' <<<"$results"; then
	sed -n '/^======== /,$p' <<<"$results" | grep -v '^KPRIM \(boot\|done\)' |
		sed -e 's/^KPRIM ok /  ok    /' -e 's/^KPRIM fail /  FAIL  /'
else
	grep -v '^KPRIM ' <<<"$results" || true
fi
echo
echo "guest steps:"
grep '^KPRIM ' <<<"$results" | sed 's/^KPRIM /  /'
python3 "$KPRIM_TOP/scripts/ktap-report.py" --results "$run/results.log" \
	--console "$run/console.log" --out "$run" --label "Debian $ver" \
	--kunit-py "$src/tools/testing/kunit/kunit.py" >"$run/report.txt" 2>&1 || true
if grep -q 'FAIL' "$run/report.txt"; then
	echo
	cat "$run/report.txt"
fi
grep -q '^KPRIM done' <<<"$results" || die "guest did not finish; see $run/console.log"
grep -q '^KPRIM ok rmmod kprim_example' <<<"$results" || die "the sample did not run; see $run/results.log"
! grep -q '^KPRIM fail' <<<"$results" || die "demo checks failed"
! grep -q 'FAIL' "$run/report.txt" || die "kernel complaints on the console; see $run/console.log"
echo
echo "demo passed: logs in $run"
