#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of "make demo" (busybox sh), installed as /lib/kprim/demo.sh in
# the initramfs and run by the guest /init after it loaded kprim.ko.  Loads
# kprim_example.ko, drives it through /sys/kernel/debug/kprim_example/control
# (create 1000 sessions, look some up, destroy half while per-CPU users look
# sessions up concurrently), prints kprim's debugfs views, unloads the sample
# and checks that nothing was left behind.
#
# Output is for a person; lines starting with "KPRIM ok" / "KPRIM fail" are
# the checks the host counts.
#
# Usage: demo.sh [NSESSIONS]   (default 1000)

N=${1:-1000}
KO=/lib/kprim/kprim_example.ko
D=/sys/kernel/debug/kprim_example
K=/sys/kernel/debug/kprim

ok() { echo "KPRIM ok $*"; }
fail() { echo "KPRIM fail $*"; }
check() { # check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}
heading() {
	echo
	echo "======== $* ========"
}
# show FILE [MAXLINES]: a debugfs file under a sub-heading, maybe shortened
show() {
	echo
	echo "---- ${1#/sys/kernel/debug/} ----"
	if [ ! -e "$1" ]; then
		echo "(missing)"
		return
	fi
	n=$(wc -l <"$1")
	if [ -n "$2" ] && [ "$n" -gt "$2" ]; then
		head -n "$2" "$1"
		echo "... ($((n - $2)) more lines)"
	else
		cat "$1"
	fi
}
stat() { awk -v k="$1" '$1 == k { print $2 }' $D/stats; }
now_cs() { awk '{ split($1, t, "."); print t[1] * 100 + t[2] }' /proc/uptime; }
slab_kb() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }

heading "1. load the sample driver"
slab0=$(slab_kb)
if ! insmod $KO; then
	fail insmod kprim_example.ko
	exit 0
fi
ok insmod kprim_example.ko
dmesg | grep 'kprim_example:' | tail -n 1
echo "kprim is now used by: $(awk '$1 == "kprim" { print $4 }' /proc/modules)"

heading "2. create $N sessions"
t0=$(now_cs)
i=0
bad=0
while [ $i -lt "$N" ]; do
	echo "create s$i" >$D/control || bad=$((bad + 1))
	i=$((i + 1))
done
t1=$(now_cs)
grep -v '^#' $D/sessions | awk '{ print $1 }' >/tmp/handles
echo "created $N sessions in $(((t1 - t0) * 10)) ms; the first five:"
head -n 6 $D/sessions
check "create $N sessions: $bad failures, $(wc -l </tmp/handles) live" \
	[ "$bad" -eq 0 -a "$(wc -l </tmp/handles)" -eq "$N" ]

heading "3. start one CPU-bound user per CPU (random lookups under SMR + psref)"
echo users start >$D/control && ok "users started on $(grep -c ^processor /proc/cpuinfo) CPUs"
sleep 1
grep '^user' $D/stats

heading "4. look sessions up by handle"
hits=0
tried=0
for h in $(awk 'NR % 100 == 1' /tmp/handles); do
	tried=$((tried + 1))
	echo "lookup $h" >$D/control && hits=$((hits + 1))
done
echo "looked up $tried handles from the shell: $hits found"
check "lookup of live handles ($hits/$tried)" [ "$hits" -eq "$tried" ]
check "a bogus handle is rejected" sh -c "! echo 'lookup 0x12345' >$D/control 2>/dev/null"

heading "5. destroy a session while another task holds it (psref drain)"
H=$(sed -n 2p /tmp/handles)
echo "hold $H 1000" >$D/control &
holder=$!
sleep 0.3
t0=$(now_cs)
echo "destroy $H" >$D/control
t1=$(now_cs)
wait $holder
echo "destroy $H returned after $(((t1 - t0) * 10)) ms: it waited for the holder (1000 ms hold)"
check "destroy waited for the psref holder" [ $((t1 - t0)) -ge 40 ]
check "the destroyed handle no longer resolves" \
	sh -c "! echo 'lookup $H' >$D/control 2>/dev/null"

heading "6. destroy half of the sessions (every other one) while the users run"
t0=$(now_cs)
bad=0
awk 'NR % 2 == 0' /tmp/handles | grep -v "^$H\$" >/tmp/victims
while read -r h; do
	echo "destroy $h" >$D/control || bad=$((bad + 1))
done </tmp/victims
t1=$(now_cs)
live=$(stat live)
echo "destroyed $(($(wc -l </tmp/victims) + 1)) sessions in $(((t1 - t0) * 10)) ms; $live live"
check "destroy half: $bad failures, $live live" [ "$bad" -eq 0 -a "$live" -eq $((N - N / 2)) ]
stale=0
for h in $(head -n 50 /tmp/victims); do
	echo "lookup $h" >$D/control 2>/dev/null || stale=$((stale + 1))
done
check "stale handles of destroyed sessions fail to resolve ($stale/50)" [ "$stale" -eq 50 ]
sleep 1
echo users stop >$D/control
grep '^user' $D/stats
misses=$(awk '/^user/ { m += $7 } END { print m + 0 }' $D/stats)
hits=$(awk '/^user/ { h += $5 } END { print h + 0 }' $D/stats)
check "users: $hits pinned lookups, $misses stale handles, no use after retire" \
	[ "$hits" -gt 0 -a "$(stat use_after_retire)" -eq 0 ]

# smr_call() callbacks run ~50 ms plus a grace period after the destroy.
i=0
while [ "$(stat reclaimed)" != "$(stat destroyed)" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "every destroyed session reclaimed by smr_call ($(stat reclaimed)/$(stat destroyed))" \
	[ "$(stat reclaimed)" = "$(stat destroyed)" ]
check "session IDs in use = live sessions ($(stat sids_in_use))" \
	[ "$(stat sids_in_use)" = "$(stat live)" ]

heading "7. what kprim shows in debugfs"
show $D/stats
show $D/sessions 6
show $K/vmem/arenas
show $K/vmem/kpx_idspace/stats
show $K/vmem/kpx_idspace/segments 12
show $K/vmem/kpx_sids/stats
show $K/vmem/kpx_sids/segments 16
show $K/ltable/kpx_handles
show $K/smr/kpx_sessions
show $K/psref/kpx_sessions

heading "8. unload the sample and check nothing is left"
if rmmod kprim_example; then
	ok rmmod kprim_example
else
	fail rmmod kprim_example
fi
dmesg | grep 'kprim_example:' | tail -n 1
check "unload reclaimed every session and ID" \
	sh -c "dmesg | grep -q 'kprim_example: unloading: .* 0 IDs in use'"
check "vmem arenas kpx_idspace and kpx_sids destroyed" \
	sh -c "! grep -q kpx_ $K/vmem/arenas && [ ! -e $K/vmem/kpx_sids ]"
check "ltable, SMR domain and psref class removed from debugfs" \
	sh -c "[ ! -e $K/ltable/kpx_handles -a ! -e $K/smr/kpx_sessions -a ! -e $K/psref/kpx_sessions ]"
check "no kernel warning, BUG or misuse report in dmesg" \
	sh -c "! dmesg | grep -qE 'WARNING:|BUG:|Oops|KASAN|kprim: .*(misuse|still)'"
check "kprim_example debugfs directory removed" [ ! -e $D ]
echo "slab: ${slab0} kB before insmod, $(slab_kb) kB after rmmod (kprim's caches stay until it unloads)"
exit 0
