// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the kprim module skeleton: the module is loaded, its
 * debugfs root exists, and its exports live in the KPRIM namespace.
 */

#include <kunit/test.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/string.h>
#include <kprim/kprim.h>

/* The module owning kprim_version() is kprim.ko, and it is live. */
static void kprim_module_loaded(struct kunit *test)
{
	struct module *owner;

	KUNIT_EXPECT_STREQ(test, kprim_version(), KPRIM_VERSION);
	preempt_disable();
	owner = __module_text_address((unsigned long)kprim_version);
	KUNIT_EXPECT_NOT_NULL(test, owner);
	if (owner) {
		KUNIT_EXPECT_STREQ(test, owner->name, "kprim");
		KUNIT_EXPECT_EQ(test, owner->state, MODULE_STATE_LIVE);
	}
	preempt_enable();
}

/* /sys/kernel/debug/kprim exists and is a directory with a version file. */
static void kprim_debugfs_root_exists(struct kunit *test)
{
	struct dentry *root, *ver;

	root = debugfs_lookup("kprim", NULL);
	KUNIT_ASSERT_NOT_NULL(test, root);
	KUNIT_EXPECT_TRUE(test, d_is_dir(root));
	ver = debugfs_lookup("version", root);
	KUNIT_EXPECT_NOT_NULL(test, ver);
	dput(ver);
	dput(root);
}

/*
 * kprim.ko exports only GPL symbols (EXPORT_SYMBOL_NS_GPL); that they all
 * carry the KPRIM namespace is checked on the host from Module.symvers.
 */
static void kprim_exports_gpl_only(struct kunit *test)
{
	unsigned int nsyms = 0, ngpl = 0;
	struct module *owner;

	preempt_disable();
	owner = __module_text_address((unsigned long)kprim_version);
	if (owner) {
		nsyms = owner->num_syms;
		ngpl = owner->num_gpl_syms;
	}
	preempt_enable();
	KUNIT_ASSERT_NOT_NULL(test, owner);
	KUNIT_EXPECT_EQ(test, nsyms, 0u);
	KUNIT_EXPECT_GT(test, ngpl, 0u);
}

static struct kunit_case kprim_main_cases[] = {
	KUNIT_CASE(kprim_module_loaded),
	KUNIT_CASE(kprim_debugfs_root_exists),
	KUNIT_CASE(kprim_exports_gpl_only),
	{}
};

static struct kunit_suite kprim_main_suite = {
	.name = "kprim_main",
	.test_cases = kprim_main_cases,
};
kunit_test_suite(kprim_main_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for the kprim module skeleton");
KPRIM_MODULE_IMPORT_NS();
