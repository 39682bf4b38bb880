// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim vmem: placeholder until the facility lands.
 */

#include <kunit/test.h>
#include <kprim/kprim.h>

static void vmem_placeholder(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, kprim_version(), KPRIM_VERSION);
}

static struct kunit_case vmem_cases[] = {
	KUNIT_CASE(vmem_placeholder),
	{}
};

static struct kunit_suite vmem_suite = {
	.name = "kprim_vmem",
	.test_cases = vmem_cases,
};
kunit_test_suite(vmem_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim vmem");
KPRIM_MODULE_IMPORT_NS();
