#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh OUT.cpio.gz INIT [FILE...]
#
# Make a busybox initramfs whose /init is INIT and whose /lib/kprim/ holds
# FILEs (modules).  Uses the kernel's own usr/gen_init_cpio, so device nodes
# need no root privileges.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: $0 OUT INIT [FILE...]"
out=$1 init=$2
shift 2

busybox=/bin/busybox
[ -x "$busybox" ] || die "busybox missing (scripts/install-deps.sh installs busybox-static)"

gen=$KPRIM_CACHE/gen_init_cpio
if [ ! -x "$gen" ]; then
	src=$(kprim_ensure_src)
	[ -r "$src/usr/gen_init_cpio.c" ] || die "$src/usr/gen_init_cpio.c missing"
	mkdir -p "$KPRIM_CACHE"
	gcc -O2 -o "$gen.tmp" "$src/usr/gen_init_cpio.c"
	mv "$gen.tmp" "$gen"
fi

list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
	for d in /bin /dev /proc /sys /tmp /lib /lib/kprim; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	echo "nod /dev/ttyS1 0600 0 0 c 4 65"
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /init $init 0755 0 0"
	for f in "$@"; do
		echo "file /lib/kprim/$(basename "$f") $f 0644 0 0"
	done
} >"$list"
"$gen" "$list" | gzip -1 >"$out"
