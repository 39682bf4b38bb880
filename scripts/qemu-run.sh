#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-run.sh KERNEL INITRD OUTDIR SMP MEM TIMEOUT [CMDLINE...]
#
# Boot KERNEL with INITRD under QEMU (TCG unless KPRIM_QEMU_ACCEL says
# otherwise: /dev/kvm exists on our machines but hangs), kernel console on
# the first serial port -> OUTDIR/console.log, the guest's result channel on
# the second -> OUTDIR/results.log.  The guest leaves with "reboot -f" and
# -no-reboot makes QEMU exit.  Result lines ("KPRIM ...") are echoed as they
# arrive so long runs show progress.  Returns 124 on timeout.
#
# QEMU runs are serialised machine-wide with a flock: this is a 2-core box.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 6 ] || die "usage: $0 KERNEL INITRD OUTDIR SMP MEM TIMEOUT [CMDLINE...]"
kernel=$1 initrd=$2 out=$3 smp=$4 mem=$5 tmo=$6
shift 6
accel=${KPRIM_QEMU_ACCEL:-tcg}

mkdir -p "$out" "$KPRIM_CACHE"
: >"$out/console.log"
: >"$out/results.log"

exec 8>"$KPRIM_CACHE/qemu.lock"
if ! flock -n 8; then
	say "waiting for another QEMU run to finish (lock $KPRIM_CACHE/qemu.lock)"
	flock 8
fi

say "booting $(basename "$kernel") in QEMU (accel=$accel, -smp $smp, ${mem}M, timeout ${tmo}s)"
start=$(date +%s)
timeout --kill-after=10 "$tmo" qemu-system-x86_64 \
	-accel "$accel" -smp "$smp" -m "$mem" -no-reboot \
	-display none -monitor none -nodefaults \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 oops=panic printk.time=0 $*" \
	-serial "file:$out/console.log" -serial "file:$out/results.log" \
	</dev/null >"$out/qemu.log" 2>&1 &
qpid=$!

# Echo the guest's progress lines while it runs.
seen=0
while kill -0 "$qpid" 2>/dev/null; do
	sleep 2
	n=$(wc -l <"$out/results.log")
	if [ "$n" -gt "$seen" ]; then
		sed -n "$((seen + 1)),${n}p" "$out/results.log" | tr -d '\r' |
			grep '^KPRIM ' | sed 's/^KPRIM /    guest: /' >&2 || true
		seen=$n
	fi
done
rc=0
wait "$qpid" || rc=$?
sed -n "$((seen + 1)),\$p" "$out/results.log" | tr -d '\r' | grep '^KPRIM ' |
	sed 's/^KPRIM /    guest: /' >&2 || true
say "QEMU exited with status $rc after $(( $(date +%s) - start ))s"
[ -s "$out/qemu.log" ] && sed 's/^/    qemu: /' "$out/qemu.log" >&2
exit $rc
