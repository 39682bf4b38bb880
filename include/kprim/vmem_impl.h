/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim vmem: the arena structure, visible so that a consumer can embed an
 * arena in its own storage and hand it to vmem_init().  Consumers must not
 * touch any field; only module/vmem.c (and its KUnit test, for consistency
 * checks) reads them.
 */
#ifndef _KPRIM_VMEM_IMPL_H
#define _KPRIM_VMEM_IMPL_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <kprim/vmem.h>

#define VMEM_NAME_MAX		32
/* Freelist n holds free segments of [2^n, 2^(n+1)) quanta. */
#define VMEM_MAXORDER		BITS_PER_LONG
#define VMEM_HASH_INITIAL	16
/* Quantum caches serve sizes of 1 .. VMEM_QCACHE_IDX_MAX quanta. */
#define VMEM_QCACHE_IDX_MAX	16
/* Rounds per magazine: the magazine is exactly 256 bytes on 64-bit. */
#define VMEM_MAG_ROUNDS		30

enum vmem_bt_type {
	VMEM_BT_SPAN_STATIC = 1,	/* added by vmem_add() or vmem_create() */
	VMEM_BT_SPAN,			/* imported, released when wholly free */
	VMEM_BT_FREE,
	VMEM_BT_BUSY,
};

/* A boundary tag: one per span and per free or busy segment. */
struct vmem_btag {
	struct list_head seglist;	/* all tags, in address order */
	union {
		struct list_head freelist;	/* FREE: vm_freelist[order] */
		struct hlist_node hashlink;	/* BUSY: vm_hashlist[] */
		struct rb_node spannode;	/* SPAN*: vm_spans */
	};
	vmem_addr_t start;
	vmem_size_t size;
	enum vmem_bt_type type;
};

struct vmem_magazine {
	struct vmem_magazine *next;	/* depot list link */
	unsigned long nrounds;
	vmem_addr_t rounds[VMEM_MAG_ROUNDS];
};

/* Per-CPU part of one quantum cache (Bonwick's CPU layer). */
struct vmem_qcache_cpu {
	spinlock_t lock;		/* this structure; irqsave */
	struct vmem_magazine *loaded;
	struct vmem_magazine *prev;
	unsigned long hits;
	unsigned long misses;
};

/* One quantum cache: sizes of exactly (index + 1) quanta. */
struct vmem_qcache {
	struct vmem_qcache_cpu __percpu *cpu;
	vmem_size_t size;
	spinlock_t depot_lock;		/* depot fields; irqsave */
	struct vmem_magazine *full;	/* depot: magazines with rounds */
	struct vmem_magazine *empty;	/* depot: empty magazines */
	unsigned long nfull, nempty;
	unsigned long nfull_min, nempty_min;	/* since the last trim */
	unsigned long nmags;		/* magazines allocated, in total */
};

struct vmem {
	spinlock_t vm_lock;		/* flavour chosen by vm_ipl */
	int vm_ipl;
	vm_flag_t vm_flags;
	vmem_size_t vm_quantum;
	unsigned int vm_quantum_shift;

	/*
	 * Import/release.  vm_source is set when the import function is
	 * vmem_alloc() and vm_arg the parent arena.
	 */
	union {
		vmem_import_t *vm_importfn;
		vmem_ximport_t *vm_ximportfn;	/* with VM_XIMPORT */
	};
	vmem_release_t *vm_releasefn;
	void *vm_arg;
	struct vmem *vm_source;

	/* Segments, spans, freelists; protected by vm_lock. */
	struct list_head vm_seglist;
	struct rb_root vm_spans;	/* span tags by address */
	struct list_head vm_freelist[VMEM_MAXORDER];
	unsigned long vm_freemap;	/* bit n: vm_freelist[n] non-empty */
	vmem_addr_t vm_rotor;		/* VM_NEXTFIT: next address to try */

	/* Busy-segment hash, resized outside vm_lock. */
	struct hlist_head *vm_hashlist;
	unsigned int vm_hashbits;
	unsigned long vm_nbusy;
	struct work_struct vm_hash_work;
	struct hlist_head vm_hash0[VMEM_HASH_INITIAL];

	/* Reserve of boundary tags, refilled outside vm_lock. */
	struct list_head vm_btreserve;
	unsigned int vm_nbtreserve;

	/* VM_SLEEP waiters: vm_freegen moves on every free/add/import. */
	wait_queue_head_t vm_wait;
	unsigned long vm_freegen;

	/* Accounting, under vm_lock. */
	vmem_size_t vm_inuse;
	vmem_size_t vm_total;
	vmem_size_t vm_imported;
	unsigned long vm_nalloc, vm_nfree, vm_nimport, vm_nrelease;
	unsigned long vm_nwait, vm_nfail;
	atomic_long_t vm_misuse;

	/* Quantum caches. */
	vmem_size_t vm_qcache_max;
	unsigned int vm_nqcache;
	struct vmem_qcache *vm_qcache;

	/* Global list, debugfs. */
	struct list_head vm_alllist;
	unsigned long vm_id;
	bool vm_allocated;		/* by vmem_create(), not vmem_init() */
	struct dentry *vm_debugfs;
	char vm_name[VMEM_NAME_MAX];
};

#endif /* _KPRIM_VMEM_IMPL_H */
