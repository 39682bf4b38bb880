/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Arena consistency checker shared by the vmem KUnit suites
 * (kunit/vmem_test.c, kunit/fault_test.c).  Reads vmem's private layout
 * (<kprim/vmem_impl.h>); the caller holds the arena lock.
 */
#ifndef _KPRIM_KUNIT_VMEM_CHECK_H
#define _KPRIM_KUNIT_VMEM_CHECK_H

#include <linux/hash.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/rbtree.h>
#include <kprim/vmem.h>
#include <kprim/vmem_impl.h>

/*
 * Check every invariant of the arena; returns a description of the first
 * violation, or NULL.  The arena lock is taken with interrupts off, which
 * is valid for every IPL since the test never calls vmem from interrupts
 * while checking.
 */
static const char *vmem_check_locked(vmem_t *vm)
{
	vmem_size_t total = 0, inuse = 0, q = vm->vm_quantum;
	unsigned long nfree = 0, nbusy = 0, nlisted = 0, nhashed = 0, i;
	struct vmem_btag *bt, *span = NULL, *prev = NULL, *sp;
	struct rb_node *spanpos = NULL;
	vmem_addr_t expect = 0;

	list_for_each_entry(bt, &vm->vm_seglist, seglist) {
		if (!bt->size || (bt->start & (q - 1)) || (bt->size & (q - 1)))
			return "tag not quantum-aligned or empty";
		if (bt->start + (bt->size - 1) < bt->start)
			return "tag wraps";
		switch (bt->type) {
		case VMEM_BT_SPAN:
		case VMEM_BT_SPAN_STATIC:
			if (span && expect != span->start + span->size)
				return "span not covered by its segments";
			if (span && bt->start <= span->start + (span->size - 1))
				return "spans overlap or out of order";
			spanpos = spanpos ? rb_next(spanpos) : rb_first(&vm->vm_spans);
			sp = spanpos ? rb_entry(spanpos, struct vmem_btag, spannode) : NULL;
			if (sp != bt)
				return "span tree differs from segment list";
			span = bt;
			expect = bt->start;
			total += bt->size;
			break;
		case VMEM_BT_FREE:
		case VMEM_BT_BUSY:
			if (!span)
				return "segment before any span";
			if (bt->start != expect)
				return "gap or overlap between segments";
			if (bt->start + (bt->size - 1) > span->start + (span->size - 1))
				return "segment beyond its span";
			expect = bt->start + bt->size;
			if (bt->type == VMEM_BT_FREE) {
				if (prev && prev->type == VMEM_BT_FREE)
					return "two adjacent free segments";
				nfree++;
			} else {
				inuse += bt->size;
				nbusy++;
			}
			break;
		default:
			return "bad tag type";
		}
		prev = bt;
	}
	if (span && expect != span->start + span->size)
		return "last span not covered";
	if (spanpos ? rb_next(spanpos) : rb_first(&vm->vm_spans))
		return "span tree has extra entries";
	if (span && span->type == VMEM_BT_SPAN && prev == span)
		return "imported span without segments";

	for (i = 0; i < VMEM_MAXORDER; i++) {
		if (list_empty(&vm->vm_freelist[i]) == test_bit(i, &vm->vm_freemap))
			return "freemap bit disagrees with freelist";
		list_for_each_entry(bt, &vm->vm_freelist[i], freelist) {
			if (bt->type != VMEM_BT_FREE)
				return "non-free tag on a freelist";
			if (ilog2(bt->size / q) != i)
				return "free tag on the wrong freelist";
			nlisted++;
		}
	}
	if (nlisted != nfree)
		return "freelists do not hold every free segment";

	for (i = 0; i < (1UL << vm->vm_hashbits); i++) {
		hlist_for_each_entry(bt, &vm->vm_hashlist[i], hashlink) {
			if (bt->type != VMEM_BT_BUSY)
				return "non-busy tag in the hash";
			if (hash_long(bt->start / q, vm->vm_hashbits) != i)
				return "busy tag in the wrong bucket";
			nhashed++;
		}
	}
	if (nhashed != nbusy || nbusy != vm->vm_nbusy)
		return "hash does not hold every busy segment";
	if (inuse != vm->vm_inuse)
		return "vm_inuse is wrong";
	if (total != vm->vm_total)
		return "vm_total is wrong";
	return NULL;
}

#endif /* _KPRIM_KUNIT_VMEM_CHECK_H */
