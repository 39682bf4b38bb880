/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim: NetBSD and XNU synchronization and allocation primitives for Linux
 * out-of-tree drivers.  Consumers include the facility headers they use
 * (<kprim/vmem.h>, <kprim/psref.h>, <kprim/smr.h>, <kprim/ltable.h>) and
 * declare MODULE_IMPORT_NS(KPRIM) (or KPRIM_MODULE_IMPORT_NS()).
 */
#ifndef _KPRIM_KPRIM_H
#define _KPRIM_KPRIM_H

#include <kprim/compat.h>

#define KPRIM_VERSION	"0.1.0"

const char *kprim_version(void);

#endif /* _KPRIM_KPRIM_H */
