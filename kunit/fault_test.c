// SPDX-License-Identifier: GPL-2.0
/* Placeholder: replaced by the fault_test suite. */
#include <linux/module.h>
MODULE_LICENSE("GPL");
