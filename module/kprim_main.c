// SPDX-License-Identifier: GPL-2.0
/*
 * kprim module entry points: creates /sys/kernel/debug/kprim and brings the
 * facilities up in dependency order (SMR and psref first, since vmem and
 * ltable may use them), and down in reverse.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>

#include "kprim_internal.h"

static struct dentry *kprim_root;

#ifdef CONFIG_FAULT_INJECTION
/* The fault point of kprim_alloc_percpu(); quiet, set up by kprim_init(). */
static struct fault_attr kprim_fail_percpu = FAULT_ATTR_INITIALIZER;
#endif

/* See kprim_alloc_percpu() in kprim_internal.h. */
void __percpu *__kprim_alloc_percpu(size_t size, size_t align)
{
#ifdef CONFIG_FAULT_INJECTION
	if (should_fail(&kprim_fail_percpu, size))
		return NULL;
#endif
	return __alloc_percpu_gfp(size, align, GFP_KERNEL | __GFP_NOWARN);
}

struct dentry *kprim_debugfs_dir(void)
{
	return kprim_root;
}

/**
 * kprim_version() - the version string of the loaded kprim module
 *
 * Context: any.
 * Return: a static string, equal to %KPRIM_VERSION of the headers kprim was
 * built with.  A consumer may compare it with its own %KPRIM_VERSION.
 */
const char *kprim_version(void)
{
	return KPRIM_VERSION;
}
EXPORT_SYMBOL_KPRIM(kprim_version);

static int version_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\n", KPRIM_VERSION);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(version);

static const struct {
	const char *name;
	int (*setup)(struct dentry *root);
	void (*teardown)(void);
} kprim_facilities[] = {
	{ "smr", kprim_smr_setup, kprim_smr_teardown },
	{ "psref", kprim_psref_setup, kprim_psref_teardown },
	{ "vmem", kprim_vmem_setup, kprim_vmem_teardown },
	{ "ltable", kprim_ltable_setup, kprim_ltable_teardown },
};

static void kprim_teardown_from(int i)
{
	while (--i >= 0)
		kprim_facilities[i].teardown();
}

static int __init kprim_init(void)
{
	int i, err;

#ifdef CONFIG_FAULT_INJECTION
	/* Injected failures print nothing, like the guest's failslab. */
	kprim_fail_percpu.verbose = 0;
#endif
	kprim_root = debugfs_create_dir("kprim", NULL);
	debugfs_create_file("version", 0444, kprim_root, NULL, &version_fops);

	for (i = 0; i < ARRAY_SIZE(kprim_facilities); i++) {
		err = kprim_facilities[i].setup(kprim_root);
		if (err) {
			pr_err("%s setup failed: %d\n", kprim_facilities[i].name, err);
			kprim_teardown_from(i);
			debugfs_remove_recursive(kprim_root);
			kprim_root = NULL;
			return err;
		}
	}
	pr_info("kprim %s loaded\n", KPRIM_VERSION);
	return 0;
}

static void __exit kprim_exit(void)
{
	kprim_teardown_from(ARRAY_SIZE(kprim_facilities));
	debugfs_remove_recursive(kprim_root);
	kprim_root = NULL;
}

module_init(kprim_init);
module_exit(kprim_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The kprim developers");
MODULE_DESCRIPTION("NetBSD and XNU primitives for Linux drivers: vmem, psref, SMR, ltable");
MODULE_VERSION(KPRIM_VERSION);
