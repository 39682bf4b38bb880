#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: build kprim against Debian's stock kernel headers, boot the
# stock kernel in QEMU, load kprim and print what it shows in debugfs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=$KPRIM_TOP/build/demo
"$KPRIM_TOP/scripts/install-deps.sh"
vmlinuz=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1)
ver=${vmlinuz#/boot/vmlinuz-}
hdr=/usr/src/linux-headers-$ver
[ -n "$vmlinuz" ] && [ -e "$hdr/Makefile" ] || die "stock kernel or its headers missing"
# gen_init_cpio comes from the kernel source package.
src=$(kprim_src_dir)
if [ ! -e "$src/.kprim-extracted" ]; then
	say "extracting the kernel source package (once)"
	mkdir -p "$(dirname "$src")"
	tar -C "$(dirname "$src")" -xf "$KPRIM_SRC_TARBALL"
	touch "$src/.kprim-extracted"
fi
rm -rf "$build"
mkdir -p "$KPRIM_TOP/build"
"$KPRIM_TOP/scripts/build-module.sh" "$hdr" "$build" >"$KPRIM_TOP/build/demo.log" 2>&1 ||
	{ cat "$KPRIM_TOP/build/demo.log"; die "build failed"; }
say "built kprim.ko for Debian $ver"
run=$build/run
mkdir -p "$run"
sed "s|^#@KPRIM_CONF@\$|KPRIM_MODE=demo KPRIM_TESTS='' KPRIM_LOOPS=1 KPRIM_EXTRA=''|" \
	"$KPRIM_TOP/scripts/guest-init.sh" >"$run/init"
"$KPRIM_TOP/scripts/mkinitramfs.sh" "$run/initrd.gz" "$run/init" "$build/module/kprim.ko"
"$KPRIM_TOP/scripts/qemu-run.sh" "$vmlinuz" "$run/initrd.gz" "$run" 2 1024 300 >/dev/null 2>&1 || true
tr -d '\r' <"$run/results.log" | grep -v '^KPRIM ' || true
echo
echo "guest steps:"
tr -d '\r' <"$run/results.log" | grep '^KPRIM ' | sed 's/^KPRIM /  /'
grep -q '^KPRIM done' "$run/results.log" || die "guest did not finish; see $run/console.log"
! grep -q '^KPRIM fail' "$run/results.log"
