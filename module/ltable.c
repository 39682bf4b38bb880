// SPDX-License-Identifier: GPL-2.0
/*
 * kprim ltable: a lockless table of generation-tagged elements, after XNU's
 * link table (osfmk/kern/ltable.c, 2016, with the later XNU fixes).
 *
 * Theory of operation
 * ===================
 *
 * Elements and ids.  A table holds fixed-size elements, each starting with a
 * &struct lt_elem header.  An element is named by a 64-bit id, {idx:18,
 * generation:46}: idx locates the slot, generation names one incarnation of
 * it.  Every allocation and every ltable_realloc_elem() of a slot moves its
 * generation on by two; slots start at generation 1, so generations are
 * always odd and the id 0 never names anything, even after the 46-bit
 * counter wraps.  A consumer stores ids, not pointers, in its long-lived
 * structures, and resolves them with ltable_get_elem(), which fails once the
 * incarnation is gone.
 *
 * Memory.  Elements live in slabs of slab_sz bytes (a power of two, at least
 * a page), whose pointers are kept in one page of slab pointers, so the
 * element for idx is one shift and one mask away.  Slabs are added by
 * ltable_grow() under the table mutex and never freed before
 * ltable_destroy(): a stale id or a stale element pointer always points to
 * memory of the table, which is what makes the lockless lookups safe.  Growth
 * publishes the slab pointer, then @nelem (release; lookups bound-check idx
 * against it with acquire), then pushes the new elements onto the free list,
 * then publishes @capacity (the number of elements that have been on the
 * free list).
 *
 * lt_bits.  The 32-bit word holds a reference count (bits 0-28), the type
 * (bits 29-30) and a valid bit (31), and is only changed by compare-and-swap
 * (or plain stores by the sole owner of an element that is not on any list
 * and not valid).  ltable_alloc_elem() returns elements with one reference
 * and no valid bit; lt_elem_mkvalid() makes them resolvable; ltable_get_elem()
 * takes a reference only while the valid bit is set and the full id still
 * matches, and checks the id again after its CAS, dropping the reference if
 * the slot was recycled in between.  ltable_put_elem() drops a reference and
 * frees the element when the count reaches zero on an invalid element,
 * calling the table's poison callback first.  A valid element with no
 * reference is owned by the table (the XNU waitq pattern): to free it, get
 * it, invalidate it, put it.
 *
 * Free list.  Free elements are chained through lt_next_idx; the head is a
 * 64-bit {idx, generation} word changed only by try_cmpxchg, and every change
 * (pop or push) moves the head generation on.  A head value therefore
 * identifies one state of the list, and a pop that read the chain under a
 * head that is still current when its CAS succeeds read a consistent chain:
 * this closes the ABA race of the 2016 code (a popper that read A->B could
 * install B after A was popped, B allocated and A pushed back), fixed the
 * same way in later XNU.  A pop of n elements walks n links (every index
 * bound-checked, since a racing reader may see links being rewritten), then
 * swings the head past them.
 *
 * Accounting.  @used_elem counts reservations: an allocator adds n before
 * popping and gives them back if the reservation exceeds @capacity; frees
 * push first and subtract after.  Hence the free list always holds at least
 * @capacity minus @used_elem elements plus the pending reservations, and a
 * successful reservation always finds its elements on the list.  Preemption
 * is disabled from the reservation to the end of the pop, and around each
 * push and its used_elem update, so no CPU is parked in the middle of one
 * while others wait on the result.
 *
 * Context.  Lookups, puts, frees, list operations and allocation from a
 * non-empty table are lock-free and callable from any context (poison
 * callbacks included).  When the table is full, a sleepable caller grows it
 * (GFP_KERNEL, table mutex); an atomic caller spins a few microseconds for a
 * concurrent grow and then fails with NULL where XNU panicked.  Whether the
 * caller can sleep is read from the preempt count, so kernels without
 * CONFIG_PREEMPT_COUNT treat every caller as atomic: grow explicitly with
 * ltable_grow() there.
 *
 * Misuse.  Every XNU panic and assert on caller input is a KPRIM_MISUSE
 * report here (WARN_ONCE, per-table and global counters) and the call does
 * nothing harmful: bad ids and pointers, reference count overflow and
 * underflow, double invalidate, reserved-list operations on the wrong
 * elements, destroying a table with live elements (the table is left intact)
 * and bad ltable_init() geometry.
 *
 * Statistics.  XNU's CONFIG_LTABLE_STATS counters are always kept, per CPU,
 * and summed for /sys/kernel/debug/kprim/ltable/<name>.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <kprim/ltable.h>

#include "kprim_internal.h"

#define LT_NSLOTS		(PAGE_SIZE / sizeof(struct lt_elem *))
#define LT_ELEM_SZ_MAX		(64U * 1024)
#define LT_ATOMIC_SPINS		8

/* misuse reports of all tables and of the table-less element functions */
static atomic_long_t ltable_misuse = ATOMIC_LONG_INIT(0);

static LIST_HEAD(ltable_list);
static DEFINE_MUTEX(ltable_list_lock);
static struct dentry *ltable_dir;

#define LT_MISUSE(t, fmt, ...)						\
	({								\
		struct link_table *__lt = (t);				\
									\
		atomic_long_inc(&__lt->misuse);				\
		KPRIM_MISUSE(&ltable_misuse, "ltable %s: %s: " fmt,	\
			     __lt->name, __func__, ##__VA_ARGS__);	\
	})

static inline u64 lt_mkid(u32 idx, u64 generation)
{
	struct ltable_id id = { .id = 0 };

	id.idx = idx;
	id.generation = generation;
	return id.id;
}

static inline u32 lt_id_idx(u64 id)
{
	struct ltable_id lid = { .id = id };

	return lid.idx;
}

static inline bool lt_type_ok(int type)
{
	return type == LT_ELEM || type == LT_LINK || type == LT_RESERVED;
}

/* Caller has checked idx < smp_load_acquire(&t->nelem). */
static struct lt_elem *lt_elem_idx(struct link_table *t, u32 idx)
{
	struct lt_elem *slab = READ_ONCE(t->table[idx >> t->slab_elem_shift]);

	return (void *)slab + ((size_t)(idx & (t->slab_elem - 1)) << t->elem_shift);
}

/* Does @elem point at an element of @t?  Reads only elem->lt_id. */
static bool lt_elem_in_table(struct link_table *t, struct lt_elem *elem)
{
	u32 idx;

	if (!elem)
		return false;
	idx = lt_id_idx(READ_ONCE(elem->lt_id.id));
	/* acquire: pairs with lt_add_slab()'s release, the slab is visible */
	return idx < smp_load_acquire(&t->nelem) && lt_elem_idx(t, idx) == elem;
}

static bool lt_can_sleep(void)
{
	return preemptible() && !rcu_preempt_depth();
}

/*
 * Push the chain first..last (already linked through lt_next_idx) onto the
 * free list.  Caller has preemption disabled.
 */
static void lt_free_list_push(struct link_table *t, struct lt_elem *first,
			      struct lt_elem *last)
{
	u32 first_idx = lt_id_idx(READ_ONCE(first->lt_id.id));
	struct ltable_id head;
	s64 old = atomic64_read(&t->free_list);

	do {
		head.id = old;
		WRITE_ONCE(last->lt_next_idx, head.idx);
	} while (!atomic64_try_cmpxchg(&t->free_list, &old,
				       lt_mkid(first_idx, head.generation + 1)));
}

/*
 * Pop @n elements off the free list; they stay chained, the last one ends
 * the chain.  Returns NULL only if the list is (consistently) shorter than
 * @n, which a caller holding a reservation sees only while a grow is between
 * its push and its capacity update.  Caller has preemption disabled.
 */
static struct lt_elem *lt_free_list_pop(struct link_table *t, int n)
{
	for (;;) {
		/* acquire: links written before a push's CAS are visible */
		s64 old = atomic64_read_acquire(&t->free_list);
		/* acquire: every index on the list has its slab published */
		u32 nelem = smp_load_acquire(&t->nelem);
		struct ltable_id head = { .id = old };
		struct lt_elem *first = NULL, *e = NULL;
		u32 idx = head.idx;
		int i;

		for (i = 0; i < n && idx < nelem; i++) {
			e = lt_elem_idx(t, idx);
			if (!first)
				first = e;
			idx = READ_ONCE(e->lt_next_idx);
		}
		if (i < n || (idx != LT_IDX_MAX && idx >= nelem)) {
			/* short or torn read: only trust it if nothing moved */
			if (atomic64_read_acquire(&t->free_list) == old)
				return NULL;
			continue;
		}
		if (atomic64_try_cmpxchg(&t->free_list, &old,
					 lt_mkid(idx, head.generation + 1))) {
			WRITE_ONCE(e->lt_next_idx, LT_IDX_MAX);
			return first;
		}
	}
}

/* Add one slab (or what is left up to max_nelem). */
static int lt_add_slab(struct link_table *t)
	__must_hold(&t->lock)
{
	u32 nelem = t->nelem, nadd, i;
	struct lt_elem *slab, *e = NULL;

	lockdep_assert_held(&t->lock);
	nadd = min(t->slab_elem, t->max_nelem - nelem);
	if (!nadd)
		return -ENOSPC;
	slab = kvzalloc(t->slab_sz, GFP_KERNEL);
	if (!slab)
		return -ENOMEM;

	for (i = 0; i < nadd; i++) {
		e = (void *)slab + ((size_t)i << t->elem_shift);
		e->lt_id.id = lt_mkid(nelem + i, 1);
		e->lt_bits = 0;
		e->lt_next_idx = nelem + i + 1;
	}

	WRITE_ONCE(t->table[nelem >> t->slab_elem_shift], slab);
	/* release: initialized slab and its pointer before the new bound */
	smp_store_release(&t->nelem, nelem + nadd);
	t->nslabs++;

	preempt_disable();
	lt_free_list_push(t, slab, e);
	/* release: reservations against the new capacity find the elements */
	smp_store_release(&t->capacity, t->capacity + nadd);
	preempt_enable();
	return 0;
}

static int lt_grow(struct link_table *t, u32 min_free)
{
	u32 need = max(min_free, 1U), free_elem;
	int used, err = 0;

	mutex_lock(&t->lock);
	used = atomic_read(&t->used_elem);
	free_elem = used < t->capacity ? t->capacity - used : 0;
	/*
	 * Someone may have grown the table while we waited for the lock; keep
	 * a CPU's worth of slack on top of what the caller needs.
	 */
	if ((u64)free_elem < (u64)need + nr_cpu_ids) {
		err = lt_add_slab(t);
		if (err == -ENOSPC && free_elem >= need)
			err = 0;
	}
	mutex_unlock(&t->lock);
	return err;
}

static void lt_stat_used(struct link_table *t, u32 used)
{
	if (used > this_cpu_read(t->stats->max_used))
		this_cpu_write(t->stats->max_used, used);
	this_cpu_write(t->stats->avg_used,
		       (this_cpu_read(t->stats->avg_used) + used) / 2);
}

static void lt_stat_reservations(struct link_table *t, long delta)
{
	long r = atomic_long_add_return(delta, &t->live_reservations);
	u64 ur = r > 0 ? r : 0;

	this_cpu_add(t->stats->nreservations, delta);
	if (ur > this_cpu_read(t->stats->max_reservations))
		this_cpu_write(t->stats->max_reservations, ur);
	this_cpu_write(t->stats->avg_reservations,
		       (this_cpu_read(t->stats->avg_reservations) + ur) / 2);
}

/*
 * Walk the free list of a table nobody is changing.  Returns the number of
 * free elements, or -EAGAIN if the list moved under the walk, or -EUCLEAN if
 * it is corrupt (loop, out-of-range index, live element, length mismatch).
 */
static int lt_walk_free_list(struct link_table *t, unsigned long *seen)
{
	/* acquire: as in lt_free_list_pop() */
	s64 head = atomic64_read_acquire(&t->free_list);
	/* acquire: pairs with lt_add_slab() */
	u32 nelem = smp_load_acquire(&t->nelem);
	u32 idx = lt_id_idx(head);
	int n = 0, ret;

	while (idx != LT_IDX_MAX) {
		struct lt_elem *e;

		if (idx >= nelem || (seen && __test_and_set_bit(idx, seen)) ||
		    n >= nelem) {
			ret = -EUCLEAN;
			goto out;
		}
		e = lt_elem_idx(t, idx);
		if (seen && READ_ONCE(e->lt_bits)) {
			ret = -EUCLEAN;
			goto out;
		}
		idx = READ_ONCE(e->lt_next_idx);
		n++;
	}
	ret = n;
out:
	if (atomic64_read(&t->free_list) != head)
		return -EAGAIN;
	return ret;
}

static int ltable_stats_show(struct seq_file *m, void *v)
{
	struct link_table *t = m->private;
	struct ltable_stats s = { 0 };
	u64 avg_used = 0, avg_res = 0;
	unsigned int cpu, ncpus = 0;
	int free_len = -EAGAIN, i;

	for_each_possible_cpu(cpu) {
		struct ltable_stats *c = per_cpu_ptr(t->stats, cpu);

		s.nallocs += READ_ONCE(c->nallocs);
		s.nreallocs += READ_ONCE(c->nreallocs);
		s.npreposts += READ_ONCE(c->npreposts);
		s.nreservations += READ_ONCE(c->nreservations);
		s.nreserved_releases += READ_ONCE(c->nreserved_releases);
		s.nspins += READ_ONCE(c->nspins);
		s.nfails += READ_ONCE(c->nfails);
		s.max_used = max(s.max_used, READ_ONCE(c->max_used));
		s.max_reservations = max(s.max_reservations,
					 READ_ONCE(c->max_reservations));
		if (READ_ONCE(c->nallocs)) {
			avg_used += READ_ONCE(c->avg_used);
			avg_res += READ_ONCE(c->avg_reservations);
			ncpus++;
		}
	}
	for (i = 0; i < 3 && free_len == -EAGAIN; i++)
		free_len = lt_walk_free_list(t, NULL);

	seq_printf(m, "name: %s\n", t->name);
	seq_printf(m, "nelem: %u\n", ltable_nelem(t));
	seq_printf(m, "max_nelem: %u\n", t->max_nelem);
	seq_printf(m, "used_elem: %d\n", atomic_read(&t->used_elem));
	if (free_len >= 0)
		seq_printf(m, "free_list_len: %d\n", free_len);
	else
		seq_printf(m, "free_list_len: %s\n",
			   free_len == -EAGAIN ? "busy" : "corrupt");
	seq_printf(m, "elem_sz: %u\n", t->elem_sz);
	seq_printf(m, "slab_sz: %u\n", t->slab_sz);
	seq_printf(m, "slab_elem: %u\n", t->slab_elem);
	seq_printf(m, "nslabs: %u\n", READ_ONCE(t->nslabs));
	seq_printf(m, "nallocs: %llu\n", s.nallocs);
	seq_printf(m, "nreallocs: %llu\n", s.nreallocs);
	seq_printf(m, "npreposts: %llu\n", s.npreposts);
	seq_printf(m, "nreservations: %lld\n", s.nreservations);
	seq_printf(m, "nreserved_releases: %llu\n", s.nreserved_releases);
	seq_printf(m, "nspins: %llu\n", s.nspins);
	seq_printf(m, "nfails: %llu\n", s.nfails);
	seq_printf(m, "max_used: %u\n", s.max_used);
	seq_printf(m, "avg_used: %llu\n", ncpus ? avg_used / ncpus : 0);
	seq_printf(m, "max_reservations: %llu\n", s.max_reservations);
	seq_printf(m, "avg_reservations: %llu\n", ncpus ? avg_res / ncpus : 0);
	seq_printf(m, "misuse: %ld\n", atomic_long_read(&t->misuse));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ltable_stats);

/**
 * ltable_init() - initialize a link table
 * @table: the table, embedded in the caller's structure
 * @name: name shown in debugfs (kprim/ltable/<name>) and in reports
 * @max_tbl_elem: maximum number of elements, 1 to %LT_IDX_MAX
 * @elem_sz: element size in bytes: a power of two, at least
 *	sizeof(struct lt_elem), at most 64 KiB
 * @poison: optional callback run on each element as it is freed
 *
 * Allocates the slab pointer page and the first slab.  The slab size is the
 * maximum table size divided by the number of slab pointers in a page,
 * rounded up to a power of two, and at least a page and @elem_sz.
 *
 * Context: process context, may sleep.
 * Return: 0, -%EINVAL for a bad @elem_sz or @max_tbl_elem (reported as a
 * misuse, counted in @table->misuse), or -%ENOMEM.
 */
int ltable_init(struct link_table *table, const char *name, u32 max_tbl_elem,
		u32 elem_sz, ltable_poison_func poison)
{
	u64 max_bytes;
	u32 slab_sz;
	int err;

	might_sleep();
	memset(table, 0, sizeof(*table));
	strscpy(table->name, name ?: "ltable", sizeof(table->name));

	if ((!is_power_of_2(elem_sz) || elem_sz < sizeof(struct lt_elem) ||
	     elem_sz > LT_ELEM_SZ_MAX) &&
	    LT_MISUSE(table, "element size %u is not a power of two in [%zu, %u]",
		      elem_sz, sizeof(struct lt_elem), LT_ELEM_SZ_MAX))
		return -EINVAL;
	if ((!max_tbl_elem || max_tbl_elem > LT_IDX_MAX) &&
	    LT_MISUSE(table, "max size %u elements not in [1, %u]",
		      max_tbl_elem, LT_IDX_MAX))
		return -EINVAL;

	max_bytes = round_up((u64)max_tbl_elem * elem_sz, PAGE_SIZE);
	slab_sz = roundup_pow_of_two(max_t(u64, DIV_ROUND_UP(max_bytes, LT_NSLOTS),
					   max_t(u32, PAGE_SIZE, elem_sz)));

	table->elem_sz = elem_sz;
	table->elem_shift = ilog2(elem_sz);
	table->slab_sz = slab_sz;
	table->slab_elem = slab_sz / elem_sz;
	table->slab_elem_shift = ilog2(table->slab_elem);
	table->max_nelem = max_tbl_elem;
	table->poison = poison;
	atomic64_set(&table->free_list, lt_mkid(LT_IDX_MAX, 0));
	mutex_init(&table->lock);
	INIT_LIST_HEAD(&table->node);

	table->table = kzalloc(PAGE_SIZE, GFP_KERNEL);
	table->stats = kprim_alloc_percpu(struct ltable_stats);
	err = -ENOMEM;
	if (!table->table || !table->stats)
		goto fail;
	mutex_lock(&table->lock);
	err = lt_add_slab(table);
	mutex_unlock(&table->lock);
	if (err)
		goto fail;

	mutex_lock(&ltable_list_lock);
	list_add_tail(&table->node, &ltable_list);
	if (ltable_dir)
		table->debugfs = debugfs_create_file(table->name, 0444, ltable_dir,
						     table, &ltable_stats_fops);
	mutex_unlock(&ltable_list_lock);
	return 0;

fail:
	free_percpu(table->stats);
	kfree(table->table);
	table->stats = NULL;
	table->table = NULL;
	return err;
}
EXPORT_SYMBOL_KPRIM(ltable_init);

/**
 * ltable_destroy() - free a link table's memory
 * @table: a table set up by ltable_init()
 *
 * Every element must have been freed.  If some are still live, the misuse is
 * reported with their number and the table is left intact (and usable), as
 * freeing it would leave the holders with dangling pointers.
 *
 * Context: process context, may sleep.  No other call on @table may run
 * concurrently.
 */
void ltable_destroy(struct link_table *table)
{
	u32 i, used;

	might_sleep();
	if (!table->table &&
	    LT_MISUSE(table, "table not initialized or already destroyed"))
		return;
	used = atomic_read(&table->used_elem);
	if (used &&
	    LT_MISUSE(table, "%u live elements (of %u), table left intact",
		      used, table->nelem))
		return;

	mutex_lock(&ltable_list_lock);
	list_del_init(&table->node);
	debugfs_remove(table->debugfs);
	table->debugfs = NULL;
	mutex_unlock(&ltable_list_lock);

	for (i = 0; i < LT_NSLOTS && table->table[i]; i++)
		kvfree(table->table[i]);
	kfree(table->table);
	table->table = NULL;
	free_percpu(table->stats);
	table->stats = NULL;
	mutex_destroy(&table->lock);
}
EXPORT_SYMBOL_KPRIM(ltable_destroy);

/**
 * ltable_grow() - add a slab of elements unless enough are free
 * @table: the table
 * @min_free: number of free elements the caller wants available
 *
 * Does nothing when at least @min_free plus one per possible CPU elements
 * are free.  Growth of a table at its maximum size fails.
 *
 * Context: process context, may sleep (takes the table mutex, allocates with
 * GFP_KERNEL).  Called from atomic context it reports a misuse and returns
 * -%EAGAIN (detected on kernels with CONFIG_PREEMPT_COUNT).
 * Return: 0 when at least max(@min_free, 1) elements were free or a slab was
 * added, -%ENOSPC if the table is at its maximum size with fewer free, or
 * -%ENOMEM.
 */
int ltable_grow(struct link_table *table, u32 min_free)
{
	if (IS_ENABLED(CONFIG_PREEMPT_COUNT) && !lt_can_sleep() &&
	    LT_MISUSE(table, "called from atomic context"))
		return -EAGAIN;
	might_sleep();
	return lt_grow(table, min_free);
}
EXPORT_SYMBOL_KPRIM(ltable_grow);

/**
 * ltable_nelem() - current number of elements (free and used) in a table
 * @table: the table
 *
 * Context: any.
 * Return: the number of backed element slots; indices below it are valid.
 */
u32 ltable_nelem(struct link_table *table)
{
	/* acquire: pairs with lt_add_slab(); indices below are backed */
	return smp_load_acquire(&table->nelem);
}
EXPORT_SYMBOL_KPRIM(ltable_nelem);

/* Give popped elements a new generation, one reference and @type. */
static void lt_init_allocated(struct link_table *t, struct lt_elem *first,
			      int type, int n)
{
	struct lt_elem *e = first;
	int i;

	for (i = 0; i < n; i++) {
		struct ltable_id id = { .id = READ_ONCE(e->lt_id.id) };
		u32 bits = READ_ONCE(e->lt_bits);

		/* only a corrupted table hands out a live element */
		WARN_ON_ONCE(lt_bits_valid(bits) || lt_bits_refcnt(bits));
		WRITE_ONCE(e->lt_id.id, lt_mkid(id.idx, id.generation + 2));
		/* new id before the bits: a get that sees them sees the id */
		smp_wmb();
		WRITE_ONCE(e->lt_bits, 1U | ((u32)type << LT_BITS_TYPE_SHIFT));
		if (i + 1 < n)
			e = lt_elem_idx(t, READ_ONCE(e->lt_next_idx));
	}
}

/**
 * ltable_alloc_elem() - allocate one element or a chain of them
 * @table: the table
 * @type: %LT_ELEM, %LT_LINK or %LT_RESERVED
 * @nelem: number of elements, chained through lt_next_idx (see
 *	lt_elem_list_next())
 * @nattempts: if > 0, give up after that many rounds that found the table
 *	full; if <= 0, try until the table cannot grow any more
 *
 * The elements come with a new id, one reference each and no valid bit: call
 * lt_elem_mkvalid() to publish one, or ltable_put_elem() to free it again.
 *
 * Context: any.  A caller that can sleep grows a full table (and may sleep
 * for it); an atomic caller spins a few microseconds for a concurrent grow,
 * then fails.  Without CONFIG_PREEMPT_COUNT every caller counts as atomic.
 * Return: the first element, or NULL if the table is full, could not grow,
 * or @type/@nelem are invalid (a reported misuse).
 */
struct lt_elem *ltable_alloc_elem(struct link_table *table, int type,
				  int nelem, int nattempts)
{
	bool can_sleep = lt_can_sleep();
	int tries = 0, spins = 0;
	struct lt_elem *first;

	if (!lt_type_ok(type) &&
	    LT_MISUSE(table, "invalid element type %d", type))
		return NULL;
	if ((nelem <= 0 || nelem > table->max_nelem) &&
	    LT_MISUSE(table, "%d elements requested (max %u)",
		      nelem, table->max_nelem))
		return NULL;
	if (can_sleep)
		might_sleep();

	for (;;) {
		u32 cap, used;

		preempt_disable();
		/* acquire: pairs with lt_add_slab(), the pushed elements are seen */
		cap = smp_load_acquire(&table->capacity);
		used = atomic_add_return(nelem, &table->used_elem);
		first = used <= cap ? lt_free_list_pop(table, nelem) : NULL;
		if (first) {
			lt_init_allocated(table, first, type, nelem);
			this_cpu_add(table->stats->nallocs, nelem);
			lt_stat_used(table, used);
			if (type == LT_RESERVED)
				lt_stat_reservations(table, nelem);
			preempt_enable();
			return first;
		}
		atomic_sub(nelem, &table->used_elem);
		preempt_enable();

		if (nattempts > 0 && ++tries >= nattempts)
			break;
		if (can_sleep && used > cap) {
			if (lt_grow(table, nelem))
				break;
			continue;
		}
		/* atomic, or a grow is between its push and its capacity update */
		this_cpu_inc(table->stats->nspins);
		if (!can_sleep && ++spins > LT_ATOMIC_SPINS)
			break;
		if (can_sleep)
			cond_resched();
		else
			udelay(1);
	}
	this_cpu_inc(table->stats->nfails);
	return NULL;
}
EXPORT_SYMBOL_KPRIM(ltable_alloc_elem);

static void lt_set_type(struct lt_elem *elem, int type)
{
	u32 bits = READ_ONCE(elem->lt_bits), new_bits;

	do {
		new_bits = (bits & ~LT_BITS_TYPE) | ((u32)type << LT_BITS_TYPE_SHIFT);
	} while (!try_cmpxchg(&elem->lt_bits, &bits, new_bits));
}

/**
 * ltable_realloc_elem() - give an allocated, invalid element a new identity
 * @table: the table
 * @elem: an element allocated from @table, not valid, with its references
 * @type: its new type (%LT_ELEM, %LT_LINK or %LT_RESERVED)
 *
 * Moves the generation on (the old id stops resolving), detaches @elem from
 * any reserved list and sets @type.  The reference count is left alone.
 * Misuse (a valid or free element, an element of another table, a bad type)
 * is reported and nothing changes.
 *
 * Context: any.  The caller owns @elem.
 */
void ltable_realloc_elem(struct link_table *table, struct lt_elem *elem, int type)
{
	struct ltable_id id;
	u32 bits;
	int old_type;

	if (!lt_elem_in_table(table, elem) &&
	    LT_MISUSE(table, "%p is not an element of the table", elem))
		return;
	if (!lt_type_ok(type) &&
	    LT_MISUSE(table, "invalid element type %d", type))
		return;
	bits = READ_ONCE(elem->lt_bits);
	if ((lt_bits_valid(bits) || !lt_bits_refcnt(bits)) &&
	    LT_MISUSE(table, "element %#llx is %s (bits %#x)",
		      READ_ONCE(elem->lt_id.id),
		      lt_bits_valid(bits) ? "valid" : "free", bits))
		return;

	this_cpu_inc(table->stats->nreallocs);
	old_type = lt_bits_type(bits);
	if (old_type == LT_RESERVED && type != LT_RESERVED)
		lt_stat_reservations(table, -1);
	else if (old_type != LT_RESERVED && type == LT_RESERVED)
		lt_stat_reservations(table, 1);

	id.id = READ_ONCE(elem->lt_id.id);
	WRITE_ONCE(elem->lt_id.id, lt_mkid(id.idx, id.generation + 2));
	WRITE_ONCE(elem->lt_next_idx, LT_IDX_MAX);
	lt_set_type(elem, type);
}
EXPORT_SYMBOL_KPRIM(ltable_realloc_elem);

/* @elem has no reference and no valid bit: give it back. */
static void lt_free_elem(struct link_table *t, struct lt_elem *elem)
{
	if (lt_bits_type(READ_ONCE(elem->lt_bits)) == LT_RESERVED)
		lt_stat_reservations(t, -1);
	WRITE_ONCE(elem->lt_bits, 0);
	if (t->poison)
		t->poison(t, elem);

	preempt_disable();
	lt_free_list_push(t, elem, elem);
	lt_stat_used(t, atomic_dec_return(&t->used_elem));
	preempt_enable();
}

/**
 * ltable_get_elem() - take a reference on the element named by an id
 * @table: the table
 * @id: an id obtained from &struct lt_elem.lt_id of an element of @table
 *
 * Return: the element with one more reference, to be dropped with
 * ltable_put_elem(), or NULL if @id is 0, stale (the slot was freed or
 * reallocated since), or names an invalid element.  An @id whose index is
 * beyond the table, or an element whose reference count would overflow, is
 * a reported misuse (NULL).
 *
 * Context: any.
 */
struct lt_elem *ltable_get_elem(struct link_table *table, u64 id)
{
	u32 idx = lt_id_idx(id), nelem = ltable_nelem(table);
	struct lt_elem *elem;
	u32 bits;

	if (idx >= nelem &&
	    LT_MISUSE(table, "id %#llx: index %u beyond the table (%u elements)",
		      id, idx, nelem))
		return NULL;

	elem = lt_elem_idx(table, idx);
	bits = READ_ONCE(elem->lt_bits);
	do {
		if (!lt_bits_valid(bits) || READ_ONCE(elem->lt_id.id) != id)
			return NULL;
		if (lt_bits_refcnt(bits) == LT_BITS_REFCNT_MASK &&
		    LT_MISUSE(table, "id %#llx: reference count overflow", id))
			return NULL;
	} while (!try_cmpxchg(&elem->lt_bits, &bits, bits + 1));

	/* the slot may have been recycled between the check and the CAS */
	if (READ_ONCE(elem->lt_id.id) != id) {
		ltable_put_elem(table, elem);
		return NULL;
	}
	return elem;
}
EXPORT_SYMBOL_KPRIM(ltable_get_elem);

/**
 * ltable_put_elem() - drop a reference on an element
 * @table: the table
 * @elem: an element of @table on which the caller holds a reference
 *
 * When the last reference of an invalid element goes, the poison callback
 * runs and the element returns to the free list.  A put without a reference
 * (underflow) or of a foreign pointer is a reported misuse and changes
 * nothing.
 *
 * Context: any.
 */
void ltable_put_elem(struct link_table *table, struct lt_elem *elem)
{
	u32 bits, new_bits;

	if (!lt_elem_in_table(table, elem) &&
	    LT_MISUSE(table, "%p is not an element of the table", elem))
		return;
	bits = READ_ONCE(elem->lt_bits);
	do {
		if (!lt_bits_refcnt(bits) &&
		    LT_MISUSE(table, "element %#llx: reference count underflow (bits %#x)",
			      READ_ONCE(elem->lt_id.id), bits))
			return;
		new_bits = bits - 1;
	} while (!try_cmpxchg(&elem->lt_bits, &bits, new_bits));

	if (!lt_bits_valid(new_bits) && !lt_bits_refcnt(new_bits))
		lt_free_elem(table, elem);
}
EXPORT_SYMBOL_KPRIM(ltable_put_elem);

/**
 * lt_elem_invalidate() - clear an element's valid bit
 * @elem: an element on which the caller holds a reference
 *
 * After this, ltable_get_elem() no longer resolves the element's id; the
 * element is freed when the last reference is put.  Does not take or drop a
 * reference.  Invalidating an invalid element (other than a reserved one),
 * a valid reserved element, or an element on which nobody holds a reference
 * (it would never be freed) is a reported misuse.
 *
 * Context: any.
 */
void lt_elem_invalidate(struct lt_elem *elem)
{
	u32 bits = READ_ONCE(elem->lt_bits);

	do {
		if (!lt_bits_valid(bits)) {
			if (lt_bits_type(bits) != LT_RESERVED)
				KPRIM_MISUSE(&ltable_misuse,
					     "%s: element %#llx already invalid (bits %#x)",
					     __func__, READ_ONCE(elem->lt_id.id), bits);
			return;
		}
	} while (!try_cmpxchg(&elem->lt_bits, &bits, bits & ~LT_BITS_VALID));

	if (lt_bits_type(bits) == LT_RESERVED)
		KPRIM_MISUSE(&ltable_misuse,
			     "%s: reserved element %#llx was valid",
			     __func__, READ_ONCE(elem->lt_id.id));
	else if (!lt_bits_refcnt(bits))
		KPRIM_MISUSE(&ltable_misuse,
			     "%s: element %#llx invalidated without a reference; it leaks",
			     __func__, READ_ONCE(elem->lt_id.id));
}
EXPORT_SYMBOL_KPRIM(lt_elem_invalidate);

/**
 * lt_elem_mkvalid() - set an element's valid bit
 * @elem: an allocated (not free), invalid, non-reserved element on which
 *	the caller holds a reference
 *
 * Makes the element's id resolvable by ltable_get_elem().  Does not take or
 * drop a reference.  Anything else is a reported misuse and changes nothing.
 *
 * Context: any.
 */
void lt_elem_mkvalid(struct lt_elem *elem)
{
	u32 bits = READ_ONCE(elem->lt_bits);

	do {
		if ((lt_bits_valid(bits) || !lt_bits_refcnt(bits) ||
		     lt_bits_type(bits) == LT_RESERVED) &&
		    KPRIM_MISUSE(&ltable_misuse,
				 "%s: element %#llx is valid, free or reserved (bits %#x)",
				 __func__, READ_ONCE(elem->lt_id.id), bits))
			return;
	} while (!try_cmpxchg(&elem->lt_bits, &bits, bits | LT_BITS_VALID));
}
EXPORT_SYMBOL_KPRIM(lt_elem_mkvalid);

/* Is @elem allocated and invalid, as every member of a list must be? */
static bool lt_list_member_ok(struct link_table *t, struct lt_elem *elem)
{
	u32 bits;

	if (!lt_elem_in_table(t, elem))
		return false;
	bits = READ_ONCE(elem->lt_bits);
	return !lt_bits_valid(bits) && lt_bits_refcnt(bits);
}

/**
 * lt_elem_list_link() - append a child (list) to the end of a parent's list
 * @table: the table
 * @parent: first element of a list of allocated, invalid elements
 * @child: element (or list) to append, or NULL to just count
 *
 * Context: any; the caller owns both lists.
 * Return: the number of elements in @parent's list before @child was
 * appended, or -%EINVAL (reported misuse, nothing changed) if an element is
 * not an allocated, invalid element of @table, the list is corrupt, or
 * @child is already on it.
 */
int lt_elem_list_link(struct link_table *table, struct lt_elem *parent,
		      struct lt_elem *child)
{
	u32 nelem = ltable_nelem(table), next;
	int n = 1;

	if (!lt_list_member_ok(table, parent) &&
	    LT_MISUSE(table, "bad parent %p", parent))
		return -EINVAL;
	if (child && !lt_list_member_ok(table, child) &&
	    LT_MISUSE(table, "bad child %p", child))
		return -EINVAL;

	for (;;) {
		if (parent == child &&
		    LT_MISUSE(table, "child %p already on the list", child))
			return -EINVAL;
		next = READ_ONCE(parent->lt_next_idx);
		if (next == LT_IDX_MAX)
			break;
		if ((next >= nelem || n >= nelem) &&
		    LT_MISUSE(table, "corrupt list (next %u after %d elements)",
			      next, n))
			return -EINVAL;
		parent = lt_elem_idx(table, next);
		n++;
	}
	if (child)
		WRITE_ONCE(parent->lt_next_idx, lt_id_idx(READ_ONCE(child->lt_id.id)));
	return n;
}
EXPORT_SYMBOL_KPRIM(lt_elem_list_link);

/**
 * lt_elem_list_first() - resolve the id of a reserved list's head
 * @table: the table
 * @id: id of the first element of a reserved list, or 0
 *
 * Takes no reference: the list holds it.
 *
 * Context: any; the caller owns the list.
 * Return: the element, or NULL if @id is 0 or stale.  An @id beyond the
 * table, or one naming an element that is valid, not %LT_RESERVED or not
 * holding exactly one reference, is a reported misuse (NULL).
 */
struct lt_elem *lt_elem_list_first(struct link_table *table, u64 id)
{
	u32 idx = lt_id_idx(id), nelem = ltable_nelem(table), bits;
	struct lt_elem *elem;

	if (!id)
		return NULL;
	if (idx >= nelem &&
	    LT_MISUSE(table, "id %#llx: index %u beyond the table (%u elements)",
		      id, idx, nelem))
		return NULL;
	elem = lt_elem_idx(table, idx);
	if (READ_ONCE(elem->lt_id.id) != id)
		return NULL;
	bits = READ_ONCE(elem->lt_bits);
	if ((lt_bits_valid(bits) || lt_bits_type(bits) != LT_RESERVED ||
	     lt_bits_refcnt(bits) != 1) &&
	    LT_MISUSE(table, "id %#llx: valid or unreserved element in a reserved list (bits %#x)",
		      id, bits))
		return NULL;
	return elem;
}
EXPORT_SYMBOL_KPRIM(lt_elem_list_first);

/**
 * lt_elem_list_next() - the element after @head on its list
 * @table: the table
 * @head: a list element, or NULL
 *
 * Context: any; the caller owns the list.
 * Return: the next element, or NULL at the end of the list.
 */
struct lt_elem *lt_elem_list_next(struct link_table *table, struct lt_elem *head)
{
	u32 next;

	if (!head)
		return NULL;
	next = READ_ONCE(head->lt_next_idx);
	if (next >= ltable_nelem(table))
		return NULL;
	return lt_elem_idx(table, next);
}
EXPORT_SYMBOL_KPRIM(lt_elem_list_next);

/**
 * lt_elem_list_break() - cut a list after @elem
 * @table: the table
 * @elem: a list element, or NULL
 *
 * Context: any; the caller owns the list.
 * Return: the element that followed @elem (the head of the second half), or
 * NULL.  @elem ends its list afterwards.
 */
struct lt_elem *lt_elem_list_break(struct link_table *table, struct lt_elem *elem)
{
	struct lt_elem *next;

	if (!elem)
		return NULL;
	next = lt_elem_list_next(table, elem);
	WRITE_ONCE(elem->lt_next_idx, LT_IDX_MAX);
	return next;
}
EXPORT_SYMBOL_KPRIM(lt_elem_list_break);

/**
 * lt_elem_list_pop() - take the first element off a reserved list
 * @table: the table
 * @id: in: id of the list's first element; out: id of the new first
 *	element, or 0 when the list is empty
 * @type: type the popped element is reallocated to
 *
 * The popped element is reallocated (new id, type @type, still invalid) and
 * keeps the list's reference, which now belongs to the caller.
 *
 * Context: any; the caller owns the list.
 * Return: the element, or NULL (and *@id = 0) if the list is empty or its
 * head is stale.
 */
struct lt_elem *lt_elem_list_pop(struct link_table *table, u64 *id, int type)
{
	struct lt_elem *first, *next;

	if (!id || !*id)
		return NULL;
	first = lt_elem_list_first(table, *id);
	if (!first) {
		*id = 0;
		return NULL;
	}
	next = lt_elem_list_next(table, first);
	*id = next ? READ_ONCE(next->lt_id.id) : 0;
	ltable_realloc_elem(table, first, type);
	return first;
}
EXPORT_SYMBOL_KPRIM(lt_elem_list_pop);

/**
 * lt_elem_list_release() - free a whole list of allocated elements
 * @table: the table
 * @head: first element of the list, or NULL
 * @type: the type every element must have
 *
 * Each element must be invalid, of @type, and hold exactly one reference
 * (the list's).  All of them are poisoned and returned to the free list in
 * one push.
 *
 * Context: any; the caller owns the list.
 * Return: the number of elements freed, or -%EINVAL (reported misuse,
 * nothing freed) if an element does not qualify or the list is corrupt.
 */
int lt_elem_list_release(struct link_table *table, struct lt_elem *head, int type)
{
	u32 nelem = ltable_nelem(table), next, bits;
	struct lt_elem *e, *last = head;
	int n = 0;

	if (!head)
		return 0;
	for (e = head; ; e = lt_elem_idx(table, next)) {
		if (!lt_elem_in_table(table, e) &&
		    LT_MISUSE(table, "%p is not an element of the table", e))
			return -EINVAL;
		bits = READ_ONCE(e->lt_bits);
		if ((lt_bits_valid(bits) || lt_bits_refcnt(bits) != 1 ||
		     lt_bits_type(bits) != type) &&
		    LT_MISUSE(table, "element %#llx (bits %#x) is no unused type-%d list member",
			      READ_ONCE(e->lt_id.id), bits, type))
			return -EINVAL;
		next = READ_ONCE(e->lt_next_idx);
		if (++n >= nelem && next != LT_IDX_MAX &&
		    LT_MISUSE(table, "list loops"))
			return -EINVAL;
		if (next == LT_IDX_MAX)
			break;
		if (next >= nelem &&
		    LT_MISUSE(table, "corrupt link %u", next))
			return -EINVAL;
	}

	for (e = head; ; e = lt_elem_idx(table, next)) {
		next = READ_ONCE(e->lt_next_idx);
		WRITE_ONCE(e->lt_bits, 0);
		if (table->poison)
			table->poison(table, e);
		last = e;
		if (next == LT_IDX_MAX)
			break;
	}
	if (type == LT_RESERVED) {
		this_cpu_inc(table->stats->nreserved_releases);
		lt_stat_reservations(table, -n);
	}

	preempt_disable();
	lt_free_list_push(table, head, last);
	lt_stat_used(table, atomic_sub_return(n, &table->used_elem));
	preempt_enable();
	return n;
}
EXPORT_SYMBOL_KPRIM(lt_elem_list_release);

/**
 * ltable_misuse_count() - number of ltable misuse reports since load
 *
 * Counts the reports of every table and of the element functions that take
 * no table (lt_elem_invalidate(), lt_elem_mkvalid()).  For tests and
 * diagnostics.
 *
 * Context: any.
 * Return: the count.
 */
unsigned long ltable_misuse_count(void)
{
	return atomic_long_read(&ltable_misuse);
}
EXPORT_SYMBOL_KPRIM(ltable_misuse_count);

/**
 * ltable_check() - check a quiescent table's free list
 * @table: the table; no other call on it may run concurrently
 *
 * Walks the whole free list and checks that every index is in range and
 * appears once, that every free element has no reference, type or valid bit,
 * and that the list holds exactly the elements not in use.  A debugging aid
 * for consumers' tests (the list is private to the table).
 *
 * Context: process context, may sleep.
 * Return: the number of free elements, -%EUCLEAN if the table is corrupt,
 * -%EAGAIN if it changed during the walk, or -%ENOMEM.
 */
int ltable_check(struct link_table *table)
{
	u32 nelem = ltable_nelem(table);
	unsigned long *seen;
	int n;

	might_sleep();
	seen = bitmap_zalloc(nelem, GFP_KERNEL);
	if (!seen)
		return -ENOMEM;
	n = lt_walk_free_list(table, seen);
	bitmap_free(seen);
	if (n >= 0 && (u32)n + atomic_read(&table->used_elem) != table->capacity)
		return -EUCLEAN;
	return n;
}
EXPORT_SYMBOL_KPRIM(ltable_check);

static int ltable_misuse_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%lu\n", ltable_misuse_count());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ltable_misuse);

int kprim_ltable_setup(struct dentry *root)
{
	mutex_lock(&ltable_list_lock);
	ltable_dir = debugfs_create_dir("ltable", root);
	debugfs_create_file("misuse", 0444, ltable_dir, NULL, &ltable_misuse_fops);
	mutex_unlock(&ltable_list_lock);
	return 0;
}

void kprim_ltable_teardown(void)
{
	struct link_table *t;

	mutex_lock(&ltable_list_lock);
	list_for_each_entry(t, &ltable_list, node) {
		pr_warn("ltable %s still initialized at unload\n", t->name);
		t->debugfs = NULL;
	}
	debugfs_remove_recursive(ltable_dir);
	ltable_dir = NULL;
	mutex_unlock(&ltable_list_lock);
}
