# SPDX-License-Identifier: GPL-2.0
#
# kprim top-level Makefile.
#
#   make                 build module/kprim.ko (and the KUnit modules when the
#                        target kernel has KUnit) against $(KDIR)
#   make check           the whole test pipeline (see Documentation/testing.rst)
#   make check SUITE=vmem
#   make torture         randomized tortures with CPU hotplug in QEMU
#                        (DURATION=seconds, TORTURE=smr,vmem..., KERNEL=kcsan)
#   make demo            boot QEMU with kprim loaded, print the debugfs views
#   make bench           benchmarks vs Linux primitives on the stock kernel
#   make lint            checkpatch --strict, kernel-doc, sparse (C=2), W=1
#   make docs-check      kernel-doc -Wall on every source file
#   make clean

KERNEL_RELEASE ?= $(shell uname -r)
# Deferred (?=): only targets that build resolve it, so "make clean" never
# builds the test kernel.
KDIR ?= $(shell if [ -d /lib/modules/$(KERNEL_RELEASE)/build ]; then \
		echo /lib/modules/$(KERNEL_RELEASE)/build; \
	else scripts/build-test-kernel.sh; fi)

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	find module kunit samples bench \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name '.*.cmd' -o -name 'modules.order' \
		-o -name 'Module.symvers' \) -delete 2>/dev/null || true
	rm -rf build Module.symvers modules.order .tmp_versions .Module.symvers.cmd .modules.order.cmd

check:
	scripts/check.sh

torture:
	scripts/torture.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

lint:
	scripts/lint.sh

docs-check:
	scripts/lint.sh docs

.PHONY: all modules clean check torture demo bench lint docs-check
