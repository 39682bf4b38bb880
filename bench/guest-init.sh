#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the make bench initramfs (busybox sh).  Loads kprim.ko, then
# kprim_bench.ko once per selected row so progress shows row by row, and
# copies the module's KPRIM_BENCH lines to the result channel (/dev/ttyS1)
# as "KPRIM bench ..." lines.
#
# Variables substituted by scripts/bench.sh at the #@KPRIM_CONF@ line:
#   BENCH_ROWS    row names or prefixes, comma separated, or "all"
#   BENCH_PARAMS  extra kprim_bench.ko parameters (runs=, run_ms=, ...)
#   KPRIM_PARAMS  kprim.ko parameters (e.g. psref_debug=0)
#   BENCH_TRACE   non-empty: trace workqueue activity of kprim_smr and
#                 delayed-work timers during the rows, dumped as "TRACE" lines

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
#@KPRIM_CONF@

out=/dev/ttyS1
stty -F $out raw -echo 2>/dev/null
msg() { echo "KPRIM $*" >$out; }
finish() { msg "done"; sync; reboot -f; sleep 10; }

msg boot "$(uname -r)" "cpus=$(grep -c ^processor /proc/cpuinfo)"
# shellcheck disable=SC2086
if ! insmod /lib/kprim/kprim.ko $KPRIM_PARAMS; then
	msg fail insmod kprim.ko
	finish
fi
dmesg -c >/dev/null

# The module's own row list, filtered by the selection.
insmod /lib/kprim/kprim_bench.ko rows=list && rmmod kprim_bench
all=$(dmesg -c | sed -n 's/.*KPRIM_BENCH_ROW //p')
sel=
for r in $all; do
	if [ "$BENCH_ROWS" = all ]; then
		sel="$sel $r"
		continue
	fi
	for p in $(echo "$BENCH_ROWS" | tr , ' '); do
		case $r in "${p%\*}"*) sel="$sel $r"; break ;; esac
	done
done
[ -n "$sel" ] || msg fail no row matches "$BENCH_ROWS"

if [ -n "$BENCH_TRACE" ]; then
	t=/sys/kernel/tracing
	mount -t tracefs tracefs $t 2>/dev/null
	echo 16384 >$t/buffer_size_kb
	echo 'workqueue == "kprim_smr"' >$t/events/workqueue/workqueue_queue_work/filter
	echo 1 >$t/events/workqueue/workqueue_queue_work/enable
	echo 1 >$t/events/workqueue/workqueue_execute_start/enable
	fn=$(grep ' delayed_work_timer_fn$' /proc/kallsyms | cut -d' ' -f1)
	echo "function == 0x$fn" >$t/events/timer/timer_start/filter
	echo 1 >$t/events/timer/timer_start/enable
	echo 1 >$t/tracing_on
fi

for r in $sel; do
	start=$(cut -d' ' -f1 /proc/uptime)
	# shellcheck disable=SC2086
	if ! insmod /lib/kprim/kprim_bench.ko rows="$r" $BENCH_PARAMS; then
		msg fail insmod kprim_bench.ko rows="$r"
		dmesg -c >$out
		continue
	fi
	[ -n "$BENCH_TRACE" ] && echo "end of row $r" >$t/trace_marker
	rmmod kprim_bench || msg fail rmmod kprim_bench
	log=$(dmesg -c)
	echo "$log" | sed -n 's/.*\(KPRIM_BENCH .*\)/KPRIM bench \1/p' | sed 's/KPRIM_BENCH //' >$out
	echo "$log" | grep -q 'KPRIM_BENCH_END errors 0 misuse smr 0 psref 0 ltable 0' ||
		msg fail "$r": "$(echo "$log" | sed -n 's/.*KPRIM_BENCH_END //p')"
	echo "$log" | grep -E 'WARNING|BUG|Oops|kprim' | grep -v KPRIM_BENCH | sed 's/^/KPRIM log /' >$out
	msg row-time "$r" "$start" "$(cut -d' ' -f1 /proc/uptime)"
done

if [ -n "$BENCH_TRACE" ]; then
	echo 0 >$t/tracing_on
	sed 's/^/TRACE /' $t/trace >$out
fi

rmmod kprim || msg fail rmmod kprim
finish
