#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: kprim's whole test pipeline (Documentation/testing.rst).
#
#   1. install missing Debian packages (scripts/install-deps.sh)
#   2. build the cached debug test kernel (scripts/build-test-kernel.sh)
#   3. build kprim.ko and the KUnit modules against it (W=1, -Werror), and
#      check Module.symvers: every export GPL-only, in namespace KPRIM
#   4. lint (scripts/lint.sh: checkpatch --strict, kernel-doc, sparse)
#   5. boot it in QEMU (TCG, -smp 4): load kprim, run every KUnit module,
#      unload, load/unload loop, kmemleak scan; parse KTAP with kunit.py;
#      any kernel splat fails the run
#   6. the tortures, 60 s, with CPU hotplug (scripts/torture.sh)
#   7. the sample consumer driver on the test kernel (scripts/sample-check.sh)
#   8. build kprim.ko and the sample against Debian's stock headers, boot the
#      stock kernel (load, debugfs root present, unload), DKMS build
#
# Environment: SUITE=vmem[,smr...] runs only those KUnit suites (and skips
# steps 4, 6, 7 and 8; SUITE=torture runs step 6 alone); DURATION (torture
# seconds, default 60); KERNEL=<flavour> picks kunit/kprim-<flavour>.config;
# KPRIM_QEMU_ACCEL, KPRIM_QEMU_TIMEOUT, KPRIM_LOOPS, KPRIM_CACHE.
#
# Ends with exactly one line "N passed, N failed[, N skipped]" and exits
# non-zero when anything failed, did not run, crashed or timed out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=$KPRIM_TOP/build
passed=0 failed=0 skipped=0 closed=0
t0=$(date +%s)

close() {
	local line="$passed passed, $failed failed"
	[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
	closed=1
	echo
	echo "make check took $(( $(date +%s) - t0 ))s"
	echo "$line"
	[ "$failed" -eq 0 ]
}
on_exit() {
	local rc=$?
	if [ $closed = 0 ]; then
		echo "kprim: make check stopped early (status $rc)" >&2
		failed=$((failed + 1))
		close || true
		exit 1
	fi
}
trap on_exit EXIT

step() { echo; echo "=== $* ($(( $(date +%s) - t0 ))s)"; }
tally() { # "COUNTS p f s" from ktap-report.py
	local p f s
	read -r _ p f s < <(grep '^COUNTS ' "$1" | tail -n1)
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}
result() { # result ok|fail description
	if [ "$1" = ok ]; then
		passed=$((passed + 1)); echo "  ok    $2"
	else
		failed=$((failed + 1)); echo "  FAIL  $2"
	fi
}

# One make check per checkout at a time (they share build/).
mkdir -p "$KPRIM_CACHE"
exec 7>"$KPRIM_CACHE/check-$(echo "$KPRIM_TOP" | sha1sum | cut -c1-12).lock"
if ! flock -n 7; then
	say "another make check is running in $KPRIM_TOP; waiting for it"
	flock 7
fi

count_lines() { # count "  ok"/"  FAIL" lines of a sub-check's output
	passed=$((passed + $(grep -c '^  ok  ' "$1" || true)))
	failed=$((failed + $(grep -c '^  FAIL' "$1" || true)))
}

step "1/8 packages"
"$KPRIM_TOP/scripts/install-deps.sh"
echo "  all required Debian packages present"

step "2/8 test kernel (${KERNEL:-debug})"
kdir=$("$KPRIM_TOP/scripts/build-test-kernel.sh")
src=$(kprim_src_dir)

step "3/8 build kprim and KUnit modules against $(basename "$kdir")"
rm -rf "$build/test"
mkdir -p "$build"
run_with_progress "$build/test.build.log" "module build" \
	"$KPRIM_TOP/scripts/build-module.sh" "$kdir" "$build/test" ||
	{ cat "$build/test.build.log"; die "module build failed"; }
mkdir -p "$build/test"
mv "$build/test.build.log" "$build/test/build.log"
if grep -E 'warning:|error:' "$build/test/build.log"; then
	result fail "build against test kernel has warnings"
else
	result ok "build against test kernel (W=1, -Werror): no warnings"
fi
bad=$(awk '$3 ~ /module\/kprim$/ && ($4 != "EXPORT_SYMBOL_GPL" || $5 != "KPRIM")' \
	"$build/test/Module.symvers")
nexp=$(awk '$3 ~ /module\/kprim$/' "$build/test/Module.symvers" | wc -l)
if [ -z "$bad" ] && [ "$nexp" -gt 0 ]; then
	result ok "Module.symvers: all $nexp kprim exports are EXPORT_SYMBOL_GPL in namespace KPRIM"
else
	result fail "Module.symvers: exports outside namespace KPRIM or not GPL: $bad"
fi

step "4/8 lint: checkpatch, kernel-doc, sparse"
if [ -n "${SUITE:-}" ]; then
	echo "  skipped (SUITE=$SUITE; run make lint)"
else
	"$KPRIM_TOP/scripts/lint.sh" >"$build/lint.txt" 2>&1 || true
	cat "$build/lint.txt"
	count_lines "$build/lint.txt"
fi

step "5/8 KUnit in QEMU"
tests=()
if [ -n "${SUITE:-}" ]; then
	for s in ${SUITE//,/ }; do
		case $s in
		torture) ;;
		main|kprim) tests+=(kprim_test) ;;
		*) tests+=("kprim_${s}_test") ;;
		esac
	done
else
	# The skeleton suite first, then the facilities.
	tests=(kprim_test)
	for ko in "$build"/test/kunit/*.ko; do
		t=$(basename "$ko" .ko)
		case $t in kprim_test|kprim_torture) ;; *) tests+=("$t") ;; esac
	done
fi
if [ ${#tests[@]} -eq 0 ]; then
	echo "  skipped (SUITE=$SUITE)"
else
mods=("$build/test/module/kprim.ko")
for t in "${tests[@]}"; do
	[ -e "$build/test/kunit/$t.ko" ] || die "no test module $t.ko (SUITE=${SUITE:-})"
	mods+=("$build/test/kunit/$t.ko")
done
echo "  test modules: ${tests[*]}"
loops=${KPRIM_LOOPS:-$([ -n "${SUITE:-}" ] && echo 10 || echo 100)}
run=$build/test/run
mkdir -p "$run"
sed "s|^#@KPRIM_CONF@\$|KPRIM_MODE=kunit KPRIM_TESTS='${tests[*]}' KPRIM_LOOPS=$loops KPRIM_EXTRA=''|" \
	"$KPRIM_TOP/scripts/guest-init.sh" >"$run/init"
"$KPRIM_TOP/scripts/mkinitramfs.sh" "$run/initrd.gz" "$run/init" "${mods[@]}"
"$KPRIM_TOP/scripts/qemu-run.sh" "$kdir/arch/x86/boot/bzImage" "$run/initrd.gz" "$run" \
	4 2048 "${KPRIM_QEMU_TIMEOUT:-2400}" || true
expect=()
for t in "${tests[@]}"; do expect+=(--expect-module "$t"); done
python3 "$KPRIM_TOP/scripts/ktap-report.py" --results "$run/results.log" \
	--console "$run/console.log" --out "$run" --label "test kernel" \
	--kunit-py "$src/tools/testing/kunit/kunit.py" "${expect[@]}" | tee "$run/report.txt"
tally "$run/report.txt"
echo "  console log: $run/console.log"
fi

step "6/8 torture (${DURATION:-60} s, CPU hotplug, unload under load)"
if [ -n "${SUITE:-}" ] && [[ ",$SUITE," != *,torture,* ]]; then
	echo "  skipped (SUITE=$SUITE)"
else
	DURATION=${DURATION:-60} "$KPRIM_TOP/scripts/torture.sh" --prebuilt "$build/test" \
		>"$build/torture.txt" 2>&1 || true
	cat "$build/torture.txt"
	if grep -q '^COUNTS ' "$build/torture.txt"; then
		tally "$build/torture.txt"
	else
		result fail "torture did not run (see $build/torture.txt)"
	fi
fi

step "7/8 sample consumer driver on the test kernel"
if [ -n "${SUITE:-}" ]; then
	echo "  skipped (SUITE=$SUITE)"
else
	"$KPRIM_TOP/scripts/sample-check.sh" "$kdir" "$build/test" 2>&1 |
		tee "$build/sample-test.txt" || true
	count_lines "$build/sample-test.txt"
fi

step "8/8 distro kernel: load check, sample, DKMS"
if [ -n "${SUITE:-}" ]; then
	echo "  skipped (SUITE=$SUITE)"
else
	vmlinuz=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1)
	ver=${vmlinuz#/boot/vmlinuz-}
	hdr=/usr/src/linux-headers-$ver
	[ -n "$vmlinuz" ] && [ -e "$hdr/Makefile" ] || die "stock kernel or its headers missing ($vmlinuz, $hdr)"
	rm -rf "$build/distro"
	mkdir -p "$build"
	if ! "$KPRIM_TOP/scripts/build-module.sh" "$hdr" "$build/distro" >"$build/distro.build.log" 2>&1; then
		cat "$build/distro.build.log"
		die "build against $hdr failed"
	fi
	mv "$build/distro.build.log" "$build/distro/build.log"
	if grep -E 'warning:|error:' "$build/distro/build.log"; then
		result fail "build against Debian $ver headers has warnings"
	else
		result ok "build against Debian $ver headers (W=1, -Werror): no warnings"
	fi
	run=$build/distro/run
	mkdir -p "$run"
	sed "s|^#@KPRIM_CONF@\$|KPRIM_MODE=distro KPRIM_TESTS='' KPRIM_LOOPS=10 KPRIM_EXTRA=''|" \
		"$KPRIM_TOP/scripts/guest-init.sh" >"$run/init"
	"$KPRIM_TOP/scripts/mkinitramfs.sh" "$run/initrd.gz" "$run/init" "$build/distro/module/kprim.ko"
	"$KPRIM_TOP/scripts/qemu-run.sh" "$vmlinuz" "$run/initrd.gz" "$run" 2 1024 \
		"${KPRIM_QEMU_TIMEOUT_DISTRO:-300}" || true
	python3 "$KPRIM_TOP/scripts/ktap-report.py" --results "$run/results.log" \
		--console "$run/console.log" --out "$run" --label "Debian $ver" \
		--kunit-py "$src/tools/testing/kunit/kunit.py" | tee "$run/report.txt"
	tally "$run/report.txt"
	# make demo boots the sample on this kernel; here it is built and checked.
	"$KPRIM_TOP/scripts/sample-check.sh" --no-boot "$hdr" "$build/distro" 2>&1 |
		tee "$build/sample-distro.txt" || true
	count_lines "$build/sample-distro.txt"
	"$KPRIM_TOP/scripts/dkms-check.sh" "$hdr" 2>&1 | tee "$build/dkms.txt" || true
	count_lines "$build/dkms.txt"
fi

close
