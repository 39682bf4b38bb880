// SPDX-License-Identifier: GPL-2.0
/*
 * vmem torture.  A chain of three arenas:
 *
 *   torture_vmem_top   two static spans, quantum 4 KiB, no import
 *   torture_vmem_mid   imports from top (vmem_alloc/vmem_free), quantum
 *                      4 KiB, quantum caches up to 4 quanta
 *   torture_vmem_leaf  imports from mid, quantum 16, quantum caches up to
 *                      16 quanta (256)
 *
 * Worker kthreads allocate and free at random: vmem_alloc() of cached and
 * uncached sizes with every fit strategy (some VM_NOSLEEP with preemption
 * disabled, some VM_LARGEIMPORT), vmem_xalloc() with random alignment,
 * phase, no-cross boundary and address window, direct allocations from the
 * middle and top arenas, vmem_xalloc_addr() at random addresses of the top
 * arena, quantum-cache reaps, size queries and walks.  Imports and
 * releases thus flow up and down the chain, and quantum-cache magazines
 * move between CPUs (CPU hotplug returns a dead CPU's to the depot).
 *
 * A global shadow (a maple tree of every range a worker holds, in any of
 * the arenas) proves that no range is handed out twice: all the ranges
 * held by consumers of a chain are pairwise disjoint.  Every allocation is
 * also checked against its constraints and against the arena's spans.  At
 * the end everything is freed, the caches reaped, and every arena must be
 * empty (vmem_size(VMEM_ALLOC) 0, the children's imported spans released)
 * with no misuse report before it is destroyed.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/log2.h>
#include <linux/maple_tree.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <kprim/vmem.h>
#include <kprim/vmem_impl.h>

#include "torture.h"

#define TVM_BASE	0x100000000UL
#define TVM_SPAN	0x10000000UL	/* 256 MiB per top span */
#define TVM_TOP_Q	0x1000UL
#define TVM_LEAF_Q	0x10UL
#define TVM_LEAF_QMAX	(16 * TVM_LEAF_Q)
#define TVM_MID_QMAX	(4 * TVM_TOP_Q)
#define TVM_MAXHELD	192

enum { TVM_TOP, TVM_MID, TVM_LEAF, TVM_NARENA };
static const char *const tvm_names[TVM_NARENA] = {
	TORTURE_PREFIX "_vmem_top",
	TORTURE_PREFIX "_vmem_mid",
	TORTURE_PREFIX "_vmem_leaf",
};

struct tvm_alloc {
	vmem_addr_t addr;
	vmem_size_t size;	/* as passed to the allocator */
	u8 arena;
	bool xalloc;		/* free with vmem_xfree() */
};

struct tvm_worker {
	struct tvm_alloc held[TVM_MAXHELD];
	int nheld;
};

/* A request, for the constraint checks. */
struct tvm_req {
	vmem_size_t size, align, phase, nocross;
	vmem_addr_t minaddr, maxaddr;
};

static struct {
	vmem_t *arena[TVM_NARENA];
	struct maple_tree shadow;
	bool shadow_init;
	struct tvm_worker *workers;
	int nworkers;
	long misuse_before;
	unsigned long nimport[TVM_NARENA], nrelease[TVM_NARENA];
} tvm;

static struct {
	atomic_long_t alloc, qalloc, xalloc, xalloc_addr, mid, top, frees;
	atomic_long_t enomem, nosleep, reaps, queries, shadow_nomem;
	atomic_long_t offline_checks, offline_rounds;
} tvm_stats;

static vmem_size_t tvm_quantum(int a)
{
	return a == TVM_LEAF ? TVM_LEAF_Q : TVM_TOP_Q;
}

/* Check a fresh allocation and record it in the shadow; false to drop it. */
static bool tvm_record(struct torture_thread *th, int a, vmem_addr_t addr,
		       const struct tvm_req *r, const char *fn)
{
	vmem_size_t q = tvm_quantum(a);
	vmem_size_t rsize = ALIGN(r->size, q);
	vmem_addr_t last = addr + rsize - 1;
	void *entry = xa_mk_value(a);
	int err;

	if ((addr & (q - 1)) || last < addr ||
	    (addr & (r->align - 1)) != r->phase ||
	    (r->nocross && ((addr ^ last) & ~(r->nocross - 1))) ||
	    addr < r->minaddr || last > r->maxaddr)
		torture_error(th->t,
			      "%s(%s, size %#zx align %#zx phase %#zx nocross %#zx [%#lx, %#lx]) = %#lx",
			      fn, tvm_names[a], (size_t)r->size, (size_t)r->align,
			      (size_t)r->phase, (size_t)r->nocross,
			      (unsigned long)r->minaddr, (unsigned long)r->maxaddr,
			      (unsigned long)addr);
	if (!vmem_contains(tvm.arena[a], addr, rsize))
		torture_error(th->t, "%s(%s) returned [%#lx, +%#zx) outside its spans",
			      fn, tvm_names[a], (unsigned long)addr, (size_t)rsize);
	/* A range held from a parent can never lie in a child's span. */
	if (a != TVM_LEAF && vmem_contains(tvm.arena[a + 1], addr, 1))
		torture_error(th->t, "%s(%s) returned %#lx, inside a span of %s",
			      fn, tvm_names[a], (unsigned long)addr, tvm_names[a + 1]);

	err = mtree_insert_range(&tvm.shadow, addr, last, entry, GFP_KERNEL);
	if (err == -EEXIST) {
		torture_error(th->t,
			      "%s(%s) handed out [%#lx, %#lx], overlapping a range already held",
			      fn, tvm_names[a], (unsigned long)addr, (unsigned long)last);
		return false;
	}
	if (err) {
		atomic_long_inc(&tvm_stats.shadow_nomem);
		return false;
	}
	return true;
}

static void tvm_release(struct torture *t, const struct tvm_alloc *h)
{
	void *entry = mtree_erase(&tvm.shadow, h->addr);

	if (entry != xa_mk_value(h->arena))
		torture_error(t, "shadow lost [%#lx, +%#zx) of %s",
			      (unsigned long)h->addr, (size_t)h->size,
			      tvm_names[h->arena]);
	if (h->xalloc)
		vmem_xfree(tvm.arena[h->arena], h->addr, h->size);
	else
		vmem_free(tvm.arena[h->arena], h->addr, h->size);
	atomic_long_inc(&tvm_stats.frees);
}

static void tvm_keep(struct torture_thread *th, struct tvm_worker *w, int a,
		     vmem_addr_t addr, const struct tvm_req *r, bool xalloc,
		     const char *fn)
{
	struct tvm_alloc h = {
		.addr = addr, .size = r->size, .arena = a, .xalloc = xalloc,
	};

	if (!tvm_record(th, a, addr, r, fn)) {
		/* Not in the shadow: give it back without erasing. */
		if (xalloc)
			vmem_xfree(tvm.arena[a], addr, r->size);
		else
			vmem_free(tvm.arena[a], addr, r->size);
		return;
	}
	w->held[w->nheld++] = h;
}

static vm_flag_t tvm_fit(struct torture_thread *th)
{
	static const vm_flag_t fits[] = { VM_INSTANTFIT, VM_BESTFIT, VM_NEXTFIT, 0 };

	return fits[torture_random_n(th, ARRAY_SIZE(fits))];
}

static void tvm_req_plain(struct tvm_req *r, int a, vmem_size_t size)
{
	*r = (struct tvm_req){
		.size = size, .align = tvm_quantum(a),
		.minaddr = VMEM_ADDR_MIN, .maxaddr = VMEM_ADDR_MAX,
	};
}

/* vmem_alloc() from @a, sometimes VM_NOSLEEP with preemption disabled. */
static void tvm_op_alloc(struct torture_thread *th, struct tvm_worker *w, int a,
			 vmem_size_t size)
{
	vm_flag_t flags = tvm_fit(th);
	bool atomic = torture_chance(th, 20);
	struct tvm_req r;
	vmem_addr_t addr;
	int err;

	if (torture_chance(th, 10))
		flags |= VM_LARGEIMPORT;
	tvm_req_plain(&r, a, size);
	if (atomic) {
		atomic_long_inc(&tvm_stats.nosleep);
		preempt_disable();
		err = vmem_alloc(tvm.arena[a], size, flags | VM_NOSLEEP, &addr);
		preempt_enable();
	} else {
		err = vmem_alloc(tvm.arena[a], size,
				 flags | (torture_chance(th, 20) ? VM_NOSLEEP : VM_SLEEP),
				 &addr);
	}
	if (err) {
		if (err != ENOMEM)
			torture_error(th->t, "vmem_alloc(%s, %#zx, %#x) = %d",
				      tvm_names[a], (size_t)size, flags, err);
		atomic_long_inc(&tvm_stats.enomem);
		return;
	}
	tvm_keep(th, w, a, addr, &r, false, "vmem_alloc");
}

/* A random constrained request that vmem_xalloc() must accept. */
static void tvm_req_random(struct torture_thread *th, struct tvm_req *r, int a,
			   vmem_size_t maxsize)
{
	vmem_size_t q = tvm_quantum(a), rsize, window;

	r->size = 1 + torture_random_n(th, maxsize);
	rsize = ALIGN(r->size, q);
	r->align = torture_chance(th, 30) ? q : q << torture_random_n(th, 9);
	r->phase = r->align > q ? q * torture_random_n(th, r->align / q) : 0;
	r->nocross = 0;
	if (torture_chance(th, 30))
		r->nocross = roundup_pow_of_two(r->phase + rsize) <<
			     torture_random_n(th, 3);
	r->minaddr = VMEM_ADDR_MIN;
	r->maxaddr = VMEM_ADDR_MAX;
	if (torture_chance(th, 30)) {
		window = (vmem_size_t)(1 + torture_random_n(th, 64)) << 20;
		r->minaddr = TVM_BASE + q * torture_random_n(th, 3 * TVM_SPAN / q);
		r->maxaddr = r->minaddr + window - 1;
	}
}

static void tvm_op_xalloc(struct torture_thread *th, struct tvm_worker *w, int a,
			  vmem_size_t maxsize)
{
	vm_flag_t flags = tvm_fit(th);
	struct tvm_req r;
	vmem_addr_t addr;
	int err;

	tvm_req_random(th, &r, a, maxsize);
	/*
	 * A constrained VM_SLEEP request waits, after its one import, until
	 * a range that fits is freed, possibly for ever once the workers
	 * stop: only unconstrained ones may sleep, so the run always ends.
	 */
	if (r.align == tvm_quantum(a) && !r.nocross &&
	    r.minaddr == VMEM_ADDR_MIN && torture_chance(th, 70))
		flags |= VM_SLEEP;
	else
		flags |= VM_NOSLEEP;
	err = vmem_xalloc(tvm.arena[a], r.size, r.align, r.phase, r.nocross,
			  r.minaddr, r.maxaddr, flags, &addr);
	if (err) {
		if (err != ENOMEM)
			torture_error(th->t, "vmem_xalloc(%s, %#zx, %#zx, %#zx, %#zx) = %d",
				      tvm_names[a], (size_t)r.size, (size_t)r.align,
				      (size_t)r.phase, (size_t)r.nocross, err);
		atomic_long_inc(&tvm_stats.enomem);
		return;
	}
	atomic_long_inc(&tvm_stats.xalloc);
	tvm_keep(th, w, a, addr, &r, true, "vmem_xalloc");
}

static void tvm_op_xalloc_addr(struct torture_thread *th, struct tvm_worker *w)
{
	vmem_addr_t addr = TVM_BASE + 2 * TVM_SPAN +
			   TVM_TOP_Q * torture_random_n(th, TVM_SPAN / TVM_TOP_Q - 16);
	struct tvm_req r;

	tvm_req_plain(&r, TVM_TOP, TVM_TOP_Q * (1 + torture_random_n(th, 16)));
	if (vmem_xalloc_addr(tvm.arena[TVM_TOP], addr, r.size, VM_NOSLEEP)) {
		atomic_long_inc(&tvm_stats.enomem);
		return;
	}
	atomic_long_inc(&tvm_stats.xalloc_addr);
	r.minaddr = addr;
	r.maxaddr = addr + r.size - 1;
	tvm_keep(th, w, TVM_TOP, addr, &r, true, "vmem_xalloc_addr");
}

static void tvm_count_seg(void *arg, vmem_addr_t start, vmem_size_t size)
{
	(*(unsigned long *)arg)++;
}

static void tvm_op_query(struct torture_thread *th)
{
	vmem_t *vm = tvm.arena[torture_random_n(th, TVM_NARENA)];
	vmem_size_t inuse, free, total, maxfree;
	unsigned long nseg = 0;

	inuse = vmem_size(vm, VMEM_ALLOC);
	free = vmem_size(vm, VMEM_FREE);
	total = vmem_size(vm, VMEM_ALLOC | VMEM_FREE);
	maxfree = vmem_size(vm, VMEM_MAXFREE);
	vmem_walk(vm, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, tvm_count_seg, &nseg);
	/* Racy against the other workers, but never beyond the total. */
	if (inuse > total || free > total || maxfree > total)
		torture_error(th->t, "%s: vmem_size: inuse %#zx free %#zx maxfree %#zx total %#zx",
			      vm->vm_name, (size_t)inuse, (size_t)free,
			      (size_t)maxfree, (size_t)total);
	atomic_long_inc(&tvm_stats.queries);
}

static void tvm_op(struct torture_thread *th, struct tvm_worker *w)
{
	u32 r = torture_random_n(th, 100);
	int i;

	if (w->nheld >= TVM_MAXHELD || (w->nheld && r < 38)) {
		i = torture_random_n(th, w->nheld);
		tvm_release(th->t, &w->held[i]);
		w->held[i] = w->held[--w->nheld];
	} else if (r < 58) {
		atomic_long_inc(&tvm_stats.qalloc);
		tvm_op_alloc(th, w, TVM_LEAF, 1 + torture_random_n(th, TVM_LEAF_QMAX));
	} else if (r < 68) {
		atomic_long_inc(&tvm_stats.alloc);
		tvm_op_alloc(th, w, TVM_LEAF, TVM_LEAF_QMAX + 1 +
			     torture_random_n(th, 16 * TVM_TOP_Q));
	} else if (r < 80) {
		tvm_op_xalloc(th, w, TVM_LEAF, 4 * TVM_TOP_Q);
	} else if (r < 87) {
		atomic_long_inc(&tvm_stats.mid);
		if (torture_chance(th, 50))
			tvm_op_alloc(th, w, TVM_MID, 1 + torture_random_n(th, 8 * TVM_TOP_Q));
		else
			tvm_op_xalloc(th, w, TVM_MID, 8 * TVM_TOP_Q);
	} else if (r < 92) {
		atomic_long_inc(&tvm_stats.top);
		if (torture_chance(th, 50))
			tvm_op_alloc(th, w, TVM_TOP, 1 + torture_random_n(th, 32 * TVM_TOP_Q));
		else
			tvm_op_xalloc(th, w, TVM_TOP, 32 * TVM_TOP_Q);
	} else if (r < 95) {
		tvm_op_xalloc_addr(th, w);
	} else if (r < 96) {
		vmem_qcache_reap(tvm.arena[torture_chance(th, 50) ? TVM_LEAF : TVM_MID]);
		atomic_long_inc(&tvm_stats.reaps);
	} else {
		tvm_op_query(th);
	}
}

static int tvm_worker_fn(void *arg)
{
	struct torture_thread *th = arg;
	struct tvm_worker *w = th->priv;
	unsigned long i = 0;

	while (!torture_must_stop()) {
		tvm_op(th, w);
		atomic_long_inc(&th->t->ops);
		if (!(++i & 15))
			cond_resched();
	}
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Setup and final checks                                                 */
/* ---------------------------------------------------------------------- */

static int tvm_start(struct torture *t)
{
	int i, ret;

	tvm.misuse_before = vmem_misuse_count(NULL);
	mt_init(&tvm.shadow);
	tvm.shadow_init = true;
	tvm.arena[TVM_TOP] = vmem_create(tvm_names[TVM_TOP], TVM_BASE, TVM_SPAN,
					 TVM_TOP_Q, NULL, NULL, NULL, 0,
					 VM_SLEEP, IPL_NONE);
	if (!tvm.arena[TVM_TOP])
		return -ENOMEM;
	ret = vmem_add(tvm.arena[TVM_TOP], TVM_BASE + 2 * TVM_SPAN, TVM_SPAN,
		       VM_SLEEP);
	if (ret)
		return -ret;
	tvm.arena[TVM_MID] = vmem_create(tvm_names[TVM_MID], 0, 0, TVM_TOP_Q,
					 vmem_alloc, vmem_free, tvm.arena[TVM_TOP],
					 TVM_MID_QMAX, VM_SLEEP, IPL_NONE);
	if (!tvm.arena[TVM_MID])
		return -ENOMEM;
	tvm.arena[TVM_LEAF] = vmem_create(tvm_names[TVM_LEAF], 0, 0, TVM_LEAF_Q,
					  vmem_alloc, vmem_free, tvm.arena[TVM_MID],
					  TVM_LEAF_QMAX, VM_SLEEP, IPL_NONE);
	if (!tvm.arena[TVM_LEAF])
		return -ENOMEM;

	tvm.nworkers = torture_nthreads_used;
	tvm.workers = kvcalloc(tvm.nworkers, sizeof(*tvm.workers), GFP_KERNEL);
	if (!tvm.workers)
		return -ENOMEM;
	for (i = 0; i < tvm.nworkers; i++) {
		ret = torture_start_thread(t, tvm_worker_fn, &tvm.workers[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void tvm_finish(struct torture *t)
{
	vmem_size_t inuse, total;
	long misuse;
	int i, a;

	for (i = 0; tvm.workers && i < tvm.nworkers; i++) {
		struct tvm_worker *w = &tvm.workers[i];

		while (w->nheld)
			tvm_release(t, &w->held[--w->nheld]);
	}
	if (tvm.shadow_init && !mtree_empty(&tvm.shadow))
		torture_error(t, "shadow not empty after every range was freed");

	/* Leaf first: its spans go back to mid's caches, mid's to top. */
	for (a = TVM_NARENA - 1; a >= 0; a--) {
		vmem_t *vm = tvm.arena[a];

		if (!vm)
			continue;
		vmem_qcache_reap(vm);
		inuse = vmem_size(vm, VMEM_ALLOC);
		total = vmem_size(vm, VMEM_ALLOC | VMEM_FREE);
		if (inuse)
			torture_error(t, "%s: %#zx still allocated after everything was freed",
				      tvm_names[a], (size_t)inuse);
		if (a != TVM_TOP && total)
			torture_error(t, "%s: %#zx of imported spans not released",
				      tvm_names[a], (size_t)total);
		tvm.nimport[a] = READ_ONCE(vm->vm_nimport);
		tvm.nrelease[a] = READ_ONCE(vm->vm_nrelease);
		if (tvm.nimport[a] != tvm.nrelease[a])
			torture_error(t, "%s: %lu imports but %lu releases",
				      tvm_names[a], tvm.nimport[a], tvm.nrelease[a]);
		misuse = vmem_misuse_count(vm);
		if (misuse)
			torture_error(t, "%s: %ld misuse reports", tvm_names[a], misuse);
	}
	for (a = TVM_NARENA - 1; a >= 0; a--) {
		if (tvm.arena[a])
			vmem_destroy(tvm.arena[a]);
		tvm.arena[a] = NULL;
	}
	/* vmem_destroy() of an arena with live allocations is a misuse. */
	misuse = vmem_misuse_count(NULL) - tvm.misuse_before;
	if (misuse)
		torture_error(t, "%ld vmem misuse reports in all", misuse);
	if (tvm.shadow_init)
		mtree_destroy(&tvm.shadow);
	tvm.shadow_init = false;
	kvfree(tvm.workers);
	tvm.workers = NULL;
}

/*
 * CPU @cpu just went offline: its quantum-cache magazines must have gone
 * to the depot.  Counted, not an error: a task preempted between picking
 * this CPU's cache and locking it, then migrated by the unplug, may still
 * push a round there afterwards (vmem.c explains why that loses nothing).
 */
static void tvm_cpu_offline(struct torture *t, int cpu)
{
	struct vmem_qcache_cpu *cc;
	unsigned long irqflags, n;
	unsigned int i;
	int a;

	for (a = TVM_MID; a <= TVM_LEAF; a++) {
		vmem_t *vm = tvm.arena[a];

		if (!vm)
			continue;
		for (i = 0; i < vm->vm_nqcache; i++) {
			cc = per_cpu_ptr(vm->vm_qcache[i].cpu, cpu);
			n = 0;
			spin_lock_irqsave(&cc->lock, irqflags);
			if (cc->loaded)
				n += cc->loaded->nrounds;
			if (cc->prev)
				n += cc->prev->nrounds;
			spin_unlock_irqrestore(&cc->lock, irqflags);
			if (n)
				pr_info("vmem: %lu rounds of %s cache %u on offline CPU %d\n",
					n, tvm_names[a], i, cpu);
			atomic_long_add(n, &tvm_stats.offline_rounds);
		}
	}
	atomic_long_inc(&tvm_stats.offline_checks);
}

static void tvm_summary(struct torture *t, struct seq_buf *s)
{
	seq_buf_printf(s,
		       " qcache_alloc=%ld alloc=%ld xalloc=%ld xalloc_addr=%ld mid=%ld top=%ld free=%ld enomem=%ld",
		       atomic_long_read(&tvm_stats.qalloc),
		       atomic_long_read(&tvm_stats.alloc),
		       atomic_long_read(&tvm_stats.xalloc),
		       atomic_long_read(&tvm_stats.xalloc_addr),
		       atomic_long_read(&tvm_stats.mid),
		       atomic_long_read(&tvm_stats.top),
		       atomic_long_read(&tvm_stats.frees),
		       atomic_long_read(&tvm_stats.enomem));
	seq_buf_printf(s, " nosleep=%ld reaps=%ld queries=%ld shadow_nomem=%ld",
		       atomic_long_read(&tvm_stats.nosleep),
		       atomic_long_read(&tvm_stats.reaps),
		       atomic_long_read(&tvm_stats.queries),
		       atomic_long_read(&tvm_stats.shadow_nomem));
	seq_buf_printf(s, " mid_imports=%lu leaf_imports=%lu", tvm.nimport[TVM_MID],
		       tvm.nimport[TVM_LEAF]);
	seq_buf_printf(s, " offline_cpu_checks=%ld offline_cpu_rounds=%ld",
		       atomic_long_read(&tvm_stats.offline_checks),
		       atomic_long_read(&tvm_stats.offline_rounds));
}

struct torture torture_vmem = {
	.name = "vmem",
	.start = tvm_start,
	.finish = tvm_finish,
	.summary = tvm_summary,
	.cpu_offline = tvm_cpu_offline,
};
