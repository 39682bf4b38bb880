// SPDX-License-Identifier: GPL-2.0
/*
 * vmem: placeholder until the facility lands.
 */

#include "kprim_internal.h"

int kprim_vmem_setup(struct dentry *root)
{
	return 0;
}

void kprim_vmem_teardown(void)
{
}
