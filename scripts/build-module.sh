#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KDIR OUTDIR [make args...]
#
# Build kprim.ko (and the KUnit modules when KDIR's kernel has KUnit) against
# the kernel build tree KDIR, in a private copy of the sources at OUTDIR, so
# builds for different kernels (and concurrent developers) never share object
# files.  W=1, and -Werror from the Kbuild files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: $0 KDIR OUTDIR [make args]"
kdir=$1 out=$2
shift 2
[ -e "$kdir/Makefile" ] || die "$kdir is not a kernel build tree"
mkdir -p "$out"
rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
	--exclude '*.mod' --exclude '*.mod.c' --exclude 'modules.order' \
	--exclude 'Module.symvers' \
	"$KPRIM_TOP/Kbuild" "$KPRIM_TOP/module" "$KPRIM_TOP/include" "$KPRIM_TOP/kunit" "$out/" \
	--filter 'protect *.o' --filter 'protect *.ko' --filter 'protect .*.cmd' \
	--filter 'protect *.mod' --filter 'protect *.mod.c' --filter 'protect modules.order' \
	--filter 'protect Module.symvers'
say "building kprim against $kdir in $out"
make -C "$kdir" M="$out" W=1 "$@" modules
