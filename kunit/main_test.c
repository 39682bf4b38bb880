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

/*
 * The kprim.ko this test module links against, found through the module
 * loader's dependency list (THIS_MODULE->target_list): the loader put it
 * there when it resolved kprim_version() and friends.  It cannot change
 * while this module is live.
 */
static struct module *kprim_owner(void)
{
	struct module_use *use;

	list_for_each_entry(use, &THIS_MODULE->target_list, target_list)
		if (!strcmp(use->target->name, "kprim"))
			return use->target;
	return NULL;
}

/* kprim.ko is loaded, live, and answers with the version we built against. */
static void kprim_module_loaded(struct kunit *test)
{
	struct module *kprim = kprim_owner();

	KUNIT_ASSERT_NOT_NULL(test, kprim);
	KUNIT_EXPECT_EQ(test, kprim->state, MODULE_STATE_LIVE);
	KUNIT_EXPECT_STREQ(test, kprim->version, KPRIM_VERSION);
	KUNIT_EXPECT_STREQ(test, kprim_version(), KPRIM_VERSION);
	/* We hold a reference on it: rmmod kprim is refused while we live. */
	KUNIT_EXPECT_GT(test, module_refcount(kprim), 0);
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
	struct module *kprim = kprim_owner();

	KUNIT_ASSERT_NOT_NULL(test, kprim);
	KUNIT_EXPECT_EQ(test, kprim->num_syms, 0u);
	KUNIT_EXPECT_GT(test, kprim->num_gpl_syms, 0u);
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
