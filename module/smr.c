// SPDX-License-Identifier: GPL-2.0
/*
 * smr: placeholder until the facility lands.
 */

#include "kprim_internal.h"

int kprim_smr_setup(struct dentry *root)
{
	return 0;
}

void kprim_smr_teardown(void)
{
}
