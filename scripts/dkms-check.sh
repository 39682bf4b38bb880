#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-check.sh [KDIR]
#
# Build and install kprim through DKMS (dkms.conf at the top of the tree)
# against the kernel headers KDIR (default: the headers of Debian's stock
# kernel, /usr/src/linux-headers-<version of /boot/vmlinuz-*-amd64>), the way
# "dkms add . && dkms build && dkms install" would, but entirely inside a
# private temporary tree: --dkmstree, --sourcetree and --installtree point
# there, depmod is skipped and the module-signing key DKMS would create in
# /var/lib/dkms is made in the temporary tree too.  The system's
# /var/lib/dkms, /usr/src and /lib/modules are never written; the temporary
# tree is removed on exit.
#
# Prints "  ok    <what>" / "  FAIL  <what>" lines (scripts/check.sh counts
# them) and exits non-zero if any check failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v dkms >/dev/null || die "dkms missing (scripts/install-deps.sh installs it)"
if [ $# -ge 1 ]; then
	hdr=$(realpath "$1")
else
	vmlinuz=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1)
	hdr=/usr/src/linux-headers-${vmlinuz#/boot/vmlinuz-}
fi
[ -e "$hdr/Makefile" ] || die "no kernel headers at $hdr"
kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$hdr/include/generated/utsrelease.h")
[ -n "$kver" ] || die "cannot read the kernel release of $hdr"

failed=0
result() { # result ok|fail description
	if [ "$1" = ok ]; then
		echo "  ok    $2"
	else
		echo "  FAIL  $2"
		failed=1
	fi
}
# run LOG CMD...: run CMD with its output in LOG; show LOG on failure
run() {
	local log=$1
	shift
	if "$@" >"$log" 2>&1; then
		return 0
	fi
	sed 's/^/        /' "$log" | tail -n 30
	return 1
}

ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$KPRIM_TOP/dkms.conf")
kprim_ver=$(sed -n 's/^#define KPRIM_VERSION[[:space:]]*"\(.*\)"$/\1/p' "$KPRIM_TOP/include/kprim/kprim.h")
if [ -n "$ver" ] && [ "$ver" = "$kprim_ver" ]; then
	result ok "dkms.conf PACKAGE_VERSION $ver matches KPRIM_VERSION"
else
	result fail "dkms.conf PACKAGE_VERSION '$ver' differs from KPRIM_VERSION '$kprim_ver'"
fi

# What must stay untouched on the system.
sys_state() {
	{ find /var/lib/dkms /usr/src /lib/modules/*/updates -maxdepth 2 2>/dev/null || true; } | sort
}
sys_before=$(sys_state)

tmp=$(mktemp -d /tmp/kprim-dkms.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The tree "dkms add ." would see: sources only, no build products.
tree=$tmp/export/kprim-$ver
mkdir -p "$tree"
rsync -a --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod' \
	--exclude '*.mod.c' --exclude 'modules.order' --exclude 'Module.symvers' \
	"$KPRIM_TOP/dkms.conf" "$KPRIM_TOP/Makefile" "$KPRIM_TOP/Kbuild" \
	"$KPRIM_TOP/module" "$KPRIM_TOP/include" "$KPRIM_TOP/kunit" "$tree/"
mkdir -p "$tmp/dkms" "$tmp/src" "$tmp/install/$kver"
dk=(dkms --dkmstree "$tmp/dkms" --sourcetree "$tmp/src" --installtree "$tmp/install")
# DKMS signs modules, creating its key in /var/lib/dkms unless told otherwise.
export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub

label="DKMS kprim/$ver on $kver"
if run "$tmp/add.log" "${dk[@]}" add "$tree"; then
	result ok "$label: dkms add"
else
	result fail "$label: dkms add"
	exit 1
fi
if run "$tmp/build.log" "${dk[@]}" build "kprim/$ver" -k "$kver" --kernelsourcedir "$hdr"; then
	result ok "$label: dkms build"
else
	result fail "$label: dkms build"
	find "$tmp/dkms" -name make.log -exec tail -n 30 {} \; | sed 's/^/        /'
	exit 1
fi
mlog=$(find "$tmp/dkms/kprim/$ver/$kver" -name make.log | head -n1)
if [ -n "$mlog" ] && ! grep -E 'warning:|error:' "$mlog"; then
	result ok "$label: build log has no compiler warnings"
else
	result fail "$label: warnings in the DKMS build log ${mlog:-(missing)}"
fi
if run "$tmp/install.log" "${dk[@]}" install "kprim/$ver" -k "$kver" --no-depmod; then
	result ok "$label: dkms install (private install tree, no depmod)"
else
	result fail "$label: dkms install"
fi
ko=$(find "$tmp/install/$kver" -name 'kprim.ko*' | head -n1)
vermagic=$([ -n "$ko" ] && /sbin/modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1 || true)
if [ -n "$ko" ] && [ "$vermagic" = "$kver" ] &&
	[ "$(/sbin/modinfo -F version "$ko")" = "$ver" ]; then
	result ok "$label: installed ${ko#"$tmp/install/"}, vermagic $vermagic, version $ver"
else
	result fail "$label: installed module missing or wrong (ko='$ko' vermagic='$vermagic')"
fi
if "${dk[@]}" status "kprim/$ver" -k "$kver" 2>&1 | grep -q installed; then
	result ok "$label: dkms status says installed"
else
	result fail "$label: dkms status: $("${dk[@]}" status "kprim/$ver" 2>&1 | head -n1)"
fi
if run "$tmp/remove.log" "${dk[@]}" remove "kprim/$ver" --all --no-depmod &&
	[ -z "$(find "$tmp/install" -name 'kprim.ko*')" ] && [ ! -e "$tmp/dkms/kprim/$ver" ]; then
	result ok "$label: dkms remove --all removed the module and the build"
else
	result fail "$label: dkms remove left files behind"
fi

if [ "$(sys_state)" = "$sys_before" ]; then
	result ok "$label: system /var/lib/dkms, /usr/src and /lib/modules/*/updates untouched"
else
	result fail "$label: system files changed: $(diff <(echo "$sys_before") <(sys_state) | head -n 5)"
fi
exit $failed
