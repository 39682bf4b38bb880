// SPDX-License-Identifier: GPL-2.0
/*
 * kprim vmem: a port of NetBSD's vmem(9) resource allocator (after
 * Bonwick & Adams, "Magazines and Vmem", USENIX 2001).
 *
 * Theory of operation
 * ===================
 *
 * An arena manages a set of integer ranges ("resources": addresses, IDs,
 * device offsets).  vmem never reads or writes the resources themselves; all
 * bookkeeping lives in boundary tags allocated from a kmem_cache.
 *
 * Spans and segments.  The arena is the union of spans.  A span is either
 * static (given to vmem_create()/vmem_add()) or imported (obtained from the
 * arena's import function or source arena, and released back when it is
 * wholly free again).  Each span is covered by a sequence of segments, free
 * or busy.  Every span and segment has a boundary tag; all tags sit on one
 * list (vm_seglist) in address order, each span tag immediately before its
 * segments, so the neighbours of a segment are found in O(1) and freeing
 * coalesces with free neighbours without ever crossing a span boundary.
 * Spans are also in an rbtree keyed by address (vm_spans), so adding or
 * importing a span, checking it for overlap and vmem_contains() cost
 * O(log spans) even when a child arena imports many small spans.
 *
 * Freelists.  A free segment of n quanta sits on freelist floor(log2(n)),
 * so list k holds sizes [2^k, 2^(k+1)) quanta.  A bitmap (vm_freemap) says
 * which lists are non-empty.  Instant fit rounds the request up to the next
 * power of two and takes the head of the first non-empty list at or above
 * it: every segment there is big enough, so an unconstrained allocation is
 * O(1) however many segments the arena has.  Best fit scans the lists from
 * floor(log2(n)) up and takes the smallest segment that fits in the first
 * list holding one.  Next fit (illumos' rotor) walks segments in address
 * order from where the previous next-fit allocation ended, which suits
 * identifier allocation that should not reuse IDs at once.  A constrained
 * request (alignment, phase, no-cross boundary, address window) that instant
 * fit cannot place is retried with best fit, since list heads may not
 * satisfy the constraints while other entries do.
 *
 * Busy hash.  Busy segments are hashed by start address so vmem_xfree()
 * finds its tag in O(1).  The table is sized to the number of busy segments
 * (grown above 2 per bucket, shrunk below 1/4) and resized outside the arena
 * lock: inline with GFP_KERNEL for VM_SLEEP callers, otherwise from a work
 * item.  The table is swapped under the lock.
 *
 * Tags and context.  An allocation needs at most two new tags (a free
 * remainder before and after the busy segment), an import two more (span
 * and free segment).  Each arena keeps a reserve of tags that is topped up
 * outside the lock (GFP_KERNEL for VM_SLEEP, GFP_NOWAIT otherwise), so the
 * locked section never allocates, and a VM_NOSLEEP allocation in hard-IRQ
 * context normally finds its tags already reserved.  The arena's IPL picks
 * the lock flavour (see <kprim/ipl.h>) and which contexts may call in.
 *
 * Import and release.  When nothing fits, the arena imports a span from its
 * import function (called without the lock), or from its source arena when
 * the import function is vmem_alloc().  Constrained requests import too
 * (once per call), with slack for the alignment and no-cross boundary, and
 * are retried against the new span; a new span that still cannot hold the
 * request is given back at once, and so is the new span of a request that
 * then fails for want of boundary tags.  Freeing the last busy segment of
 * an imported span removes the span and releases it (again without the
 * lock).
 *
 * Waiting.  VM_SLEEP requests that cannot be satisfied sleep on a waitqueue
 * until a free, add or import changes vm_freegen (with a periodic re-poll,
 * since the source arena's frees do not wake us), provided the request could
 * ever fit in the arena's spans or an import function exists; a request
 * that can never fit fails with ENOMEM instead of sleeping forever.
 *
 * Quantum caches.  Sizes up to qcache_max (at most 16 quanta) are served by
 * per-CPU magazines of addresses (Bonwick's magazine layer), not by a
 * kmem_cache: a slab would store its freelist in the free objects, which is
 * impossible for integers.  Each CPU has a loaded and a previous magazine
 * under a per-CPU lock; a depot per size holds full and empty magazines
 * shared by all CPUs.  Allocation pops from the loaded magazine, swaps with
 * the previous one, or exchanges an empty magazine for a full one at the
 * depot; only when all fail does it allocate from the arena (one segment of
 * the cache's size).  Frees mirror this.  The fast path never takes the
 * arena lock.  A periodic work item trims the depot by the number of
 * magazines that stayed unused during the last interval, and an allocation
 * that fails purges all caches before it gives up.  When a CPU goes
 * offline, a CPU-hotplug callback moves its two magazines to the depot so
 * the other CPUs can use their rounds (a magazine holding any round counts
 * as full there; allocation pops whatever it holds).
 *
 * Misuse.  Consumer errors (freeing what is not allocated, a wrong size,
 * destroying a busy arena, bad flags or constraints, overlapping spans) are
 * reported with KPRIM_MISUSE(), counted per arena and globally, and the
 * request is refused, so the arena stays consistent.  A double free through
 * the quantum cache is caught when the address is still in the freeing
 * CPU's magazines, or when the magazines are returned to the arena.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#define KPRIM_VMEM_INTERNAL
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/hash.h>
#include <linux/interrupt.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <kprim/vmem.h>
#include <kprim/vmem_impl.h>

#include "kprim_internal.h"

#define VMEM_BT_RESERVE		8	/* refill the tag reserve to this */
#define VMEM_BT_RESERVE_MAX	32	/* free tags above this */
#define VMEM_HASH_MINBITS	ilog2(VMEM_HASH_INITIAL)
#define VMEM_HASH_MAXBITS	22
#define VMEM_IMPORT_TRIES	4
#define VMEM_SLEEP_REPOLL	HZ
#define VMEM_TRIM_INTERVAL	(5 * HZ)

#define VMEM_CROSS(a1, a2, b)	((((a1) ^ (a2)) & -(b)) != 0)

static struct kmem_cache *vmem_btag_cache;
static LIST_HEAD(vmem_list);
static DEFINE_MUTEX(vmem_list_lock);	/* vmem_list, debugfs, ids */
static unsigned long vmem_next_id;
static struct dentry *vmem_debugfs_root;
static atomic_long_t vmem_misuse_total = ATOMIC_LONG_INIT(0);
static struct lock_class_key vmem_lock_keys[3];
static int vmem_cpuhp_state = -1;
static void vmem_trim_workfn(struct work_struct *work);
static DECLARE_DELAYED_WORK(vmem_trim_work, vmem_trim_workfn);

/* Report a consumer's misuse of @vm (counted in the arena and globally). */
#define VMEM_MISUSE(vm, fmt, ...)					\
	({								\
		vmem_t *__vm = (vm);					\
									\
		atomic_long_inc(&__vm->vm_misuse);			\
		KPRIM_MISUSE(&vmem_misuse_total, "vmem %s: " fmt,	\
			     __vm->vm_name, ##__VA_ARGS__);		\
	})
#define VMEM_MISUSE_GLOBAL(fmt, ...)					\
	KPRIM_MISUSE(&vmem_misuse_total, "vmem: " fmt, ##__VA_ARGS__)

/* ---------------------------------------------------------------------- */
/* Locking */

static unsigned long vmem_lock(vmem_t *vm)
	__acquires(&vm->vm_lock)
{
	unsigned long irqflags = 0;

	if (kprim_ipl_is_hard(vm->vm_ipl))
		spin_lock_irqsave(&vm->vm_lock, irqflags);
	else if (kprim_ipl_is_soft(vm->vm_ipl))
		spin_lock_bh(&vm->vm_lock);
	else
		spin_lock(&vm->vm_lock);
	return irqflags;
}

static void vmem_unlock(vmem_t *vm, unsigned long irqflags)
	__releases(&vm->vm_lock)
{
	if (kprim_ipl_is_hard(vm->vm_ipl))
		spin_unlock_irqrestore(&vm->vm_lock, irqflags);
	else if (kprim_ipl_is_soft(vm->vm_ipl))
		spin_unlock_bh(&vm->vm_lock);
	else
		spin_unlock(&vm->vm_lock);
}

/* May the current context use @vm, given the IPL it was created with? */
static bool vmem_context_ok(const vmem_t *vm)
{
	if (in_nmi())
		return false;
	if (kprim_ipl_is_hard(vm->vm_ipl))
		return true;
	if (kprim_ipl_is_soft(vm->vm_ipl))
		return !in_hardirq();
	return in_task();
}

/*
 * Check the flags and the calling context of an allocation.  Exactly one of
 * VM_SLEEP and VM_NOSLEEP, at most one fit strategy.
 */
static bool vmem_alloc_flags_ok(vmem_t *vm, vm_flag_t flags, const char *fn)
{
	vm_flag_t sleep = flags & (VM_SLEEP | VM_NOSLEEP);
	vm_flag_t fit = flags & VM_FITMASK;

	if (sleep != VM_SLEEP && sleep != VM_NOSLEEP) {
		VMEM_MISUSE(vm, "%s: flags %#x need exactly one of VM_SLEEP, VM_NOSLEEP",
			    fn, flags);
		return false;
	}
	if (fit & (fit - 1)) {
		VMEM_MISUSE(vm, "%s: flags %#x have more than one fit strategy",
			    fn, flags);
		return false;
	}
	if (!vmem_context_ok(vm)) {
		VMEM_MISUSE(vm, "%s: called from a context IPL %d does not allow",
			    fn, vm->vm_ipl);
		return false;
	}
	if ((flags & VM_SLEEP) && (!in_task() || irqs_disabled())) {
		VMEM_MISUSE(vm, "%s: VM_SLEEP from atomic context", fn);
		return false;
	}
	if (flags & VM_SLEEP)
		might_sleep();
	return true;
}

/* Refuse (as misuse) a call from a context the arena's IPL does not allow. */
static bool vmem_caller_ok(vmem_t *vm, const char *fn)
{
	if (vmem_context_ok(vm))
		return true;
	VMEM_MISUSE(vm, "%s: called from a context IPL %d does not allow",
		    fn, vm->vm_ipl);
	return false;
}

static vm_flag_t vmem_strategy(vm_flag_t flags)
{
	vm_flag_t fit = flags & VM_FITMASK;

	return fit ? fit : VM_INSTANTFIT;
}

/*
 * Internally vmem uses negative kernel errnos; the vmem(9) API returns
 * NetBSD's positive ones.
 */
static inline int vmem_errno(int err)
{
	return -err;
}

static gfp_t vmem_gfp(vm_flag_t flags)
{
	return (flags & VM_SLEEP) ? GFP_KERNEL : GFP_NOWAIT | __GFP_NOWARN;
}

/* ---------------------------------------------------------------------- */
/* Boundary tags */

static inline vmem_addr_t bt_end(const struct vmem_btag *bt)
{
	return bt->start + bt->size - 1;
}

/* Top up the tag reserve to VMEM_BT_RESERVE; returns how many were added. */
static unsigned int vmem_bt_refill(vmem_t *vm, vm_flag_t flags)
{
	unsigned int have = READ_ONCE(vm->vm_nbtreserve), got = 0;
	unsigned long irqflags;
	struct vmem_btag *bt;
	LIST_HEAD(list);

	while (have + got < VMEM_BT_RESERVE) {
		bt = kmem_cache_alloc(vmem_btag_cache, vmem_gfp(flags));
		if (!bt)
			break;
		list_add(&bt->seglist, &list);
		got++;
	}
	if (got) {
		irqflags = vmem_lock(vm);
		list_splice(&list, &vm->vm_btreserve);
		vm->vm_nbtreserve += got;
		vmem_unlock(vm, irqflags);
	}
	return got;
}

/*
 * Take the arena lock and try to have at least @n tags in the reserve.
 * Always returns with the lock held: 0, or -ENOMEM if the reserve is short
 * and no tag could be allocated.
 */
static int vmem_lock_reserve(vmem_t *vm, unsigned int n, vm_flag_t flags,
			     unsigned long *irqflags)
	__acquires(&vm->vm_lock)
{
	for (;;) {
		*irqflags = vmem_lock(vm);
		if (vm->vm_nbtreserve >= n)
			return 0;
		vmem_unlock(vm, *irqflags);
		if (!vmem_bt_refill(vm, flags)) {
			*irqflags = vmem_lock(vm);
			return -ENOMEM;
		}
	}
}

static struct vmem_btag *vmem_bt_get(vmem_t *vm)
	__must_hold(&vm->vm_lock)
{
	struct vmem_btag *bt;

	lockdep_assert_held(&vm->vm_lock);
	bt = list_first_entry(&vm->vm_btreserve, struct vmem_btag, seglist);
	list_del(&bt->seglist);
	vm->vm_nbtreserve--;
	return bt;
}

static void vmem_bt_put(vmem_t *vm, struct vmem_btag *bt)
	__must_hold(&vm->vm_lock)
{
	lockdep_assert_held(&vm->vm_lock);
	list_add(&bt->seglist, &vm->vm_btreserve);
	vm->vm_nbtreserve++;
}

/* Move reserve tags above VMEM_BT_RESERVE_MAX to @out, to free unlocked. */
static void vmem_bt_trim(vmem_t *vm, struct list_head *out)
	__must_hold(&vm->vm_lock)
{
	lockdep_assert_held(&vm->vm_lock);
	while (vm->vm_nbtreserve > VMEM_BT_RESERVE_MAX) {
		list_move(vm->vm_btreserve.next, out);
		vm->vm_nbtreserve--;
	}
}

static void vmem_bt_free_list(struct list_head *list)
{
	struct vmem_btag *bt, *tmp;

	list_for_each_entry_safe(bt, tmp, list, seglist)
		kmem_cache_free(vmem_btag_cache, bt);
}

/* ---------------------------------------------------------------------- */
/* Freelists and the busy hash */

static unsigned int vmem_order(const vmem_t *vm, vmem_size_t size)
{
	return ilog2(size >> vm->vm_quantum_shift);
}

static void bt_insfree(vmem_t *vm, struct vmem_btag *bt)
	__must_hold(&vm->vm_lock)
{
	unsigned int order = vmem_order(vm, bt->size);

	bt->type = VMEM_BT_FREE;
	list_add(&bt->freelist, &vm->vm_freelist[order]);
	__set_bit(order, &vm->vm_freemap);
}

static void bt_remfree(vmem_t *vm, struct vmem_btag *bt)
	__must_hold(&vm->vm_lock)
{
	unsigned int order = vmem_order(vm, bt->size);

	list_del(&bt->freelist);
	if (list_empty(&vm->vm_freelist[order]))
		__clear_bit(order, &vm->vm_freemap);
}

static struct hlist_head *bt_hashhead(vmem_t *vm, vmem_addr_t addr)
{
	return &vm->vm_hashlist[hash_long(addr >> vm->vm_quantum_shift,
					  vm->vm_hashbits)];
}

static void bt_insbusy(vmem_t *vm, struct vmem_btag *bt)
	__must_hold(&vm->vm_lock)
{
	bt->type = VMEM_BT_BUSY;
	hlist_add_head(&bt->hashlink, bt_hashhead(vm, bt->start));
	vm->vm_nbusy++;
	vm->vm_inuse += bt->size;
}

static void bt_rembusy(vmem_t *vm, struct vmem_btag *bt)
	__must_hold(&vm->vm_lock)
{
	hlist_del(&bt->hashlink);
	vm->vm_nbusy--;
	vm->vm_inuse -= bt->size;
}

static struct vmem_btag *bt_lookupbusy(vmem_t *vm, vmem_addr_t addr)
	__must_hold(&vm->vm_lock)
{
	struct vmem_btag *bt;

	lockdep_assert_held(&vm->vm_lock);
	hlist_for_each_entry(bt, bt_hashhead(vm, addr), hashlink)
		if (bt->start == addr)
			return bt;
	return NULL;
}

/* The hash size the busy count asks for, or 0 if the current one is fine. */
static unsigned int vmem_hash_wanted(const vmem_t *vm)
{
	unsigned long nbusy = READ_ONCE(vm->vm_nbusy);
	unsigned int bits = READ_ONCE(vm->vm_hashbits);
	unsigned long size = 1UL << bits;
	unsigned int want;

	if (nbusy <= 2 * size && (bits == VMEM_HASH_MINBITS || nbusy >= size / 4))
		return 0;
	want = clamp_t(unsigned int, order_base_2(nbusy + 1),
		       VMEM_HASH_MINBITS, VMEM_HASH_MAXBITS);
	return want == bits ? 0 : want;
}

/* Resize the busy hash; the table is allocated and freed unlocked. */
static void vmem_hash_resize(vmem_t *vm, gfp_t gfp)
{
	struct hlist_head *newtab, *oldtab;
	unsigned int bits, oldbits, i;
	struct hlist_node *tmp;
	struct vmem_btag *bt;
	unsigned long irqflags;

	bits = vmem_hash_wanted(vm);
	if (!bits)
		return;
	if (gfp == GFP_KERNEL)
		newtab = kvmalloc_array(1UL << bits, sizeof(*newtab), gfp);
	else
		newtab = kmalloc_array(1UL << bits, sizeof(*newtab), gfp);
	if (!newtab)
		return;
	for (i = 0; i < (1U << bits); i++)
		INIT_HLIST_HEAD(&newtab[i]);

	irqflags = vmem_lock(vm);
	oldtab = vm->vm_hashlist;
	oldbits = vm->vm_hashbits;
	for (i = 0; i < (1U << oldbits); i++) {
		hlist_for_each_entry_safe(bt, tmp, &oldtab[i], hashlink) {
			hlist_del(&bt->hashlink);
			hlist_add_head(&bt->hashlink,
				       &newtab[hash_long(bt->start >> vm->vm_quantum_shift,
							 bits)]);
		}
	}
	vm->vm_hashlist = newtab;
	WRITE_ONCE(vm->vm_hashbits, bits);
	vmem_unlock(vm, irqflags);

	if (oldtab != vm->vm_hash0)
		kvfree(oldtab);
}

static void vmem_hash_workfn(struct work_struct *work)
{
	vmem_t *vm = container_of(work, vmem_t, vm_hash_work);

	vmem_hash_resize(vm, GFP_KERNEL);
}

/* After an operation, unlocked: resize the hash if its load is off. */
static void vmem_hash_check(vmem_t *vm, vm_flag_t flags)
{
	if (!vmem_hash_wanted(vm))
		return;
	if ((flags & VM_SLEEP) && in_task())
		vmem_hash_resize(vm, GFP_KERNEL);
	else
		schedule_work(&vm->vm_hash_work);
}

/* ---------------------------------------------------------------------- */
/* Spans */

static void vmem_wake(vmem_t *vm)
{
	if (wq_has_sleeper(&vm->vm_wait))
		wake_up_all(&vm->vm_wait);
}

static void vmem_progress(vmem_t *vm)
	__must_hold(&vm->vm_lock)
{
	WRITE_ONCE(vm->vm_freegen, vm->vm_freegen + 1);
}

/*
 * Add the span [addr, addr + size - 1] of @type, with one free segment
 * covering it.  Needs two reserved tags.  Returns EEXIST if it overlaps a
 * span of the arena.
 */
static int vmem_add_locked(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
			   enum vmem_bt_type type)
	__must_hold(&vm->vm_lock)
{
	struct rb_node **link = &vm->vm_spans.rb_node, *parent = NULL, *rbnext;
	vmem_addr_t end = addr + size - 1;
	struct vmem_btag *sp, *span, *seg;

	lockdep_assert_held(&vm->vm_lock);
	while (*link) {
		parent = *link;
		sp = rb_entry(parent, struct vmem_btag, spannode);
		if (end < sp->start)
			link = &parent->rb_left;
		else if (addr > bt_end(sp))
			link = &parent->rb_right;
		else
			return -EEXIST;
	}

	span = vmem_bt_get(vm);
	seg = vmem_bt_get(vm);
	span->type = type;
	span->start = addr;
	span->size = size;
	rb_link_node(&span->spannode, parent, link);
	rb_insert_color(&span->spannode, &vm->vm_spans);
	/* In the segment list, just before the next span's tag. */
	rbnext = rb_next(&span->spannode);
	if (rbnext)
		list_add_tail(&span->seglist,
			      &rb_entry(rbnext, struct vmem_btag, spannode)->seglist);
	else
		list_add_tail(&span->seglist, &vm->vm_seglist);
	seg->start = addr;
	seg->size = size;
	list_add(&seg->seglist, &span->seglist);
	bt_insfree(vm, seg);

	vm->vm_total += size;
	if (type == VMEM_BT_SPAN)
		vm->vm_imported += size;
	vmem_progress(vm);
	return 0;
}

/* Is [addr, addr + size) a valid quantum-aligned, non-wrapping range? */
static bool vmem_range_ok(const vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	vmem_size_t qmask = vm->vm_quantum - 1;

	return size && !(addr & qmask) && !(size & qmask) &&
	       addr + (size - 1) >= addr;
}

static int vmem_add_span(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
			 vm_flag_t flags, enum vmem_bt_type type)
{
	unsigned long irqflags;
	int rc;

	if (vmem_lock_reserve(vm, 2, flags, &irqflags)) {
		vmem_unlock(vm, irqflags);
		return -ENOMEM;
	}
	rc = vmem_add_locked(vm, addr, size, type);
	vmem_unlock(vm, irqflags);
	if (rc) {
		VMEM_MISUSE(vm, "span [%#lx, +%#zx) overlaps a span of the arena",
			    (unsigned long)addr, (size_t)size);
		return -EINVAL;
	}
	vmem_wake(vm);
	return 0;
}

static int __vmem_add(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
		      vm_flag_t flags)
{
	if (!vmem_alloc_flags_ok(vm, flags, "vmem_add"))
		return -EINVAL;
	if (!vmem_range_ok(vm, addr, size)) {
		VMEM_MISUSE(vm, "vmem_add: bad span [%#lx, +%#zx), quantum %#zx",
			    (unsigned long)addr, (size_t)size,
			    (size_t)vm->vm_quantum);
		return -EINVAL;
	}
	return vmem_add_span(vm, addr, size, flags, VMEM_BT_SPAN_STATIC);
}

/**
 * vmem_add() - add a static span to an arena
 * @vm: the arena
 * @addr: start of the span, a multiple of the quantum
 * @size: size of the span, a non-zero multiple of the quantum; the span may
 *	end at %VMEM_ADDR_MAX but must not wrap
 * @flags: %VM_SLEEP or %VM_NOSLEEP (for the boundary tags)
 *
 * The span must not overlap any span of the arena.  Static spans are never
 * released.  Sleepers waiting for space are woken.
 *
 * Context: any context the arena's IPL allows; process context with
 * %VM_SLEEP.
 * Return: 0, %ENOMEM when no boundary tag could be allocated, %EINVAL for a
 * misaligned, empty, wrapping or overlapping span (reported as misuse).
 */
int vmem_add(vmem_t *vm, vmem_addr_t addr, vmem_size_t size, vm_flag_t flags)
{
	return vmem_errno(__vmem_add(vm, addr, size, flags));
}
EXPORT_SYMBOL_KPRIM(vmem_add);

/* ---------------------------------------------------------------------- */
/* Allocation */

/*
 * Find the lowest address in the free segment @bt that satisfies the
 * constraints (align is at least the quantum; phase < align; nocross is 0
 * or at least size, and the phase does not cross it).  Overflow-safe up to
 * VMEM_ADDR_MAX.
 */
static bool vmem_fit(vmem_addr_t bstart, vmem_addr_t bend, vmem_size_t size,
		     vmem_size_t align, vmem_size_t phase, vmem_size_t nocross,
		     vmem_addr_t minaddr, vmem_addr_t maxaddr, vmem_addr_t *addrp)
{
	vmem_addr_t start = max(bstart, minaddr);
	vmem_addr_t end = min(bend, maxaddr);
	vmem_addr_t s, b;

	if (start > end)
		return false;
	s = start + ((phase - start) & (align - 1));
	if (s < start)
		return false;
	if (nocross && s + (size - 1) >= s && VMEM_CROSS(s, s + size - 1, nocross)) {
		/* Only possible when nocross > align: go to the next boundary. */
		b = (s | (nocross - 1)) + 1;
		if (!b || b + phase < b)
			return false;
		s = b + phase;
	}
	if (s > end || end - s < size - 1)
		return false;
	*addrp = s;
	return true;
}

struct vmem_req {
	vmem_size_t size;
	vmem_size_t align;
	vmem_size_t phase;
	vmem_size_t nocross;
	vmem_addr_t minaddr;
	vmem_addr_t maxaddr;
	vm_flag_t flags;
};

static bool vmem_req_fit(const struct vmem_req *r, const struct vmem_btag *bt,
			 vmem_addr_t *addrp)
{
	return bt->size >= r->size &&
	       vmem_fit(bt->start, bt_end(bt), r->size, r->align, r->phase,
			r->nocross, r->minaddr, r->maxaddr, addrp);
}

static struct vmem_btag *vmem_find_instant(vmem_t *vm, const struct vmem_req *r,
					   vmem_addr_t *addrp)
	__must_hold(&vm->vm_lock)
{
	vmem_size_t nq = r->size >> vm->vm_quantum_shift;
	unsigned int order = ilog2(nq) + !is_power_of_2(nq);
	struct vmem_btag *bt;

	for (order = find_next_bit(&vm->vm_freemap, VMEM_MAXORDER, order);
	     order < VMEM_MAXORDER;
	     order = find_next_bit(&vm->vm_freemap, VMEM_MAXORDER, order + 1)) {
		bt = list_first_entry(&vm->vm_freelist[order], struct vmem_btag,
				      freelist);
		if (vmem_req_fit(r, bt, addrp))
			return bt;
	}
	return NULL;
}

static struct vmem_btag *vmem_find_best(vmem_t *vm, const struct vmem_req *r,
					vmem_addr_t *addrp)
	__must_hold(&vm->vm_lock)
{
	unsigned int order = vmem_order(vm, r->size);
	struct vmem_btag *bt, *best = NULL;
	vmem_addr_t a;

	for (order = find_next_bit(&vm->vm_freemap, VMEM_MAXORDER, order);
	     order < VMEM_MAXORDER;
	     order = find_next_bit(&vm->vm_freemap, VMEM_MAXORDER, order + 1)) {
		list_for_each_entry(bt, &vm->vm_freelist[order], freelist) {
			if ((!best || bt->size < best->size) &&
			    vmem_req_fit(r, bt, &a)) {
				best = bt;
				*addrp = a;
			}
		}
		if (best)
			return best;
	}
	return NULL;
}

static struct vmem_btag *vmem_find_next(vmem_t *vm, const struct vmem_req *r,
					vmem_addr_t *addrp)
	__must_hold(&vm->vm_lock)
{
	struct vmem_req rr = *r;
	struct vmem_btag *bt;

	/* First pass from the rotor up, second pass from the bottom. */
	rr.minaddr = max(r->minaddr, vm->vm_rotor);
	list_for_each_entry(bt, &vm->vm_seglist, seglist)
		if (bt->type == VMEM_BT_FREE && bt_end(bt) >= rr.minaddr &&
		    vmem_req_fit(&rr, bt, addrp))
			return bt;
	list_for_each_entry(bt, &vm->vm_seglist, seglist)
		if (bt->type == VMEM_BT_FREE && vmem_req_fit(r, bt, addrp))
			return bt;
	return NULL;
}

/* Turn [start, start + size) of the free segment @bt into a busy segment. */
static void vmem_carve(vmem_t *vm, struct vmem_btag *bt, vmem_addr_t start,
		       vmem_size_t size)
	__must_hold(&vm->vm_lock)
{
	struct vmem_btag *front, *tail;

	bt_remfree(vm, bt);
	if (bt->start != start) {
		front = vmem_bt_get(vm);
		front->start = bt->start;
		front->size = start - bt->start;
		bt->start = start;
		bt->size -= front->size;
		list_add_tail(&front->seglist, &bt->seglist);
		bt_insfree(vm, front);
	}
	if (bt->size != size) {
		tail = vmem_bt_get(vm);
		tail->start = start + size;
		tail->size = bt->size - size;
		bt->size = size;
		list_add(&tail->seglist, &bt->seglist);
		bt_insfree(vm, tail);
	}
	bt_insbusy(vm, bt);
}

/* Could @r ever be satisfied by the arena's spans (if all were free)? */
static bool vmem_could_fit(vmem_t *vm, const struct vmem_req *r)
	__must_hold(&vm->vm_lock)
{
	struct vmem_btag *sp;
	vmem_addr_t a;

	struct rb_node *n;

	for (n = rb_first(&vm->vm_spans); n; n = rb_next(n)) {
		sp = rb_entry(n, struct vmem_btag, spannode);
		if (vmem_req_fit(r, sp, &a))
			return true;
	}
	return false;
}

static void vmem_release_span(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	if (vm->vm_releasefn == (vmem_release_t *)vmem_free)
		vmem_free(vm->vm_arg, addr, size);
	else if (vm->vm_releasefn == (vmem_release_t *)vmem_xfree)
		vmem_xfree(vm->vm_arg, addr, size);
	else if (vm->vm_releasefn)
		vm->vm_releasefn(vm->vm_arg, addr, size);
}

/* Import a span of at least @size: 0 (span in *@spanp, *@spansizep), ENOMEM. */
static int vmem_import(vmem_t *vm, vmem_size_t size, vm_flag_t flags,
		       vmem_addr_t *spanp, vmem_size_t *spansizep)
{
	vm_flag_t iflags = (flags & (VM_SLEEP | VM_NOSLEEP)) | VM_INSTANTFIT;
	vmem_size_t actual = 0;
	unsigned long irqflags;
	vmem_addr_t addr = 0;
	int rc;

	if ((flags & VM_LARGEIMPORT) && size <= VMEM_ADDR_MAX / 16)
		size *= 16;
	if (size > VMEM_ADDR_MAX - (vm->vm_quantum - 1))
		return -ENOMEM;
	size = vmem_roundup_size(vm, size);

	if (vm->vm_source) {
		rc = vmem_alloc(vm->vm_source, size, iflags, &addr);
		actual = size;
	} else if (vm->vm_flags & VM_XIMPORT) {
		rc = vm->vm_ximportfn(vm->vm_arg, size, &actual, iflags, &addr);
	} else {
		rc = vm->vm_importfn(vm->vm_arg, size, iflags, &addr);
		actual = size;
	}
	if (rc)
		return -ENOMEM;
	if (actual < size || !vmem_range_ok(vm, addr, actual)) {
		VMEM_MISUSE(vm, "import returned bad span [%#lx, +%#zx) for %#zx",
			    (unsigned long)addr, (size_t)actual, (size_t)size);
		vmem_release_span(vm, addr, actual);
		return -ENOMEM;
	}

	if (vmem_lock_reserve(vm, 2, flags, &irqflags)) {
		vmem_unlock(vm, irqflags);
		vmem_release_span(vm, addr, actual);
		return -ENOMEM;
	}
	rc = vmem_add_locked(vm, addr, actual, VMEM_BT_SPAN);
	if (!rc)
		vm->vm_nimport++;
	vmem_unlock(vm, irqflags);
	if (rc) {
		VMEM_MISUSE(vm, "import returned [%#lx, +%#zx), overlapping the arena",
			    (unsigned long)addr, (size_t)actual);
		vmem_release_span(vm, addr, actual);
		return -ENOMEM;
	}
	vmem_wake(vm);
	*spanp = addr;
	*spansizep = actual;
	return 0;
}

/*
 * Remove the imported span [@addr, @addr + @size) if it is still wholly
 * free (and the arena releases spans); the caller releases it unlocked.
 */
static bool vmem_unimport_locked(vmem_t *vm, vmem_addr_t addr,
				 vmem_size_t size)
	__must_hold(&vm->vm_lock)
{
	struct rb_node *n = vm->vm_spans.rb_node;
	struct vmem_btag *sp = NULL, *seg;

	lockdep_assert_held(&vm->vm_lock);
	while (n) {
		sp = rb_entry(n, struct vmem_btag, spannode);
		if (addr < sp->start)
			n = n->rb_left;
		else if (addr > sp->start)
			n = n->rb_right;
		else
			break;
	}
	if (!n || sp->type != VMEM_BT_SPAN || sp->size != size ||
	    !vm->vm_releasefn)
		return false;
	seg = list_next_entry(sp, seglist);	/* a span has a segment */
	if (seg->type != VMEM_BT_FREE || seg->size != size)
		return false;
	bt_remfree(vm, seg);
	list_del(&seg->seglist);
	list_del(&sp->seglist);
	rb_erase(&sp->spannode, &vm->vm_spans);
	vm->vm_total -= size;
	vm->vm_imported -= size;
	vm->vm_nrelease++;
	vmem_bt_put(vm, seg);
	vmem_bt_put(vm, sp);
	return true;
}

static int vmem_qcache_purge(vmem_t *vm);

/* The allocation engine behind vmem_alloc(), vmem_xalloc() and friends. */
static int vmem_xalloc_internal(vmem_t *vm, const struct vmem_req *r,
				vmem_addr_t *addrp)
{
	vm_flag_t strat = vmem_strategy(r->flags);
	bool constrained = r->align != vm->vm_quantum || r->phase ||
			   r->nocross || r->minaddr != VMEM_ADDR_MIN ||
			   r->maxaddr != VMEM_ADDR_MAX;
	unsigned int nimport = 0;
	bool purged = false, could, unimport = false, imported = false, rel;
	struct vmem_btag *bt;
	unsigned long irqflags, gen;
	vmem_size_t isize, ispan_size = 0;
	vmem_addr_t start = 0, ispan = 0;
	LIST_HEAD(trim);

	for (;;) {
		if (vmem_lock_reserve(vm, 2, r->flags, &irqflags)) {
			/* Give back the span this call imported, if unused. */
			rel = imported && vmem_unimport_locked(vm, ispan, ispan_size);
			vmem_unlock(vm, irqflags);
			if (rel)
				vmem_release_span(vm, ispan, ispan_size);
			break;
		}
		if (strat == VM_NEXTFIT)
			bt = vmem_find_next(vm, r, &start);
		else if (strat == VM_INSTANTFIT)
			bt = vmem_find_instant(vm, r, &start) ?:
			     vmem_find_best(vm, r, &start);
		else
			bt = vmem_find_best(vm, r, &start);
		if (bt) {
			vmem_carve(vm, bt, start, r->size);
			if (strat == VM_NEXTFIT)
				vm->vm_rotor = start + r->size;
			vm->vm_nalloc++;
			vmem_bt_trim(vm, &trim);
			vmem_unlock(vm, irqflags);
			vmem_bt_free_list(&trim);
			vmem_hash_check(vm, r->flags);
			*addrp = start;
			return 0;
		}
		gen = vm->vm_freegen;
		/*
		 * The span this constrained request just imported cannot hold
		 * it: give it back rather than keep it unused.
		 */
		rel = unimport && vmem_unimport_locked(vm, ispan, ispan_size);
		unimport = false;
		imported &= !rel;
		could = vmem_could_fit(vm, r);
		vmem_unlock(vm, irqflags);
		if (rel)
			vmem_release_span(vm, ispan, ispan_size);

		/*
		 * A constrained request imports once per call: a span that
		 * misses its window would otherwise be imported again and
		 * again while the request waits.
		 */
		if (vm->vm_importfn &&
		    nimport < (constrained ? 1 : VMEM_IMPORT_TRIES)) {
			nimport++;
			isize = r->size;
			if (constrained) {
				if (r->align > vm->vm_quantum)
					isize += r->align;
				isize += r->nocross;
			}
			if (isize >= r->size &&
			    vmem_import(vm, isize, r->flags, &ispan,
					&ispan_size) == 0) {
				unimport = constrained;
				imported = true;
				continue;
			}
		}
		if (vm->vm_nqcache && !purged) {
			purged = true;
			if (vmem_qcache_purge(vm))
				continue;
		}
		if (!(r->flags & VM_SLEEP) ||
		    (!could && (!vm->vm_importfn || constrained)))
			break;

		irqflags = vmem_lock(vm);
		vm->vm_nwait++;
		vmem_unlock(vm, irqflags);
		wait_event_idle_timeout(vm->vm_wait,
					READ_ONCE(vm->vm_freegen) != gen,
					VMEM_SLEEP_REPOLL);
		if (!constrained)
			nimport = 0;
		purged = false;
	}

	irqflags = vmem_lock(vm);
	vm->vm_nfail++;
	vmem_unlock(vm, irqflags);
	return -ENOMEM;
}

/**
 * vmem_roundup_size() - round a size up to the arena's quantum
 * @vm: the arena
 * @size: a size
 *
 * Context: any.
 * Return: @size rounded up to a multiple of the quantum (0 if that
 * overflows).
 */
vmem_size_t vmem_roundup_size(vmem_t *vm, vmem_size_t size)
{
	return (size + vm->vm_quantum - 1) & ~(vm->vm_quantum - 1);
}
EXPORT_SYMBOL_KPRIM(vmem_roundup_size);

static int __vmem_xalloc(vmem_t *vm, vmem_size_t size, vmem_size_t align,
			 vmem_size_t phase, vmem_size_t nocross,
			 vmem_addr_t minaddr, vmem_addr_t maxaddr,
			 vm_flag_t flags, vmem_addr_t *addrp)
{
	vmem_size_t qmask = vm->vm_quantum - 1;
	vmem_addr_t discard;
	struct vmem_req r = {
		.size = vmem_roundup_size(vm, size),
		.align = align ? align : vm->vm_quantum,
		.phase = phase,
		.nocross = nocross,
		.minaddr = minaddr,
		.maxaddr = maxaddr,
		.flags = flags,
	};

	if (!vmem_alloc_flags_ok(vm, flags, "vmem_xalloc"))
		return -EINVAL;
	if (!addrp)	/* NetBSD allows it; the range is then leaked */
		addrp = &discard;
	if (!size || !r.size || (r.align & qmask) || !is_power_of_2(r.align) ||
	    (phase & qmask) || phase >= r.align || (nocross & qmask) ||
	    (nocross && (!is_power_of_2(nocross) || nocross < r.size)) ||
	    minaddr > maxaddr ||
	    (nocross && VMEM_CROSS(phase, phase + r.size - 1, nocross))) {
		VMEM_MISUSE(vm, "%s: bad size %#zx align %#zx phase %#zx nocross %#zx [%#lx, %#lx]",
			    "vmem_xalloc", (size_t)size, (size_t)align, (size_t)phase,
			    (size_t)nocross, (unsigned long)minaddr,
			    (unsigned long)maxaddr);
		return -EINVAL;
	}
	return vmem_xalloc_internal(vm, &r, addrp);
}

/**
 * vmem_xalloc() - allocate a constrained range from an arena
 * @vm: the arena
 * @size: size, rounded up to the quantum
 * @align: alignment (a power of two multiple of the quantum), or 0
 * @phase: offset from the alignment (a multiple of the quantum, < @align)
 * @nocross: the range must not cross a multiple of this (a power of two
 *	multiple of the quantum, at least @size), or 0
 * @minaddr: lowest acceptable start address
 * @maxaddr: highest acceptable address of the range (inclusive)
 * @flags: %VM_SLEEP or %VM_NOSLEEP, optionally one of %VM_INSTANTFIT,
 *	%VM_BESTFIT, %VM_NEXTFIT (default instant fit), %VM_LARGEIMPORT
 * @addrp: receives the start of the range
 *
 * Allocates [*@addrp, *@addrp + @size) with *@addrp == @phase modulo @align,
 * not crossing a @nocross boundary, inside [@minaddr, @maxaddr].  Bypasses
 * the quantum caches; free with vmem_xfree().  If nothing fits, a span is
 * imported (with slack for the constraints) and the request retried; then
 * the quantum caches are purged; then a %VM_SLEEP request sleeps until
 * memory is freed, unless it could never fit the arena.
 *
 * Context: process context with %VM_SLEEP; with %VM_NOSLEEP any context
 * the arena's IPL allows (hard IRQ for IPL_VM and above).
 * Return: 0, %ENOMEM, or %EINVAL for invalid arguments (reported as misuse).
 */
int vmem_xalloc(vmem_t *vm, vmem_size_t size, vmem_size_t align,
		vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
		vmem_addr_t maxaddr, vm_flag_t flags, vmem_addr_t *addrp)
{
	return vmem_errno(__vmem_xalloc(vm, size, align, phase, nocross,
					minaddr, maxaddr, flags, addrp));
}
EXPORT_SYMBOL_KPRIM(vmem_xalloc);

/**
 * vmem_xalloc_addr() - allocate a range at a fixed address
 * @vm: the arena
 * @addr: start of the range, a multiple of the quantum
 * @size: size of the range
 * @flags: %VM_SLEEP or %VM_NOSLEEP
 *
 * Allocates exactly [@addr, @addr + @size), importing or (with %VM_SLEEP)
 * waiting if the range lies in the arena's spans but is busy.  Free with
 * vmem_xfree().
 *
 * Context: as vmem_xalloc().
 * Return: 0, %ENOMEM if the range is not free, %EINVAL for a misaligned
 * or wrapping range.
 */
int vmem_xalloc_addr(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
		     vm_flag_t flags)
{
	vmem_addr_t got;
	int rc;

	size = vmem_roundup_size(vm, size);
	if (!vmem_range_ok(vm, addr, size)) {
		VMEM_MISUSE(vm, "%s: bad range [%#lx, +%#zx)", __func__,
			    (unsigned long)addr, (size_t)size);
		return vmem_errno(-EINVAL);
	}
	flags = (flags & ~VM_FITMASK) | VM_BESTFIT;
	rc = __vmem_xalloc(vm, size, 0, 0, 0, addr, addr + size - 1, flags,
			   &got);
	if (!rc && WARN_ON_ONCE(got != addr)) {
		vmem_xfree(vm, got, size);
		rc = -ENOMEM;
	}
	return vmem_errno(rc);
}
EXPORT_SYMBOL_KPRIM(vmem_xalloc_addr);

/* ---------------------------------------------------------------------- */
/* Freeing */

/*
 * Free the busy segment @bt, coalescing with free neighbours.  If that
 * leaves a whole imported span free, the span is removed and returned in
 * *@rel_addr / *@rel_size (size 0 otherwise) for release after unlocking.
 */
static void vmem_free_bt(vmem_t *vm, struct vmem_btag *bt,
			 vmem_addr_t *rel_addr, vmem_size_t *rel_size)
	__must_hold(&vm->vm_lock)
{
	struct vmem_btag *next, *prev;

	lockdep_assert_held(&vm->vm_lock);
	bt_rembusy(vm, bt);
	bt->type = VMEM_BT_FREE;
	vm->vm_nfree++;

	if (!list_is_last(&bt->seglist, &vm->vm_seglist)) {
		next = list_next_entry(bt, seglist);
		if (next->type == VMEM_BT_FREE) {
			bt_remfree(vm, next);
			bt->size += next->size;
			list_del(&next->seglist);
			vmem_bt_put(vm, next);
		}
	}
	prev = list_prev_entry(bt, seglist);
	if (prev->type == VMEM_BT_FREE) {
		bt_remfree(vm, prev);
		bt->start = prev->start;
		bt->size += prev->size;
		list_del(&prev->seglist);
		vmem_bt_put(vm, prev);
		prev = list_prev_entry(bt, seglist);
	}

	*rel_size = 0;
	if (prev->type == VMEM_BT_SPAN && vm->vm_releasefn &&
	    prev->start == bt->start && prev->size == bt->size) {
		*rel_addr = prev->start;
		*rel_size = prev->size;
		vm->vm_total -= prev->size;
		vm->vm_imported -= prev->size;
		vm->vm_nrelease++;
		list_del(&bt->seglist);
		list_del(&prev->seglist);
		rb_erase(&prev->spannode, &vm->vm_spans);
		vmem_bt_put(vm, bt);
		vmem_bt_put(vm, prev);
	} else {
		bt_insfree(vm, bt);
	}
	vmem_progress(vm);
}

/* Free [addr, addr + size) to the arena proper (not the quantum cache). */
static void vmem_xfree_internal(vmem_t *vm, vmem_addr_t addr,
				vmem_size_t size, const char *fn)
{
	vmem_size_t rsize = vmem_roundup_size(vm, size), rel_size = 0;
	vmem_addr_t rel_addr = 0;
	struct vmem_btag *bt;
	unsigned long irqflags;
	vmem_size_t busysize;
	LIST_HEAD(trim);

	irqflags = vmem_lock(vm);
	bt = bt_lookupbusy(vm, addr);
	if (!bt || bt->size != rsize || !size) {
		busysize = bt ? bt->size : 0;
		vmem_unlock(vm, irqflags);
		if (!bt)
			VMEM_MISUSE(vm, "%s: %#lx (size %#zx) is not allocated (double free?)",
				    fn, (unsigned long)addr, (size_t)size);
		else
			VMEM_MISUSE(vm, "%s: %#lx freed with size %#zx, allocated with %#zx",
				    fn, (unsigned long)addr, (size_t)size,
				    (size_t)busysize);
		return;
	}
	vmem_free_bt(vm, bt, &rel_addr, &rel_size);
	vmem_bt_trim(vm, &trim);
	vmem_unlock(vm, irqflags);

	vmem_wake(vm);
	vmem_bt_free_list(&trim);
	if (rel_size)
		vmem_release_span(vm, rel_addr, rel_size);
	vmem_hash_check(vm, VM_NOSLEEP);
}

/**
 * vmem_xfree() - free a range allocated by vmem_xalloc()
 * @vm: the arena
 * @addr: start of the range
 * @size: its size, as passed to the allocation
 *
 * Also frees ranges from vmem_alloc() that were larger than the arena's
 * qcache_max.  Freeing what is not allocated, or with another size, is
 * reported as misuse and ignored.  If the free leaves an imported span
 * wholly free, the span is released.
 *
 * Context: any context the arena's IPL allows; never sleeps.
 */
void vmem_xfree(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	if (!vmem_context_ok(vm)) {
		VMEM_MISUSE(vm, "%s: called from a context IPL %d does not allow",
			    __func__, vm->vm_ipl);
		return;
	}
	vmem_xfree_internal(vm, addr, size, "vmem_xfree");
}
EXPORT_SYMBOL_KPRIM(vmem_xfree);

/* ---------------------------------------------------------------------- */
/* Quantum caches */

static bool vmem_mag_holds(const struct vmem_magazine *mag, vmem_addr_t addr)
{
	unsigned long i;

	if (!mag)
		return false;
	for (i = 0; i < mag->nrounds; i++)
		if (mag->rounds[i] == addr)
			return true;
	return false;
}

static struct vmem_qcache *vmem_qcache_of(vmem_t *vm, vmem_size_t size)
{
	return &vm->vm_qcache[((size + vm->vm_quantum - 1) >>
			       vm->vm_quantum_shift) - 1];
}

static int vmem_qcache_alloc(vmem_t *vm, struct vmem_qcache *qc,
			     vm_flag_t flags, vmem_addr_t *addrp)
{
	struct vmem_qcache_cpu *cc;
	struct vmem_magazine *full;
	unsigned long irqflags;
	struct vmem_req r;

	cc = raw_cpu_ptr(qc->cpu);
	spin_lock_irqsave(&cc->lock, irqflags);
	if (cc->loaded && cc->loaded->nrounds)
		goto pop;
	if (cc->prev && cc->prev->nrounds) {
		swap(cc->loaded, cc->prev);
		goto pop;
	}
	spin_lock(&qc->depot_lock);
	full = qc->full;
	if (full) {
		qc->full = full->next;
		full->next = NULL;	/* a CPU's magazines are on no list */
		qc->nfull--;
		qc->nfull_min = min(qc->nfull_min, qc->nfull);
		if (cc->prev) {
			cc->prev->next = qc->empty;
			qc->empty = cc->prev;
			qc->nempty++;
		}
		cc->prev = cc->loaded;
		cc->loaded = full;
	}
	spin_unlock(&qc->depot_lock);
	if (full)
		goto pop;
	cc->misses++;
	spin_unlock_irqrestore(&cc->lock, irqflags);

	r = (struct vmem_req){
		.size = qc->size, .align = vm->vm_quantum,
		.minaddr = VMEM_ADDR_MIN, .maxaddr = VMEM_ADDR_MAX,
		.flags = (flags & ~VM_FITMASK) | VM_INSTANTFIT,
	};
	return vmem_xalloc_internal(vm, &r, addrp);

pop:
	*addrp = cc->loaded->rounds[--cc->loaded->nrounds];
	cc->hits++;
	spin_unlock_irqrestore(&cc->lock, irqflags);
	return 0;
}

static void vmem_qcache_free(vmem_t *vm, struct vmem_qcache *qc,
			     vmem_addr_t addr)
{
	struct vmem_magazine *empty, *mag;
	struct vmem_qcache_cpu *cc;
	unsigned long irqflags;

	for (;;) {
		cc = raw_cpu_ptr(qc->cpu);
		spin_lock_irqsave(&cc->lock, irqflags);
		if (vmem_mag_holds(cc->loaded, addr) ||
		    vmem_mag_holds(cc->prev, addr)) {
			spin_unlock_irqrestore(&cc->lock, irqflags);
			VMEM_MISUSE(vm, "vmem_free: %#lx (size %#zx) is already free (double free)",
				    (unsigned long)addr, (size_t)qc->size);
			return;
		}
		if (cc->loaded && cc->loaded->nrounds < VMEM_MAG_ROUNDS)
			goto push;
		if (cc->prev && !cc->prev->nrounds) {
			swap(cc->loaded, cc->prev);
			goto push;
		}
		spin_lock(&qc->depot_lock);
		empty = qc->empty;
		if (empty) {
			qc->empty = empty->next;
			empty->next = NULL;
			qc->nempty--;
			qc->nempty_min = min(qc->nempty_min, qc->nempty);
			if (cc->prev) {
				/* prev is full here: loaded was full or NULL */
				cc->prev->next = qc->full;
				qc->full = cc->prev;
				qc->nfull++;
			}
			cc->prev = cc->loaded;
			cc->loaded = empty;
		}
		spin_unlock(&qc->depot_lock);
		if (empty)
			goto push;
		spin_unlock_irqrestore(&cc->lock, irqflags);

		/* No empty magazine anywhere: make one, or bypass the cache. */
		mag = kzalloc(sizeof(*mag), GFP_NOWAIT | __GFP_NOWARN);
		if (!mag) {
			vmem_xfree_internal(vm, addr, qc->size, "vmem_free");
			return;
		}
		spin_lock_irqsave(&qc->depot_lock, irqflags);
		mag->next = qc->empty;
		qc->empty = mag;
		qc->nempty++;
		qc->nmags++;
		spin_unlock_irqrestore(&qc->depot_lock, irqflags);
	}

push:
	cc->loaded->rounds[cc->loaded->nrounds++] = addr;
	spin_unlock_irqrestore(&cc->lock, irqflags);
}

/* Return the rounds of a chain of magazines to the arena; free them. */
static unsigned long vmem_mag_chain_free(vmem_t *vm, struct vmem_qcache *qc,
					 struct vmem_magazine *mag)
{
	struct vmem_magazine *next;
	unsigned long n = 0;

	for (; mag; mag = next) {
		next = mag->next;
		while (mag->nrounds) {
			vmem_xfree_internal(vm, mag->rounds[--mag->nrounds],
					    qc->size, "vmem_free");
			n++;
		}
		kfree(mag);
	}
	return n;
}

/* Empty every magazine of every cache back into the arena. */
static int vmem_qcache_purge(vmem_t *vm)
{
	struct vmem_magazine *chain, *m;
	struct vmem_qcache_cpu *cc;
	struct vmem_qcache *qc;
	unsigned long irqflags, n = 0, nmags;
	unsigned int i;
	int cpu;

	for (i = 0; i < vm->vm_nqcache; i++) {
		qc = &vm->vm_qcache[i];
		for_each_possible_cpu(cpu) {
			cc = per_cpu_ptr(qc->cpu, cpu);
			spin_lock_irqsave(&cc->lock, irqflags);
			chain = NULL;
			if (cc->prev) {
				cc->prev->next = NULL;
				chain = cc->prev;
			}
			if (cc->loaded) {
				cc->loaded->next = chain;
				chain = cc->loaded;
			}
			cc->loaded = NULL;
			cc->prev = NULL;
			spin_unlock_irqrestore(&cc->lock, irqflags);
			nmags = 0;
			for (m = chain; m; m = m->next)
				nmags++;
			n += vmem_mag_chain_free(vm, qc, chain);
			spin_lock_irqsave(&qc->depot_lock, irqflags);
			qc->nmags -= nmags;
			spin_unlock_irqrestore(&qc->depot_lock, irqflags);
		}
		spin_lock_irqsave(&qc->depot_lock, irqflags);
		chain = qc->full;
		m = qc->empty;
		qc->full = NULL;
		qc->empty = NULL;
		qc->nmags -= qc->nfull + qc->nempty;
		qc->nfull = 0;
		qc->nempty = 0;
		qc->nfull_min = 0;
		qc->nempty_min = 0;
		spin_unlock_irqrestore(&qc->depot_lock, irqflags);
		n += vmem_mag_chain_free(vm, qc, chain);
		vmem_mag_chain_free(vm, qc, m);
	}
	return n != 0;
}

/* Free the depot magazines that stayed unused for a whole interval. */
static void vmem_qcache_trim(vmem_t *vm)
{
	struct vmem_magazine *full, *empty, *m;
	struct vmem_qcache *qc;
	unsigned long irqflags, nf, ne;
	unsigned int i;

	for (i = 0; i < vm->vm_nqcache; i++) {
		qc = &vm->vm_qcache[i];
		full = NULL;
		empty = NULL;
		spin_lock_irqsave(&qc->depot_lock, irqflags);
		for (nf = qc->nfull_min; nf; nf--) {
			m = qc->full;
			qc->full = m->next;
			m->next = full;
			full = m;
			qc->nfull--;
			qc->nmags--;
		}
		for (ne = qc->nempty_min; ne; ne--) {
			m = qc->empty;
			qc->empty = m->next;
			m->next = empty;
			empty = m;
			qc->nempty--;
			qc->nmags--;
		}
		qc->nfull_min = qc->nfull;
		qc->nempty_min = qc->nempty;
		spin_unlock_irqrestore(&qc->depot_lock, irqflags);
		vmem_mag_chain_free(vm, qc, full);
		vmem_mag_chain_free(vm, qc, empty);
	}
}

static void vmem_trim_workfn(struct work_struct *work)
{
	vmem_t *vm;

	mutex_lock(&vmem_list_lock);
	list_for_each_entry(vm, &vmem_list, vm_alllist)
		vmem_qcache_trim(vm);
	mutex_unlock(&vmem_list_lock);
	schedule_delayed_work(&vmem_trim_work, VMEM_TRIM_INTERVAL);
}

/**
 * vmem_qcache_reap() - return all quantum-cached addresses to the arena
 * @vm: the arena
 *
 * Empties every CPU's magazines and the depots into the arena (a kprim
 * extension, like illumos' vmem_qcache_reap()).  Allocations that fail
 * do this by themselves before giving up.
 *
 * Context: any context the arena's IPL allows; never sleeps.
 */
void vmem_qcache_reap(vmem_t *vm)
{
	if (!vmem_caller_ok(vm, __func__))
		return;
	vmem_qcache_purge(vm);
}
EXPORT_SYMBOL_KPRIM(vmem_qcache_reap);

/*
 * CPU hotplug: hand a dead CPU's magazines to the depot.  The callback runs
 * on a live CPU after @cpu died, under vmem_list_lock, so arenas being
 * created or destroyed are either wholly seen or not at all.  A task that
 * looked up the dead CPU's cache with raw_cpu_ptr() just before it was
 * migrated away may still push a round there afterwards; such a round is
 * not lost (purge and destroy walk every possible CPU, and the CPU uses it
 * again when it comes back), merely idle until then.
 */
static void vmem_qcache_cpu_dead(vmem_t *vm, unsigned int cpu)
{
	struct vmem_magazine *mags[2];
	struct vmem_qcache_cpu *cc;
	struct vmem_qcache *qc;
	unsigned long irqflags;
	unsigned int i, j;

	for (i = 0; i < vm->vm_nqcache; i++) {
		qc = &vm->vm_qcache[i];
		cc = per_cpu_ptr(qc->cpu, cpu);
		spin_lock_irqsave(&cc->lock, irqflags);
		mags[0] = cc->prev;
		mags[1] = cc->loaded;
		cc->prev = NULL;
		cc->loaded = NULL;
		spin_lock(&qc->depot_lock);
		for (j = 0; j < ARRAY_SIZE(mags); j++) {
			struct vmem_magazine *mag = mags[j];

			if (!mag)
				continue;
			if (mag->nrounds) {
				mag->next = qc->full;
				qc->full = mag;
				qc->nfull++;
			} else {
				mag->next = qc->empty;
				qc->empty = mag;
				qc->nempty++;
			}
		}
		spin_unlock(&qc->depot_lock);
		spin_unlock_irqrestore(&cc->lock, irqflags);
	}
}

static int vmem_cpu_dead(unsigned int cpu)
{
	vmem_t *vm;

	mutex_lock(&vmem_list_lock);
	list_for_each_entry(vm, &vmem_list, vm_alllist)
		vmem_qcache_cpu_dead(vm, cpu);
	mutex_unlock(&vmem_list_lock);
	return 0;
}

/**
 * vmem_alloc() - allocate a range from an arena
 * @vm: the arena
 * @size: size of the range (rounded up to the quantum)
 * @flags: %VM_SLEEP or %VM_NOSLEEP, optionally %VM_INSTANTFIT (default),
 *	%VM_BESTFIT or %VM_NEXTFIT, and %VM_LARGEIMPORT
 * @addrp: receives the start of the range
 *
 * Sizes up to the arena's qcache_max come from the per-CPU quantum caches
 * without taking the arena lock (the fit strategy does not apply to them).
 * Free with vmem_free() and the same size.
 *
 * Context: process context with %VM_SLEEP; with %VM_NOSLEEP any context
 * the arena's IPL allows.
 * Return: 0, %ENOMEM, or %EINVAL for invalid flags or a zero size.
 */
int vmem_alloc(vmem_t *vm, vmem_size_t size, vm_flag_t flags,
	       vmem_addr_t *addrp)
{
	vmem_addr_t discard;
	struct vmem_req r = {
		.size = vmem_roundup_size(vm, size),
		.align = vm->vm_quantum,
		.minaddr = VMEM_ADDR_MIN,
		.maxaddr = VMEM_ADDR_MAX,
		.flags = flags,
	};

	if (!vmem_alloc_flags_ok(vm, flags, "vmem_alloc"))
		return vmem_errno(-EINVAL);
	if (!addrp)	/* NetBSD allows it; the range is then leaked */
		addrp = &discard;
	if (!size || !r.size) {
		VMEM_MISUSE(vm, "%s: bad size %#zx", __func__, (size_t)size);
		return vmem_errno(-EINVAL);
	}
	if (size <= vm->vm_qcache_max)
		return vmem_errno(vmem_qcache_alloc(vm, vmem_qcache_of(vm, size),
						    flags, addrp));
	return vmem_errno(vmem_xalloc_internal(vm, &r, addrp));
}
EXPORT_SYMBOL_KPRIM(vmem_alloc);

/**
 * vmem_free() - free a range allocated by vmem_alloc()
 * @vm: the arena
 * @addr: start of the range
 * @size: the size passed to vmem_alloc()
 *
 * Cached sizes go back to the CPU's magazine without taking the arena
 * lock.  On that path a double free is detected only while the address is
 * still in this CPU's magazines (and later, when the magazine is emptied
 * into the arena); a size from another cache class is not detected.
 *
 * Context: any context the arena's IPL allows; never sleeps.
 */
void vmem_free(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	if (!vmem_context_ok(vm)) {
		VMEM_MISUSE(vm, "%s: called from a context IPL %d does not allow",
			    __func__, vm->vm_ipl);
		return;
	}
	if (size && size <= vm->vm_qcache_max) {
		if (addr & (vm->vm_quantum - 1)) {
			VMEM_MISUSE(vm, "%s: %#lx is not quantum-aligned", __func__,
				    (unsigned long)addr);
			return;
		}
		vmem_qcache_free(vm, vmem_qcache_of(vm, size), addr);
		return;
	}
	vmem_xfree_internal(vm, addr, size, "vmem_free");
}
EXPORT_SYMBOL_KPRIM(vmem_free);

/**
 * vmem_xfreeall() - free every allocation of an arena
 * @vm: the arena
 *
 * Purges the quantum caches, then frees every busy segment (releasing
 * imported spans).  The caller guarantees nobody else uses the arena.
 *
 * Context: any context the arena's IPL allows; never sleeps.
 */
void vmem_xfreeall(vmem_t *vm)
{
	vmem_size_t rel_size = 0;
	vmem_addr_t rel_addr = 0;
	struct vmem_btag *bt;
	unsigned long irqflags;
	unsigned int i;
	LIST_HEAD(trim);

	if (!vmem_context_ok(vm)) {
		VMEM_MISUSE(vm, "%s: called from a context IPL %d does not allow",
			    __func__, vm->vm_ipl);
		return;
	}
	vmem_qcache_purge(vm);
	irqflags = vmem_lock(vm);
restart:
	for (i = 0; i < (1U << vm->vm_hashbits); i++) {
		while (!hlist_empty(&vm->vm_hashlist[i])) {
			bt = hlist_entry(vm->vm_hashlist[i].first,
					 struct vmem_btag, hashlink);
			vmem_free_bt(vm, bt, &rel_addr, &rel_size);
			if (rel_size) {
				vmem_unlock(vm, irqflags);
				vmem_release_span(vm, rel_addr, rel_size);
				irqflags = vmem_lock(vm);
				goto restart;
			}
		}
	}
	vmem_bt_trim(vm, &trim);
	vmem_unlock(vm, irqflags);
	vmem_wake(vm);
	vmem_bt_free_list(&trim);
	vmem_hash_check(vm, VM_NOSLEEP);
}
EXPORT_SYMBOL_KPRIM(vmem_xfreeall);

/* ---------------------------------------------------------------------- */
/* Queries */

static vmem_size_t vmem_maxfree(vmem_t *vm)
	__must_hold(&vm->vm_lock)
{
	struct vmem_btag *bt;
	vmem_size_t max = 0;

	if (!vm->vm_freemap)
		return 0;
	list_for_each_entry(bt, &vm->vm_freelist[__fls(vm->vm_freemap)], freelist)
		max = max(max, bt->size);
	return max;
}

/**
 * vmem_size() - how much of an arena is allocated or free
 * @vm: the arena
 * @typemask: %VMEM_ALLOC (allocated, including quantum-cached ranges),
 *	%VMEM_FREE, both (the arena's total size), or %VMEM_MAXFREE (the
 *	largest free segment)
 *
 * Context: any context the arena's IPL allows.
 * Return: the size in resource units; 0 for an invalid @typemask or a
 * calling context the IPL does not allow (misuse).
 */
vmem_size_t vmem_size(vmem_t *vm, int typemask)
{
	unsigned long irqflags;
	vmem_size_t ret = 0;

	if (!vmem_caller_ok(vm, __func__))
		return 0;
	irqflags = vmem_lock(vm);
	switch (typemask) {
	case VMEM_ALLOC:
		ret = vm->vm_inuse;
		break;
	case VMEM_FREE:
		ret = vm->vm_total - vm->vm_inuse;
		break;
	case VMEM_ALLOC | VMEM_FREE:
		ret = vm->vm_total;
		break;
	case VMEM_MAXFREE:
		ret = vmem_maxfree(vm);
		break;
	default:
		vmem_unlock(vm, irqflags);
		VMEM_MISUSE(vm, "%s: bad typemask %#x", __func__, typemask);
		return 0;
	}
	vmem_unlock(vm, irqflags);
	return ret;
}
EXPORT_SYMBOL_KPRIM(vmem_size);

/**
 * vmem_walk() - call a function for segments of an arena
 * @vm: the arena
 * @typemask: any of %VMEM_ALLOC (busy segments), %VMEM_FREE (free
 *	segments) and %VMEM_SPAN (spans)
 * @fn: called as @fn(@arg, start, size) for each, in address order
 * @arg: passed to @fn
 *
 * @fn runs under the arena lock: it must not sleep nor call into @vm.
 * Quantum-cached ranges count as busy.
 *
 * Context: any context the arena's IPL allows.
 */
void vmem_walk(vmem_t *vm, int typemask,
	       void (*fn)(void *arg, vmem_addr_t start, vmem_size_t size),
	       void *arg)
{
	struct vmem_btag *bt;
	unsigned long irqflags;
	int t;

	if (!vmem_caller_ok(vm, __func__))
		return;
	irqflags = vmem_lock(vm);
	list_for_each_entry(bt, &vm->vm_seglist, seglist) {
		switch (bt->type) {
		case VMEM_BT_BUSY:
			t = VMEM_ALLOC;
			break;
		case VMEM_BT_FREE:
			t = VMEM_FREE;
			break;
		default:
			t = VMEM_SPAN;
			break;
		}
		if (typemask & t)
			fn(arg, bt->start, bt->size);
	}
	vmem_unlock(vm, irqflags);
}
EXPORT_SYMBOL_KPRIM(vmem_walk);

/**
 * vmem_contains() - does an arena's spans cover a range?
 * @vm: the arena
 * @addr: start of the range
 * @size: size of the range (0 is treated as 1)
 *
 * Context: any context the arena's IPL allows.
 * Return: true if [@addr, @addr + @size) lies within one span of @vm;
 * false from a context the IPL does not allow (misuse).
 */
bool vmem_contains(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	vmem_addr_t end = addr + (size ? size - 1 : 0);
	struct vmem_btag *sp;
	struct rb_node *n;
	unsigned long irqflags;
	bool ret = false;

	if (end < addr || !vmem_caller_ok(vm, __func__))
		return false;
	irqflags = vmem_lock(vm);
	n = vm->vm_spans.rb_node;
	while (n) {
		sp = rb_entry(n, struct vmem_btag, spannode);
		if (addr < sp->start) {
			n = n->rb_left;
		} else if (addr > bt_end(sp)) {
			n = n->rb_right;
		} else {
			ret = end <= bt_end(sp);
			break;
		}
	}
	vmem_unlock(vm, irqflags);
	return ret;
}
EXPORT_SYMBOL_KPRIM(vmem_contains);

/**
 * vmem_misuse_count() - how many misuses were reported
 * @vm: an arena, or NULL for the total over all arenas (including those
 *	already destroyed and failed creations)
 *
 * Context: any.
 * Return: the number of KPRIM_MISUSE() reports.
 */
long vmem_misuse_count(vmem_t *vm)
{
	return atomic_long_read(vm ? &vm->vm_misuse : &vmem_misuse_total);
}
EXPORT_SYMBOL_KPRIM(vmem_misuse_count);

/* ---------------------------------------------------------------------- */
/* debugfs */

static const char *const vmem_bt_names[] = {
	[VMEM_BT_SPAN_STATIC] = "span-static",
	[VMEM_BT_SPAN] = "span",
	[VMEM_BT_FREE] = "free",
	[VMEM_BT_BUSY] = "busy",
};

static int vmem_segments_show(struct seq_file *m, void *v)
{
	vmem_t *vm = m->private;
	struct vmem_btag *bt;
	unsigned long irqflags;

	seq_printf(m, "%-18s %-18s %-18s %s\n", "START", "END", "SIZE", "TYPE");
	irqflags = vmem_lock(vm);
	list_for_each_entry(bt, &vm->vm_seglist, seglist)
		seq_printf(m, "%#-18lx %#-18lx %#-18zx %s\n",
			   (unsigned long)bt->start, (unsigned long)bt_end(bt),
			   (size_t)bt->size, vmem_bt_names[bt->type]);
	vmem_unlock(vm, irqflags);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmem_segments);

static int vmem_stats_show(struct seq_file *m, void *v)
{
	unsigned long hits, misses, nfull, nempty, nmags, irqflags;
	unsigned long nalloc, nfree, nimport, nrelease, nwait, nfail, nbusy;
	unsigned long hist[VMEM_MAXORDER];
	vmem_size_t inuse, total, imported;
	struct vmem_qcache_cpu *cc;
	vmem_t *vm = m->private;
	struct vmem_qcache *qc;
	struct vmem_btag *bt;
	unsigned int i, bits;
	int cpu;

	memset(hist, 0, sizeof(hist));
	irqflags = vmem_lock(vm);
	nalloc = vm->vm_nalloc;
	nfree = vm->vm_nfree;
	nimport = vm->vm_nimport;
	nrelease = vm->vm_nrelease;
	nwait = vm->vm_nwait;
	nfail = vm->vm_nfail;
	nbusy = vm->vm_nbusy;
	bits = vm->vm_hashbits;
	inuse = vm->vm_inuse;
	total = vm->vm_total;
	imported = vm->vm_imported;
	for (i = 0; i < VMEM_MAXORDER; i++)
		list_for_each_entry(bt, &vm->vm_freelist[i], freelist)
			hist[i]++;
	vmem_unlock(vm, irqflags);

	seq_printf(m, "quantum %zu\nipl %d\n", (size_t)vm->vm_quantum, vm->vm_ipl);
	seq_printf(m, "inuse %zu\ntotal %zu\nimported %zu\n",
		   (size_t)inuse, (size_t)total, (size_t)imported);
	seq_printf(m, "alloc %lu\nfree %lu\nimport %lu\nrelease %lu\nwait %lu\nfail %lu\n",
		   nalloc, nfree, nimport, nrelease, nwait, nfail);
	seq_printf(m, "misuse %ld\n", atomic_long_read(&vm->vm_misuse));
	seq_printf(m, "busy_tags %lu\nhash_size %u\nhash_load_pct %lu\n",
		   nbusy, 1U << bits, nbusy * 100 >> bits);
	seq_puts(m, "freelist order count\n");
	for (i = 0; i < VMEM_MAXORDER; i++)
		if (hist[i])
			seq_printf(m, "order %u %lu\n", i, hist[i]);
	for (i = 0; i < vm->vm_nqcache; i++) {
		qc = &vm->vm_qcache[i];
		hits = 0;
		misses = 0;
		for_each_possible_cpu(cpu) {
			cc = per_cpu_ptr(qc->cpu, cpu);
			hits += READ_ONCE(cc->hits);
			misses += READ_ONCE(cc->misses);
		}
		spin_lock_irqsave(&qc->depot_lock, irqflags);
		nfull = qc->nfull;
		nempty = qc->nempty;
		nmags = qc->nmags;
		spin_unlock_irqrestore(&qc->depot_lock, irqflags);
		seq_printf(m, "qcache %zu hits %lu misses %lu magazines %lu depot_full %lu depot_empty %lu\n",
			   (size_t)qc->size, hits, misses, nmags, nfull, nempty);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmem_stats);

static void vmem_arenas_show_tree(struct seq_file *m, vmem_t *parent,
				  int depth)
	__must_hold(&vmem_list_lock)
{
	unsigned long irqflags, nalloc, nfail;
	vmem_size_t inuse, total;
	vmem_t *vm;

	list_for_each_entry(vm, &vmem_list, vm_alllist) {
		if (vm->vm_source != parent)
			continue;
		irqflags = vmem_lock(vm);
		inuse = vm->vm_inuse;
		total = vm->vm_total;
		nalloc = vm->vm_nalloc;
		nfail = vm->vm_nfail;
		vmem_unlock(vm, irqflags);
		seq_printf(m, "%-18p %*s%-*s %16zu %16zu %10lu %6lu\n", vm,
			   2 * depth, "", 24 - 2 * min(depth, 8),
			   vm->vm_name, (size_t)inuse, (size_t)total,
			   nalloc, nfail);
		if (depth < 16)
			vmem_arenas_show_tree(m, vm, depth + 1);
	}
}

static int vmem_arenas_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%-18s %-24s %16s %16s %10s %6s\n", "ADDR", "NAME",
		   "INUSE", "TOTAL", "SUCCEED", "FAIL");
	mutex_lock(&vmem_list_lock);
	vmem_arenas_show_tree(m, NULL, 0);
	mutex_unlock(&vmem_list_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmem_arenas);

struct vmem_whatis {
	vmem_addr_t addr;
	bool valid;
};

static int vmem_whatis_show(struct seq_file *m, void *v)
{
	struct vmem_whatis *w = m->private;
	unsigned long irqflags;
	struct vmem_btag *bt;
	bool found = false;
	vmem_t *vm;

	if (!w->valid) {
		seq_puts(m, "write an address to this file\n");
		return 0;
	}
	mutex_lock(&vmem_list_lock);
	list_for_each_entry(vm, &vmem_list, vm_alllist) {
		irqflags = vmem_lock(vm);
		list_for_each_entry(bt, &vm->vm_seglist, seglist) {
			if ((bt->type == VMEM_BT_FREE || bt->type == VMEM_BT_BUSY) &&
			    bt->start <= w->addr && w->addr <= bt_end(bt)) {
				seq_printf(m, "%#lx arena %s segment %#lx %#lx %#zx %s\n",
					   (unsigned long)w->addr, vm->vm_name,
					   (unsigned long)bt->start,
					   (unsigned long)bt_end(bt),
					   (size_t)bt->size,
					   vmem_bt_names[bt->type]);
				found = true;
			}
		}
		vmem_unlock(vm, irqflags);
	}
	mutex_unlock(&vmem_list_lock);
	if (!found)
		seq_printf(m, "%#lx not in any arena\n", (unsigned long)w->addr);
	return 0;
}

static int vmem_whatis_open(struct inode *inode, struct file *file)
{
	struct vmem_whatis *w = kzalloc(sizeof(*w), GFP_KERNEL);
	int rc;

	if (!w)
		return -ENOMEM;
	rc = single_open(file, vmem_whatis_show, w);
	if (rc)
		kfree(w);
	return rc;
}

static ssize_t vmem_whatis_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	struct vmem_whatis *w = m->private;
	unsigned long addr;
	int rc;

	rc = kstrtoul_from_user(ubuf, len, 0, &addr);
	if (rc)
		return rc;
	w->addr = addr;
	w->valid = true;
	return len;
}

static int vmem_whatis_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;

	kfree(m->private);
	return single_release(inode, file);
}

static const struct file_operations vmem_whatis_fops = {
	.owner = THIS_MODULE,
	.open = vmem_whatis_open,
	.read = seq_read,
	.write = vmem_whatis_write,
	.llseek = seq_lseek,
	.release = vmem_whatis_release,
};

static void vmem_debugfs_add(vmem_t *vm)
	__must_hold(&vmem_list_lock)
{
	char name[VMEM_NAME_MAX + 24];
	struct dentry *d;

	if (IS_ERR_OR_NULL(vmem_debugfs_root))
		return;
	strscpy(name, vm->vm_name, sizeof(name));
	strreplace(name, '/', '_');
	d = debugfs_lookup(name, vmem_debugfs_root);
	if (d || !strcmp(name, "arenas") || !strcmp(name, "whatis")) {
		dput(d);
		snprintf(name, sizeof(name), "%s.%lu", vm->vm_name, vm->vm_id);
		strreplace(name, '/', '_');
	}
	vm->vm_debugfs = debugfs_create_dir(name, vmem_debugfs_root);
	debugfs_create_file("segments", 0400, vm->vm_debugfs, vm,
			    &vmem_segments_fops);
	debugfs_create_file("stats", 0400, vm->vm_debugfs, vm,
			    &vmem_stats_fops);
}

/* ---------------------------------------------------------------------- */
/* Creation and destruction */

static void vmem_qcache_free_all(vmem_t *vm)
{
	unsigned int i;

	if (!vm->vm_qcache)
		return;
	for (i = 0; i < vm->vm_nqcache; i++)
		free_percpu(vm->vm_qcache[i].cpu);
	kfree(vm->vm_qcache);
	vm->vm_qcache = NULL;
	vm->vm_nqcache = 0;
	vm->vm_qcache_max = 0;
}

static int vmem_qcache_init(vmem_t *vm, vmem_size_t qcache_max)
{
	struct vmem_qcache *qc;
	unsigned int i, n;
	int cpu;

	n = min_t(vmem_size_t, qcache_max >> vm->vm_quantum_shift,
		  VMEM_QCACHE_IDX_MAX);
	if (!n)
		return 0;
	vm->vm_qcache = kcalloc(n, sizeof(*vm->vm_qcache), GFP_KERNEL);
	if (!vm->vm_qcache)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		qc = &vm->vm_qcache[i];
		qc->size = (vmem_size_t)(i + 1) << vm->vm_quantum_shift;
		spin_lock_init(&qc->depot_lock);
		qc->cpu = kprim_alloc_percpu(struct vmem_qcache_cpu);
		if (!qc->cpu) {
			vm->vm_nqcache = i;
			vmem_qcache_free_all(vm);
			return -ENOMEM;
		}
		for_each_possible_cpu(cpu)
			spin_lock_init(&per_cpu_ptr(qc->cpu, cpu)->lock);
	}
	vm->vm_nqcache = n;
	vm->vm_qcache_max = (vmem_size_t)n << vm->vm_quantum_shift;
	return 0;
}

/**
 * vmem_init() - initialise an arena in caller-provided storage
 * @storage: the arena (see <kprim/vmem_impl.h>), or NULL to allocate one
 * @name: name for debugfs and reports (truncated to %VMEM_NAME_MAX - 1)
 * @base: start of the initial static span
 * @size: size of the initial span, or 0 for none
 * @quantum: the allocation unit, a power of two
 * @importfn: called as @importfn(@arg, size, flags, &addr) to import a
 *	span when the arena is short, or NULL.  vmem_alloc() with a source
 *	arena as @arg makes this arena a child of the source.
 * @releasefn: called as @releasefn(@arg, addr, size) to give back an
 *	imported span that became wholly free, or NULL to keep spans
 * @arg: argument of @importfn and @releasefn
 * @qcache_max: largest size served by the quantum caches (rounded down to
 *	the quantum, capped at 16 quanta), or 0 for none
 * @flags: %VM_SLEEP or %VM_NOSLEEP (for the initial span)
 * @ipl: the most restrictive context the arena is used from (IPL_NONE:
 *	process; IPL_SOFT*: softirq; IPL_VM and above: hard IRQ)
 *
 * Context: process context; may sleep.
 * Return: the arena, or NULL on failure (invalid quantum or IPL, reported
 * as misuse, or out of memory).
 */
vmem_t *vmem_init(vmem_t *storage, const char *name, vmem_addr_t base,
		  vmem_size_t size, vmem_size_t quantum,
		  vmem_import_t *importfn, vmem_release_t *releasefn,
		  void *arg, vmem_size_t qcache_max, vm_flag_t flags, int ipl)
{
	vmem_t *vm = storage;
	unsigned int i;

	might_sleep();
	if (!quantum || !is_power_of_2(quantum) || !kprim_ipl_valid(ipl) ||
	    (flags & (VM_SLEEP | VM_NOSLEEP)) == (VM_SLEEP | VM_NOSLEEP)) {
		VMEM_MISUSE_GLOBAL("%s(%s): bad quantum %#zx, ipl %d or flags %#x",
				   __func__, name ?: "?", (size_t)quantum, ipl, flags);
		return NULL;
	}
	if (!vm) {
		vm = kzalloc(sizeof(*vm), GFP_KERNEL);
		if (!vm)
			return NULL;
	} else {
		memset(vm, 0, sizeof(*vm));
	}
	vm->vm_allocated = !storage;
	strscpy(vm->vm_name, name ?: "vmem", sizeof(vm->vm_name));
	spin_lock_init(&vm->vm_lock);
	lockdep_set_class(&vm->vm_lock,
			  &vmem_lock_keys[kprim_ipl_is_hard(ipl) ? 2 :
					  kprim_ipl_is_soft(ipl) ? 1 : 0]);
	vm->vm_ipl = ipl;
	vm->vm_flags = flags & VM_XIMPORT;
	vm->vm_quantum = quantum;
	vm->vm_quantum_shift = ilog2(quantum);
	vm->vm_importfn = importfn;
	vm->vm_releasefn = releasefn;
	vm->vm_arg = arg;
	if (importfn == (vmem_import_t *)vmem_alloc && !(flags & VM_XIMPORT))
		vm->vm_source = arg;
	INIT_LIST_HEAD(&vm->vm_seglist);
	vm->vm_spans = RB_ROOT;
	for (i = 0; i < VMEM_MAXORDER; i++)
		INIT_LIST_HEAD(&vm->vm_freelist[i]);
	for (i = 0; i < VMEM_HASH_INITIAL; i++)
		INIT_HLIST_HEAD(&vm->vm_hash0[i]);
	vm->vm_hashlist = vm->vm_hash0;
	vm->vm_hashbits = VMEM_HASH_MINBITS;
	INIT_WORK(&vm->vm_hash_work, vmem_hash_workfn);
	INIT_LIST_HEAD(&vm->vm_btreserve);
	init_waitqueue_head(&vm->vm_wait);
	atomic_long_set(&vm->vm_misuse, 0);

	if (vmem_qcache_init(vm, qcache_max))
		goto fail;
	if (size) {
		if (!vmem_range_ok(vm, base, size)) {
			VMEM_MISUSE_GLOBAL("%s(%s): bad span [%#lx, +%#zx), quantum %#zx",
					   __func__, vm->vm_name, (unsigned long)base,
					   (size_t)size, (size_t)quantum);
			goto fail;
		}
		if (vmem_add_span(vm, base, size, VM_SLEEP, VMEM_BT_SPAN_STATIC))
			goto fail;
	}

	mutex_lock(&vmem_list_lock);
	vm->vm_id = vmem_next_id++;
	list_add_tail(&vm->vm_alllist, &vmem_list);
	vmem_debugfs_add(vm);
	mutex_unlock(&vmem_list_lock);
	return vm;

fail:
	vmem_qcache_free_all(vm);
	{
		LIST_HEAD(tags);
		struct vmem_btag *bt, *tmp;

		list_for_each_entry_safe(bt, tmp, &vm->vm_seglist, seglist)
			list_move(&bt->seglist, &tags);
		list_splice_init(&vm->vm_btreserve, &tags);
		vmem_bt_free_list(&tags);
	}
	if (!storage)
		kfree(vm);
	return NULL;
}
EXPORT_SYMBOL_KPRIM(vmem_init);

/**
 * vmem_create() - create an arena
 * @name: name for debugfs and reports
 * @base: start of the initial static span
 * @size: size of the initial span, or 0 for none
 * @quantum: the allocation unit, a power of two
 * @importfn: import function or vmem_alloc() of a source arena, or NULL
 * @releasefn: release function or vmem_free() of the source, or NULL
 * @arg: argument of @importfn and @releasefn (the source arena)
 * @qcache_max: largest size served by the quantum caches, or 0
 * @flags: %VM_SLEEP or %VM_NOSLEEP
 * @ipl: the most restrictive context the arena is used from
 *
 * See vmem_init() for the details.
 *
 * Context: process context; may sleep.
 * Return: the arena, or NULL.
 */
vmem_t *vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
		    vmem_size_t quantum, vmem_import_t *importfn,
		    vmem_release_t *releasefn, void *arg,
		    vmem_size_t qcache_max, vm_flag_t flags, int ipl)
{
	return vmem_init(NULL, name, base, size, quantum, importfn, releasefn,
			 arg, qcache_max, flags & ~VM_XIMPORT, ipl);
}
EXPORT_SYMBOL_KPRIM(vmem_create);

/**
 * vmem_xcreate() - create an arena whose import function reports the size
 * @name: name for debugfs and reports
 * @base: start of the initial static span
 * @size: size of the initial span, or 0 for none
 * @quantum: the allocation unit, a power of two
 * @importfn: called as @importfn(@arg, size, &actualsize, flags, &addr);
 *	it may import more than asked for and says how much in *actualsize
 * @releasefn: release function, or NULL
 * @arg: argument of @importfn and @releasefn
 * @qcache_max: largest size served by the quantum caches, or 0
 * @flags: %VM_SLEEP or %VM_NOSLEEP
 * @ipl: the most restrictive context the arena is used from
 *
 * Context: process context; may sleep.
 * Return: the arena, or NULL.
 */
vmem_t *vmem_xcreate(const char *name, vmem_addr_t base, vmem_size_t size,
		     vmem_size_t quantum, vmem_ximport_t *importfn,
		     vmem_release_t *releasefn, void *arg,
		     vmem_size_t qcache_max, vm_flag_t flags, int ipl)
{
	vmem_t *vm;

	vm = vmem_init(NULL, name, base, size, quantum, NULL, releasefn, arg,
		       qcache_max, flags | VM_XIMPORT, ipl);
	if (vm)
		vm->vm_ximportfn = importfn;
	return vm;
}
EXPORT_SYMBOL_KPRIM(vmem_xcreate);

/**
 * vmem_destroy() - destroy an arena
 * @vm: the arena
 *
 * Purges the quantum caches and releases imported spans.  Destroying an
 * arena that still has allocations is reported as misuse; its spans are
 * released anyway.  Storage given to vmem_init() is not freed.
 *
 * Context: process context; may sleep.  Nobody else may use @vm.
 */
void vmem_destroy(vmem_t *vm)
{
	struct vmem_btag *bt, *tmp;
	unsigned long irqflags;
	LIST_HEAD(spans);
	LIST_HEAD(tags);

	might_sleep();
	mutex_lock(&vmem_list_lock);
	list_del(&vm->vm_alllist);
	debugfs_remove_recursive(vm->vm_debugfs);
	mutex_unlock(&vmem_list_lock);

	vmem_qcache_purge(vm);
	cancel_work_sync(&vm->vm_hash_work);

	irqflags = vmem_lock(vm);
	if (vm->vm_nbusy) {
		vmem_size_t inuse = vm->vm_inuse;
		unsigned long nbusy = vm->vm_nbusy;

		vmem_unlock(vm, irqflags);
		VMEM_MISUSE(vm, "%s: %lu allocations (%#zx) still live",
			    __func__, nbusy, (size_t)inuse);
		irqflags = vmem_lock(vm);
	}
	list_for_each_entry_safe(bt, tmp, &vm->vm_seglist, seglist) {
		if (bt->type == VMEM_BT_SPAN)
			list_move_tail(&bt->seglist, &spans);
		else
			list_move(&bt->seglist, &tags);
	}
	list_splice_init(&vm->vm_btreserve, &tags);
	vmem_unlock(vm, irqflags);

	list_for_each_entry(bt, &spans, seglist)
		if (vm->vm_releasefn)
			vmem_release_span(vm, bt->start, bt->size);
	vmem_bt_free_list(&spans);
	vmem_bt_free_list(&tags);
	if (vm->vm_hashlist != vm->vm_hash0)
		kvfree(vm->vm_hashlist);
	vmem_qcache_free_all(vm);
	if (vm->vm_allocated)
		kfree(vm);
}
EXPORT_SYMBOL_KPRIM(vmem_destroy);

/* ---------------------------------------------------------------------- */
/* Module hooks */

int kprim_vmem_setup(struct dentry *root)
{
	int ret;

	vmem_btag_cache = kmem_cache_create("kprim_vmem_btag",
					    sizeof(struct vmem_btag), 0, 0, NULL);
	if (!vmem_btag_cache)
		return -ENOMEM;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "kprim/vmem:dead",
					NULL, vmem_cpu_dead);
	if (ret < 0) {
		kmem_cache_destroy(vmem_btag_cache);
		vmem_btag_cache = NULL;
		return ret;
	}
	vmem_cpuhp_state = ret;
	vmem_debugfs_root = debugfs_create_dir("vmem", root);
	debugfs_create_file("arenas", 0400, vmem_debugfs_root, NULL,
			    &vmem_arenas_fops);
	debugfs_create_file("whatis", 0600, vmem_debugfs_root, NULL,
			    &vmem_whatis_fops);
	schedule_delayed_work(&vmem_trim_work, VMEM_TRIM_INTERVAL);
	return 0;
}

void kprim_vmem_teardown(void)
{
	cancel_delayed_work_sync(&vmem_trim_work);
	cpuhp_remove_state_nocalls(vmem_cpuhp_state);
	vmem_cpuhp_state = -1;
	mutex_lock(&vmem_list_lock);
	WARN(!list_empty(&vmem_list), "kprim: vmem arenas left at unload\n");
	mutex_unlock(&vmem_list_lock);
	debugfs_remove_recursive(vmem_debugfs_root);
	vmem_debugfs_root = NULL;
	kmem_cache_destroy(vmem_btag_cache);
	vmem_btag_cache = NULL;
}
