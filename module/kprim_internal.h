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
#include <linux/percpu.h>
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
 * kprim_alloc_percpu() - alloc_percpu() with a fault-injection point
 * @type: the type of the per-CPU object
 *
 * The percpu allocator reaches failslab and fail_page_alloc only when it
 * has to create or populate a chunk, so fail-nth fault injection
 * (kunit/fault_test.c) could almost never make it fail.  Each kprim
 * per-CPU allocation is therefore a fault point of its own, which fails
 * only when a task's fail-nth says so.  Failures are not reported on the
 * console (%__GFP_NOWARN): every caller returns the error to its caller.
 *
 * Context: process context, may sleep.
 * Return: the zeroed per-CPU object, or NULL.
 */
#define kprim_alloc_percpu(type)					\
	((type __percpu *)__kprim_alloc_percpu(sizeof(type), __alignof__(type)))
void __percpu *__kprim_alloc_percpu(size_t size, size_t align);

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
