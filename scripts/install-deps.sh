#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages kprim's build and tests need, from Debian's
# archive only.  As root, missing packages are installed with apt-get; as
# anyone else, the exact command to run is printed and the script fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkgs=(
	build-essential bc bison flex libelf-dev libssl-dev rsync cpio kmod
	python3 qemu-system-x86 busybox-static linux-source-6.12 sparse
	linux-headers-amd64 linux-image-amd64 dkms
)

missing=()
for p in "${pkgs[@]}"; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "kprim needs these Debian packages; run as root:" >&2
	echo "    apt-get update && $cmd" >&2
	exit 1
fi
say "installing missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
