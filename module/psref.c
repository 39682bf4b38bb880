// SPDX-License-Identifier: GPL-2.0
/*
 * psref: placeholder until the facility lands.
 */

#include "kprim_internal.h"

int kprim_psref_setup(struct dentry *root)
{
	return 0;
}

void kprim_psref_teardown(void)
{
}
