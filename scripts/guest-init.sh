#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the kprim test initramfs (busybox sh).  Protocol lines go to the
# second serial port (/dev/ttyS1) so kernel messages never interleave with
# them: "KPRIM <event> ..." lines, and KTAP documents framed by
# "KPRIM ktap-begin <suite>" / "KPRIM ktap-end <suite>".
#
# Variables substituted by the host (scripts/check.sh) at the #@KPRIM_CONF@ line:
#   KPRIM_MODE   kunit | distro
#   KPRIM_TESTS  test modules to load, in order
#   KPRIM_LOOPS  kprim.ko load/unload iterations for the leak check
#   KPRIM_EXTRA  extra modules (consumers) to load and unload after the tests
#   KPRIM_TORTURE  (torture mode) parameters for kprim_torture.ko
#   KPRIM_TORTURE_WAIT  (torture mode) seconds to wait for it to finish

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
finish() { msg done; sync; reboot -f; sleep 10; }

msg boot "$(uname -r)" cpus=$(grep -c ^processor /proc/cpuinfo)

# Fault injection (kunit/fault_test.c) fails the Nth allocation of a task
# through current->fail_nth.  By default failslab and fail_page_alloc
# ignore sleeping (GFP_KERNEL) allocations and single pages, which are most
# of kprim's; let them count, and keep injected failures quiet (probability
# stays 0, so nothing fails unless a test asks for it).
for fa in failslab fail_page_alloc; do
	d=/sys/kernel/debug/$fa
	[ -d $d ] || continue
	echo N >$d/ignore-gfp-wait
	echo 0 >$d/verbose
	[ -e $d/min-order ] && echo 0 >$d/min-order
done
if ! insmod /lib/kprim/kprim.ko; then
	msg fail insmod kprim.ko
	finish
fi
msg ok insmod kprim.ko
if [ -d /sys/kernel/debug/kprim ]; then
	msg ok debugfs /sys/kernel/debug/kprim version=$(cat /sys/kernel/debug/kprim/version)
else
	msg fail debugfs /sys/kernel/debug/kprim missing
fi

if [ "$KPRIM_MODE" = demo ]; then
	{
		echo
		if [ -f /lib/kprim/demo.sh ]; then
			sh /lib/kprim/demo.sh
		else
			echo "################ kprim debugfs: /sys/kernel/debug/kprim ################"
			for f in $(find /sys/kernel/debug/kprim -type f | sort); do
				echo
				echo "---- ${f#/sys/kernel/debug/} ----"
				cat "$f"
			done
		fi
		echo
	} >$out 2>&1
fi

if [ "$KPRIM_MODE" = kunit ]; then
	[ -e /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak
	for t in $KPRIM_TESTS; do
		before=$(ls /sys/kernel/debug/kunit 2>/dev/null)
		msg module-begin "$t"
		if ! insmod "/lib/kprim/$t.ko"; then
			msg fail insmod "$t.ko"
			continue
		fi
		for s in $(ls /sys/kernel/debug/kunit); do
			case " $(echo $before) " in *" $s "*) continue ;; esac
			msg ktap-begin "$s"
			cat "/sys/kernel/debug/kunit/$s/results" >$out
			msg ktap-end "$s"
		done
		rmmod "$t" || msg fail rmmod "$t"
		msg module-end "$t"
	done
fi

if [ "$KPRIM_MODE" = torture ]; then
	[ -e /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak
	t=/sys/kernel/debug/kprim_torture
	msg module-begin kprim_torture
	if insmod /lib/kprim/kprim_torture.ko $KPRIM_TORTURE; then
		# Unload under load: the torture holds kprim objects.
		if rmmod kprim 2>/dev/null; then
			msg fail rmmod kprim succeeded while kprim_torture runs
			finish
		fi
		msg ok rmmod kprim refused while kprim_torture holds objects
		waited=0
		while [ "$(cat $t/done 2>/dev/null)" != 1 ] &&
		      [ $waited -lt "$KPRIM_TORTURE_WAIT" ]; do
			sleep 5
			waited=$((waited + 5))
		done
		if [ "$(cat $t/done 2>/dev/null)" = 1 ]; then
			msg ktap-begin kprim_torture
			cat $t/results >$out
			msg ktap-end kprim_torture
		else
			msg fail kprim_torture did not finish within "$KPRIM_TORTURE_WAIT" s
			cat $t/status >$out 2>/dev/null
		fi
		if rmmod kprim_torture; then
			# The consumer tore everything down: no object may remain.
			# (every torture object's name starts with "torture").
			left=$(ls /sys/kernel/debug/kprim/*/ | grep -c '^torture')
			if [ "$left" -eq 0 ]; then
				msg ok kprim_torture unloaded, no torture object left in kprim
			else
				msg fail kprim_torture left "$left" objects in /sys/kernel/debug/kprim
			fi
		else
			msg fail rmmod kprim_torture
		fi
	else
		msg fail insmod kprim_torture.ko $KPRIM_TORTURE
	fi
	msg module-end kprim_torture
fi

for m in $KPRIM_EXTRA; do
	if insmod "/lib/kprim/$m.ko" && rmmod "$m"; then
		msg ok load-unload "$m"
	else
		msg fail load-unload "$m"
	fi
done

if ! rmmod kprim; then
	msg fail rmmod kprim
	finish
fi
if [ -e /sys/kernel/debug/kprim ]; then
	msg fail debugfs /sys/kernel/debug/kprim left behind after rmmod
else
	msg ok rmmod kprim removed /sys/kernel/debug/kprim
fi

# Load/unload loop: nothing may leak (kmemleak and slab totals).
slab0=$(awk '/^Slab:/ {print $2}' /proc/meminfo)
i=0
ok=1
while [ $i -lt "$KPRIM_LOOPS" ]; do
	if ! insmod /lib/kprim/kprim.ko || ! rmmod kprim; then
		msg fail load-unload loop iteration $i
		ok=0
		break
	fi
	i=$((i + 1))
done
slab1=$(awk '/^Slab:/ {print $2}' /proc/meminfo)
[ $ok = 1 ] && msg ok load-unload "$KPRIM_LOOPS" times slab_kB=$slab0:$slab1

if [ -e /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak)
	if [ "$leaks" -eq 0 ]; then
		msg ok kmemleak no leaks
	else
		msg fail kmemleak "$leaks" unreferenced objects
		cat /sys/kernel/debug/kmemleak >$out
	fi
fi
finish
