// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim psref: placeholder until the facility lands.
 */

#include <kunit/test.h>
#include <kprim/kprim.h>

static void psref_placeholder(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, kprim_version(), KPRIM_VERSION);
}

static struct kunit_case psref_cases[] = {
	KUNIT_CASE(psref_placeholder),
	{}
};

static struct kunit_suite psref_suite = {
	.name = "kprim_psref",
	.test_cases = psref_cases,
};
kunit_test_suite(psref_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim psref");
KPRIM_MODULE_IMPORT_NS();
