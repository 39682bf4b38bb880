# SPDX-License-Identifier: GPL-2.0
# Shared helpers for kprim's build and test scripts.  Source it, don't run it.

KPRIM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KPRIM_CACHE=${KPRIM_CACHE:-$HOME/.cache/kprim}
KPRIM_SRC_TARBALL=${KPRIM_SRC_TARBALL:-/usr/src/linux-source-6.12.tar.xz}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'kprim: error: %s\n' "$*" >&2; exit 1; }

# Version of the Debian kernel source package the test kernel is built from.
kprim_src_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo unknown
}

# The kernel flavour: "debug" (KASAN + lockdep, the default) or any other
# fragment found as kunit/kprim-<flavour>.config.
kprim_fragment() {
	local flavour=${KERNEL:-debug}
	if [ "$flavour" = debug ]; then
		echo "$KPRIM_TOP/kunit/kprim.config"
	else
		echo "$KPRIM_TOP/kunit/kprim-$flavour.config"
	fi
}

# Version of the recipe in scripts/build-test-kernel.sh: bump it when a
# change there changes the kernel it produces (not for comments or output).
KPRIM_KERNEL_RECIPE=1

# Cache directory of the built test kernel: keyed by the fragment, the
# source package version, the compiler and the recipe version.
kprim_kernel_dir() {
	local frag key
	frag=$(kprim_fragment)
	[ -r "$frag" ] || die "no config fragment $frag"
	key=$( { sed '/^# CONFIG_.* is not set$/!{/^#/d}' "$frag"; kprim_src_version; gcc --version | head -n1;
		echo "recipe $KPRIM_KERNEL_RECIPE"; } | sha256sum | cut -c1-12)
	echo "$KPRIM_CACHE/kernel-${KERNEL:-debug}-$key"
}

# Source tree extracted from the Debian package (shared by all flavours).
kprim_src_dir() {
	echo "$KPRIM_CACHE/src-$(kprim_src_version)/linux-source-6.12"
}

# Extract the kernel source package into the cache once (under a lock; a
# half-finished extraction has no stamp and is redone).  Prints its path.
kprim_ensure_src() {
	local src
	src=$(kprim_src_dir)
	if [ ! -e "$src/.kprim-extracted" ]; then
		mkdir -p "$KPRIM_CACHE"
		(
			flock 6
			if [ ! -e "$src/.kprim-extracted" ]; then
				[ -r "$KPRIM_SRC_TARBALL" ] ||
					die "$KPRIM_SRC_TARBALL missing (run scripts/install-deps.sh)"
				say "extracting $KPRIM_SRC_TARBALL (once)"
				rm -rf "$(dirname "$src")"
				mkdir -p "$(dirname "$src")"
				tar -C "$(dirname "$src")" -xf "$KPRIM_SRC_TARBALL"
				touch "$src/.kprim-extracted"
			fi
		) 6>"$KPRIM_CACHE/src.lock"
	fi
	echo "$src"
}

# Run "$@" with its output in LOG, printing a progress line every 30 s so
# long steps are never silent.  Returns the command's status.
run_with_progress() {
	local log=$1 label=$2 start pid rc
	shift 2
	start=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	local next=30
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if [ $(( $(date +%s) - start )) -ge $next ] && kill -0 "$pid" 2>/dev/null; then
			printf '    ... %s: %ds, %s\n' "$label" $(( $(date +%s) - start )) \
				"$(tail -n 1 "$log" | cut -c1-70)" >&2
			next=$((next + 30))
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	return $rc
}
