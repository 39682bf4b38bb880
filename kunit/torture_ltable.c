// SPDX-License-Identifier: GPL-2.0
/*
 * ltable torture.  One table ("torture_ltable", small slabs, so it grows
 * while the workers run) and an array of published ids.  Worker kthreads:
 *
 *   publish     allocate an LT_ELEM or LT_LINK element (sometimes with
 *               preemption disabled, where a full table fails instead of
 *               growing), make it valid, publish its id, drop the
 *               allocation reference; retire the id it replaced
 *   look up     ltable_get_elem() a published id, check the incarnation,
 *               sometimes take a second reference
 *   reserve     allocate an LT_RESERVED chain, count it, pop some of its
 *               elements with lt_elem_list_pop() and publish them, link
 *               another chain to it, break it, release the rest
 *   realloc     give an element a new identity: the old id must not
 *               resolve any more, the new one must
 *   retire      take an id out of its slot: get, invalidate, put
 *
 * Each element carries the id it was allocated under; the table's poison
 * callback replaces it with a poison value, and reports an element that is
 * freed while already poisoned (freed twice); an allocation must return an
 * element that is free (poisoned, or never used).  At the end, every id is
 * retired, elements freed equal elements allocated, and ltable_check()
 * walks the free list: every element of the table must be on it exactly
 * once.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <kprim/ltable.h>

#include "torture.h"

#define TLT_SLOTS	256
#define TLT_MAX_ELEM	8192
#define TLT_POISON	0x4c54504f49534f4eULL

struct tlt_elem {
	struct lt_elem hdr;
	u64 payload;		/* the id, or TLT_POISON once freed */
	u64 spare;
};

static struct {
	struct link_table table;
	bool init;
	atomic64_t slots[TLT_SLOTS];
	unsigned long misuse_before;
	int check;			/* ltable_check() at the end */
	u32 nelem;
} tlt;

static struct {
	atomic_long_t allocated, freed, published, gets, hits, second_refs;
	atomic_long_t chains, popped, linked, reallocs, retired, nulls;
} tlt_stats;

static inline struct tlt_elem *to_tlt(struct lt_elem *e)
{
	return container_of(e, struct tlt_elem, hdr);
}

static inline u64 tlt_id(struct lt_elem *e)
{
	return READ_ONCE(e->lt_id.id);
}

static inline u32 tlt_bits(struct lt_elem *e)
{
	return READ_ONCE(e->lt_bits);
}

static void tlt_poison(struct link_table *table, struct lt_elem *elem)
{
	struct tlt_elem *te = to_tlt(elem);

	if (READ_ONCE(te->payload) == TLT_POISON)
		torture_error(&torture_ltable, "element %p (idx %u) freed twice",
			      elem, (u32)elem->lt_id.idx);
	WRITE_ONCE(te->payload, TLT_POISON);
	atomic_long_inc(&tlt_stats.freed);
}

/* A fresh element: free before, one reference, not valid; tag it. */
static void tlt_fresh(struct torture_thread *th, struct lt_elem *e, int type)
{
	struct tlt_elem *te = to_tlt(e);
	u64 payload = READ_ONCE(te->payload);
	u32 bits = tlt_bits(e);

	if (payload && payload != TLT_POISON)
		torture_error(th->t,
			      "allocation returned element %p still in use (payload %#llx, id %#llx)",
			      e, payload, tlt_id(e));
	if (!tlt_id(e) || lt_bits_valid(bits) || lt_bits_refcnt(bits) != 1 ||
	    lt_bits_type(bits) != type)
		torture_error(th->t, "fresh element %p: id %#llx bits %#x, want type %d",
			      e, tlt_id(e), bits, type);
	WRITE_ONCE(te->payload, tlt_id(e));
	atomic_long_inc(&tlt_stats.allocated);
}

static struct lt_elem *tlt_alloc(struct torture_thread *th, int type, int n)
{
	struct lt_elem *e;

	if (torture_chance(th, 20)) {
		preempt_disable();
		e = ltable_alloc_elem(&tlt.table, type, n, 0);
		preempt_enable();
	} else {
		e = ltable_alloc_elem(&tlt.table, type, n, 0);
	}
	if (!e)
		atomic_long_inc(&tlt_stats.nulls);
	return e;
}

/* Take a published id out of circulation: get, invalidate, put. */
static void tlt_retire(struct torture *t, u64 id)
{
	struct lt_elem *e = ltable_get_elem(&tlt.table, id);

	/* Whoever took the id out of its slot owns it: it must resolve. */
	if (!e) {
		torture_error(t, "retire: published id %#llx did not resolve", id);
		return;
	}
	lt_elem_invalidate(e);
	ltable_put_elem(&tlt.table, e);
	atomic_long_inc(&tlt_stats.retired);
}

/* Publish @e (one reference held, not valid) in a random slot. */
static void tlt_publish(struct torture_thread *th, struct lt_elem *e)
{
	u64 old;

	lt_elem_mkvalid(e);
	old = atomic64_xchg(&tlt.slots[torture_random_n(th, TLT_SLOTS)], tlt_id(e));
	ltable_put_elem(&tlt.table, e);
	atomic_long_inc(&tlt_stats.published);
	if (old)
		tlt_retire(th->t, old);
}

static void tlt_op_publish(struct torture_thread *th)
{
	int type = torture_chance(th, 50) ? LT_ELEM : LT_LINK;
	struct lt_elem *e = tlt_alloc(th, type, 1);

	if (!e)
		return;
	tlt_fresh(th, e, type);
	tlt_publish(th, e);
}

static void tlt_op_lookup(struct torture_thread *th)
{
	u64 id = atomic64_read(&tlt.slots[torture_random_n(th, TLT_SLOTS)]);
	struct lt_elem *e, *e2;
	u32 bits;

	if (!id)
		return;
	atomic_long_inc(&tlt_stats.gets);
	e = ltable_get_elem(&tlt.table, id);
	if (!e)
		return;		/* retired meanwhile */
	atomic_long_inc(&tlt_stats.hits);
	bits = tlt_bits(e);
	if (tlt_id(e) != id || READ_ONCE(to_tlt(e)->payload) != id ||
	    !lt_bits_refcnt(bits))
		torture_error(th->t, "get(%#llx) returned %p: id %#llx payload %#llx bits %#x",
			      id, e, tlt_id(e), READ_ONCE(to_tlt(e)->payload), bits);
	if (torture_chance(th, 25)) {
		e2 = ltable_get_elem(&tlt.table, id);
		/*
		 * Our reference keeps the slot from being reused: the id
		 * resolves to the same element or, once retired, not at all.
		 */
		if (e2 && e2 != e)
			torture_error(th->t, "get(%#llx) resolved to %p and %p", id, e, e2);
		if (e2) {
			atomic_long_inc(&tlt_stats.second_refs);
			ltable_put_elem(&tlt.table, e2);
		}
	}
	ltable_put_elem(&tlt.table, e);
}

static int tlt_chain_len(struct lt_elem *head)
{
	int n = 0;

	for (; head; head = lt_elem_list_next(&tlt.table, head))
		n++;
	return n;
}

static void tlt_op_reserve(struct torture_thread *th)
{
	int n = 1 + torture_random_n(th, 8), k, left, got;
	struct lt_elem *head, *e, *other, *second;
	u64 id;

	head = tlt_alloc(th, LT_RESERVED, n);
	if (!head)
		return;
	atomic_long_inc(&tlt_stats.chains);
	for (e = head; e; e = lt_elem_list_next(&tlt.table, e))
		tlt_fresh(th, e, LT_RESERVED);
	got = lt_elem_list_link(&tlt.table, head, NULL);
	if (got != n)
		torture_error(th->t, "reserved chain of %d has length %d", n, got);

	/* Pop some and publish them: each keeps the list's reference. */
	id = tlt_id(head);
	for (k = torture_random_n(th, n + 1); k > 0; k--) {
		e = lt_elem_list_pop(&tlt.table, &id, LT_ELEM);
		if (!e) {
			torture_error(th->t, "pop from a reserved chain failed");
			return;
		}
		n--;
		atomic_long_inc(&tlt_stats.popped);
		WRITE_ONCE(to_tlt(e)->payload, tlt_id(e));
		tlt_publish(th, e);
	}
	head = lt_elem_list_first(&tlt.table, id);
	if (!head != !n) {
		torture_error(th->t, "reserved chain head %#llx: %p with %d left", id, head, n);
		return;
	}
	if (!head)
		return;

	/* Sometimes link another chain after it, then break it again. */
	if (torture_chance(th, 30)) {
		other = tlt_alloc(th, LT_RESERVED, 1 + torture_random_n(th, 3));
		if (other) {
			for (e = other; e; e = lt_elem_list_next(&tlt.table, e))
				tlt_fresh(th, e, LT_RESERVED);
			got = tlt_chain_len(other);
			if (lt_elem_list_link(&tlt.table, head, other) != n)
				torture_error(th->t, "list_link: wrong parent length");
			atomic_long_inc(&tlt_stats.linked);
			n += got;
		}
	}
	if (n > 1 && torture_chance(th, 50)) {
		k = 1 + torture_random_n(th, n - 1);	/* first half length */
		for (e = head; --k > 0;)
			e = lt_elem_list_next(&tlt.table, e);
		second = lt_elem_list_break(&tlt.table, e);
		left = tlt_chain_len(second);
		got = lt_elem_list_release(&tlt.table, second, LT_RESERVED);
		if (got != left)
			torture_error(th->t, "released %d of a %d-element half", got, left);
		n -= left;
	}
	got = lt_elem_list_release(&tlt.table, head, LT_RESERVED);
	if (got != n)
		torture_error(th->t, "released %d of a %d-element chain", got, n);
}

static void tlt_op_realloc(struct torture_thread *th)
{
	struct lt_elem *e = tlt_alloc(th, LT_ELEM, 1), *g;
	u64 old_id;

	if (!e)
		return;
	tlt_fresh(th, e, LT_ELEM);
	old_id = tlt_id(e);
	ltable_realloc_elem(&tlt.table, e, LT_LINK);
	atomic_long_inc(&tlt_stats.reallocs);
	if (tlt_id(e) == old_id || lt_bits_type(tlt_bits(e)) != LT_LINK)
		torture_error(th->t, "realloc kept id %#llx or type (bits %#x)",
			      old_id, tlt_bits(e));
	WRITE_ONCE(to_tlt(e)->payload, tlt_id(e));
	lt_elem_mkvalid(e);
	g = ltable_get_elem(&tlt.table, old_id);
	if (g) {
		torture_error(th->t, "old id %#llx still resolves after realloc", old_id);
		ltable_put_elem(&tlt.table, g);
	}
	g = ltable_get_elem(&tlt.table, tlt_id(e));
	if (g != e)
		torture_error(th->t, "new id %#llx resolves to %p, not %p", tlt_id(e), g, e);
	if (g)
		ltable_put_elem(&tlt.table, g);
	/* Publish it (it is valid already: keep the reference for that). */
	old_id = atomic64_xchg(&tlt.slots[torture_random_n(th, TLT_SLOTS)], tlt_id(e));
	ltable_put_elem(&tlt.table, e);
	atomic_long_inc(&tlt_stats.published);
	if (old_id)
		tlt_retire(th->t, old_id);
}

static void tlt_op(struct torture_thread *th)
{
	u32 r = torture_random_n(th, 100);
	u64 old;

	if (r < 30) {
		tlt_op_publish(th);
	} else if (r < 65) {
		tlt_op_lookup(th);
	} else if (r < 77) {
		tlt_op_reserve(th);
	} else if (r < 85) {
		tlt_op_realloc(th);
	} else {
		old = atomic64_xchg(&tlt.slots[torture_random_n(th, TLT_SLOTS)], 0);
		if (old)
			tlt_retire(th->t, old);
	}
}

static int tlt_worker_fn(void *arg)
{
	struct torture_thread *th = arg;
	unsigned long i = 0;

	while (!torture_must_stop()) {
		tlt_op(th);
		atomic_long_inc(&th->t->ops);
		if (!(++i & 31))
			cond_resched();
	}
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Setup and final checks                                                 */
/* ---------------------------------------------------------------------- */

static int tlt_start(struct torture *t)
{
	int i, ret;

	tlt.misuse_before = ltable_misuse_count();
	for (i = 0; i < TLT_SLOTS; i++)
		atomic64_set(&tlt.slots[i], 0);
	ret = ltable_init(&tlt.table, TORTURE_PREFIX "_ltable", TLT_MAX_ELEM,
			  sizeof(struct tlt_elem), tlt_poison);
	if (ret)
		return ret;
	tlt.init = true;
	for (i = 0; i < torture_nthreads_used; i++) {
		ret = torture_start_thread(t, tlt_worker_fn, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

static void tlt_finish(struct torture *t)
{
	long allocated, freed, misuse;
	int i, used;
	u64 id;

	if (!tlt.init)
		return;
	for (i = 0; i < TLT_SLOTS; i++) {
		id = atomic64_xchg(&tlt.slots[i], 0);
		if (id)
			tlt_retire(t, id);
	}
	allocated = atomic_long_read(&tlt_stats.allocated);
	freed = atomic_long_read(&tlt_stats.freed);
	if (allocated != freed)
		torture_error(t, "%ld elements allocated but %ld freed", allocated, freed);
	used = atomic_read(&tlt.table.used_elem);
	if (used)
		torture_error(t, "used_elem is %d with every element freed", used);
	tlt.nelem = ltable_nelem(&tlt.table);
	tlt.check = ltable_check(&tlt.table);
	if (tlt.check != (int)tlt.nelem)
		torture_error(t, "ltable_check() = %d, table has %u elements",
			      tlt.check, tlt.nelem);
	misuse = atomic_long_read(&tlt.table.misuse);
	if (misuse)
		torture_error(t, "table: %ld misuse reports", misuse);
	ltable_destroy(&tlt.table);
	tlt.init = false;
	misuse = ltable_misuse_count() - tlt.misuse_before;
	if (misuse)
		torture_error(t, "%ld ltable misuse reports in all", misuse);
}

static void tlt_summary(struct torture *t, struct seq_buf *s)
{
	seq_buf_printf(s,
		       " allocated=%ld freed=%ld published=%ld retired=%ld gets=%ld hits=%ld second_refs=%ld",
		       atomic_long_read(&tlt_stats.allocated),
		       atomic_long_read(&tlt_stats.freed),
		       atomic_long_read(&tlt_stats.published),
		       atomic_long_read(&tlt_stats.retired),
		       atomic_long_read(&tlt_stats.gets),
		       atomic_long_read(&tlt_stats.hits),
		       atomic_long_read(&tlt_stats.second_refs));
	seq_buf_printf(s, " chains=%ld popped=%ld linked=%ld reallocs=%ld nulls=%ld",
		       atomic_long_read(&tlt_stats.chains),
		       atomic_long_read(&tlt_stats.popped),
		       atomic_long_read(&tlt_stats.linked),
		       atomic_long_read(&tlt_stats.reallocs),
		       atomic_long_read(&tlt_stats.nulls));
	if (!tlt.init && tlt.nelem)
		seq_buf_printf(s, " nelem=%u free_walk=%d", tlt.nelem, tlt.check);
}

struct torture torture_ltable = {
	.name = "ltable",
	.start = tlt_start,
	.finish = tlt_finish,
	.summary = tlt_summary,
};
