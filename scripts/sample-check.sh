#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# sample-check.sh [--no-boot] KDIR KPRIM_BUILD_DIR
#
# Build the sample consumer (samples/kprim_example) against the kernel tree
# KDIR the way an out-of-tree driver is built: KBUILD_EXTRA_SYMBOLS pointing
# at KPRIM_BUILD_DIR/Module.symvers (written by scripts/build-module.sh KDIR
# KPRIM_BUILD_DIR) and -I KPRIM_BUILD_DIR/include.  The build goes to
# KPRIM_BUILD_DIR/kprim_example.  Then, unless --no-boot is given, boot the
# kernel that KDIR belongs to in QEMU (KDIR/arch/x86/boot/bzImage for a full
# build tree, /boot/vmlinuz-<version> for /usr/src/linux-headers-<version>),
# load kprim.ko and the sample, drive it with
# samples/kprim_example/demo-guest.sh, unload both and scan the console.
#
# Prints "  ok    <what>" / "  FAIL  <what>" lines (scripts/check.sh counts
# them) and exits non-zero if any check failed.
#
# Environment: KPRIM_SAMPLE_SESSIONS (sessions the guest creates; default
# 1000 on a distro kernel, 300 on a build tree, which is the slow KASAN test
# kernel), KPRIM_SAMPLE_TIMEOUT (QEMU timeout, default 1200 s),
# KPRIM_QEMU_ACCEL.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

boot=1
if [ "${1:-}" = --no-boot ]; then
	boot=0
	shift
fi
[ $# -eq 2 ] || die "usage: $0 [--no-boot] KDIR KPRIM_BUILD_DIR"
kdir=$(realpath "$1")
kbuild=$(realpath "$2")
[ -e "$kdir/Makefile" ] || die "$kdir is not a kernel build tree"
[ -s "$kbuild/Module.symvers" ] && [ -e "$kbuild/module/kprim.ko" ] ||
	die "$kbuild has no Module.symvers or module/kprim.ko (run scripts/build-module.sh first)"

# The release modules are built for (Debian's headers say 6.1.0-N-amd64
# here but 6.1.x in include/config/kernel.release).
kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")
[ -n "$kver" ] || kver=$(basename "$kdir")
label="sample on $kver"
failed=0
result() { # result ok|fail description
	if [ "$1" = ok ]; then
		echo "  ok    $2"
	else
		echo "  FAIL  $2"
		failed=1
	fi
}

# 1. Build, as a consumer would.
out=$kbuild/kprim_example
rm -rf "$out"
mkdir -p "$out"
cp "$KPRIM_TOP"/samples/kprim_example/{Kbuild,kprim_example.c} "$out/"
log=$out/build.log
if make -C "$kdir" M="$out" W=1 KPRIM_INCLUDE="$kbuild/include" \
	KBUILD_EXTRA_SYMBOLS="$kbuild/Module.symvers" modules >"$log" 2>&1; then
	if grep -E 'warning:|error:' "$log"; then
		result fail "$label: sample build has warnings (W=1)"
	else
		result ok "$label: sample builds against kprim's Module.symvers (W=1, -Werror)"
	fi
else
	sed 's/^/        /' "$log" | tail -n 30
	result fail "$label: sample build failed (see $log)"
	exit 1
fi

ko=$out/kprim_example.ko
info() { /sbin/modinfo -F "$1" "$ko" 2>/dev/null | paste -sd' '; }
if [ "$(info import_ns)" = KPRIM ] && [ "$(info depends)" = kprim ] &&
	[ "$(info license)" = GPL ] && [ -n "$(info description)" ] &&
	[ -n "$(info author)" ] && [ -n "$(info version)" ]; then
	result ok "$label: modinfo: imports namespace KPRIM, depends on kprim, license/description/author/version set"
else
	result fail "$label: modinfo: import_ns='$(info import_ns)' depends='$(info depends)' license='$(info license)'"
fi
# modpost resolved every kprim symbol through KBUILD_EXTRA_SYMBOLS.
if grep -qE 'undefined!|is not found in|WARNING: modpost' "$log"; then
	result fail "$label: modpost could not resolve kprim's symbols"
else
	result ok "$label: modpost resolved every kprim symbol through KBUILD_EXTRA_SYMBOLS"
fi

[ $boot = 1 ] || exit $failed

# 2. Boot the matching kernel, load, drive and unload the sample.
if [ -e "$kdir/arch/x86/boot/bzImage" ]; then
	image=$kdir/arch/x86/boot/bzImage mem=2048 n=${KPRIM_SAMPLE_SESSIONS:-300}
elif [ -e "/boot/vmlinuz-$kver" ]; then
	image=/boot/vmlinuz-$kver mem=1024 n=${KPRIM_SAMPLE_SESSIONS:-1000}
else
	result fail "$label: no kernel image to boot for $kdir"
	exit 1
fi
run=$out/run
mkdir -p "$run"
sed "s|^N=\${1:-1000}\$|N=\${1:-$n}|" "$KPRIM_TOP/samples/kprim_example/demo-guest.sh" >"$run/demo.sh"
# mkinitramfs.sh installs extra files with mode 0644: run the script with sh.
sed -e "s|^#@KPRIM_CONF@\$|KPRIM_MODE=demo KPRIM_TESTS='' KPRIM_LOOPS=10 KPRIM_EXTRA=''|" \
	-e 's|\[ -x /lib/kprim/demo.sh \] && /lib/kprim/demo.sh|[ -f /lib/kprim/demo.sh ] \&\& sh /lib/kprim/demo.sh|' \
	"$KPRIM_TOP/scripts/guest-init.sh" >"$run/init"
grep -q 'sh /lib/kprim/demo.sh' "$run/init" ||
	die "scripts/guest-init.sh no longer runs /lib/kprim/demo.sh"
"$KPRIM_TOP/scripts/mkinitramfs.sh" "$run/initrd.gz" "$run/init" \
	"$kbuild/module/kprim.ko" "$ko" "$run/demo.sh"
"$KPRIM_TOP/scripts/qemu-run.sh" "$image" "$run/initrd.gz" "$run" 2 "$mem" \
	"${KPRIM_SAMPLE_TIMEOUT:-1200}" >"$run/qemu-run.log" 2>&1 || true

src=$(kprim_src_dir)
python3 "$KPRIM_TOP/scripts/ktap-report.py" --results "$run/results.log" \
	--console "$run/console.log" --out "$run" --label "$label" \
	--kunit-py "$src/tools/testing/kunit/kunit.py" >"$run/report.txt" 2>&1 || true
grep -v '^COUNTS ' "$run/report.txt" || true
grep -q '^KPRIM ok rmmod kprim_example' "$run/results.log" ||
	result fail "$label: the guest did not load, drive and unload the sample (see $run/results.log)"
if grep -q '^  FAIL' "$run/report.txt" || ! grep -q '^COUNTS [0-9]* 0 ' "$run/report.txt"; then
	failed=1
fi
exit $failed
