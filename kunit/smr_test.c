// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim smr: placeholder until the facility lands.
 */

#include <kunit/test.h>
#include <kprim/kprim.h>

static void smr_placeholder(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, kprim_version(), KPRIM_VERSION);
}

static struct kunit_case smr_cases[] = {
	KUNIT_CASE(smr_placeholder),
	{}
};

static struct kunit_suite smr_suite = {
	.name = "kprim_smr",
	.test_cases = smr_cases,
};
kunit_test_suite(smr_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim smr");
KPRIM_MODULE_IMPORT_NS();
