// SPDX-License-Identifier: GPL-2.0
/* Placeholder: replaced by the torture module. */
#include <linux/module.h>
MODULE_LICENSE("GPL");
