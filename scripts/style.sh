#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make style: checkpatch --strict and kernel-doc -Wall on kprim's C sources,
# using the scripts of the extracted 6.12 source tree.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(kprim_src_dir)
[ -x "$src/scripts/checkpatch.pl" ] || die "run make check once (it extracts the kernel source)"
cd "$KPRIM_TOP"
mapfile -t files < <(git ls-files '*.c' '*.h')
rc=0
"$src/scripts/checkpatch.pl" --no-tree --strict --quiet --show-types \
	-f "${files[@]}" || rc=1
"$src/scripts/kernel-doc" -none -Wall "${files[@]}" || rc=1
[ $rc = 0 ] && echo "style: ${#files[@]} files clean"
exit $rc
