/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to kprim.ko: the hooks kprim_main.c calls at load and unload, the
 * debugfs root, and the misuse-report helper every facility uses.
 */
#ifndef _KPRIM_INTERNAL_H
#define _KPRIM_INTERNAL_H

#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/dcache.h>
#include <kprim/kprim.h>

/* /sys/kernel/debug/kprim, valid between kprim's init and exit. */
struct dentry *kprim_debugfs_dir(void);

/*
 * Per-facility setup/teardown, called in this order by kprim_main.c
 * (teardown in reverse).  @root is the kprim debugfs directory.
 */
int kprim_smr_setup(struct dentry *root);
void kprim_smr_teardown(void);
int kprim_psref_setup(struct dentry *root);
void kprim_psref_teardown(void);
int kprim_vmem_setup(struct dentry *root);
void kprim_vmem_teardown(void);
int kprim_ltable_setup(struct dentry *root);
void kprim_ltable_teardown(void);

/**
 * KPRIM_MISUSE() - report a consumer's misuse of a kprim API
 * @counter: atomic_long_t counting misuse reports of this object or facility
 * @fmt: printf format naming the API, the object and the bad values
 *
 * Bad input from a consumer never panics: it is reported once per call site
 * (WARN_ONCE, so the first report has a backtrace), counted in @counter
 * (visible in debugfs and to tests), and the caller returns an error or
 * ignores the request, leaving its structure consistent.
 *
 * Evaluates to true so it can be used as ``if (cond && KPRIM_MISUSE(...))``.
 */
#define KPRIM_MISUSE(counter, fmt, ...)					\
	({								\
		atomic_long_inc(counter);				\
		WARN_ONCE(1, "kprim: " fmt "\n", ##__VA_ARGS__);	\
		true;							\
	})

#endif /* _KPRIM_INTERNAL_H */
