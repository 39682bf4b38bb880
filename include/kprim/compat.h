/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim compatibility layer: the only place that knows about differences
 * between the kernel versions kprim supports (6.1 to 6.12, and 6.13+ where
 * symbol namespaces became string literals).
 */
#ifndef _KPRIM_COMPAT_H
#define _KPRIM_COMPAT_H

#include <linux/version.h>
#include <linux/export.h>
#include <linux/module.h>

/*
 * EXPORT_SYMBOL_KPRIM(sym) exports @sym GPL-only in namespace KPRIM.  (Its
 * name starts with EXPORT_SYMBOL so checkpatch treats it as one.)
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define EXPORT_SYMBOL_KPRIM(sym)	EXPORT_SYMBOL_NS_GPL(sym, "KPRIM")
/**
 * KPRIM_MODULE_IMPORT_NS() - import kprim's symbol namespace
 *
 * Equivalent to MODULE_IMPORT_NS(KPRIM) on kernels up to 6.12 and
 * MODULE_IMPORT_NS("KPRIM") from 6.13 on.
 */
#define KPRIM_MODULE_IMPORT_NS()	MODULE_IMPORT_NS("KPRIM")
#else
#define EXPORT_SYMBOL_KPRIM(sym)	EXPORT_SYMBOL_NS_GPL(sym, KPRIM)
#define KPRIM_MODULE_IMPORT_NS()	MODULE_IMPORT_NS(KPRIM)
#endif

#endif /* _KPRIM_COMPAT_H */
