#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) the kprim test kernel from Debian's linux-source-6.12 with
# allnoconfig + kunit/kprim.config (or kunit/kprim-$KERNEL.config), into
# $KPRIM_CACHE.  Prints the build directory on stdout.
#
# The build directory is keyed by a hash of the fragment, the source package
# version, the compiler and KPRIM_KERNEL_RECIPE (scripts/lib.sh); it holds a ".kprim-complete"
# stamp only when bzImage, modules and the config check all succeeded, so an
# interrupted build is detected and redone.  A flock serialises builders.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

frag=$(kprim_fragment)
kdir=$(kprim_kernel_dir)
src=$(kprim_src_dir)
mkdir -p "$KPRIM_CACHE"

exec 9>"$kdir.lock"
if ! flock -n 9; then
	say "another build holds $kdir.lock; waiting"
	flock 9
fi

if [ -e "$kdir/.kprim-complete" ]; then
	say "test kernel: cached $kdir"
	echo "$kdir"
	exit 0
fi

# Source tree, extracted once per package version.
kprim_ensure_src >/dev/null

if [ -d "$kdir" ]; then
	say "discarding half-finished build in $kdir"
	rm -rf "$kdir"
fi
mkdir -p "$kdir"

start=$(date +%s)
say "configuring test kernel (allnoconfig + $(basename "$frag"))"
mk=(make -C "$src" O="$kdir" ARCH=x86_64)
"${mk[@]}" allnoconfig >"$kdir/config.log" 2>&1
"$src/scripts/kconfig/merge_config.sh" -m -O "$kdir" "$kdir/.config" "$frag" >>"$kdir/config.log" 2>&1
"${mk[@]}" olddefconfig >>"$kdir/config.log" 2>&1

# merge_config silently drops options whose dependencies are missing.
missing=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$kdir/.config" || { echo "    missing: $line" >&2; missing=1; } ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		if grep -q "^$opt=" "$kdir/.config"; then
			echo "    unexpectedly set: $opt" >&2
			missing=1
		fi ;;
	esac
done <"$frag"
[ $missing = 0 ] || die "config fragment did not apply cleanly (see $kdir/config.log)"

jobs=$(nproc)
say "building test kernel bzImage + modules with -j$jobs (log: $kdir/build.log)"
if ! run_with_progress "$kdir/build.log" "kernel build" "${mk[@]}" -j"$jobs" bzImage modules; then
	tail -n 30 "$kdir/build.log" >&2
	die "kernel build failed"
fi
[ -e "$kdir/Module.symvers" ] || die "no Module.symvers"
touch "$kdir/.kprim-complete"
say "test kernel built in $(( $(date +%s) - start ))s: $kdir"
echo "$kdir"
