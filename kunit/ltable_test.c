// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim ltable: placeholder until the facility lands.
 */

#include <kunit/test.h>
#include <kprim/kprim.h>

static void ltable_placeholder(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, kprim_version(), KPRIM_VERSION);
}

static struct kunit_case ltable_cases[] = {
	KUNIT_CASE(ltable_placeholder),
	{}
};

static struct kunit_suite ltable_suite = {
	.name = "kprim_ltable",
	.test_cases = ltable_cases,
};
kunit_test_suite(ltable_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim ltable");
KPRIM_MODULE_IMPORT_NS();
