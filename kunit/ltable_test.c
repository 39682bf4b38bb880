// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim ltable (module/ltable.c).
 *
 * Every case works on a private table set up by the per-test init.  Tests
 * check the observable contract: ids, lt_bits, the free list (through
 * ltable_check(), a full walk that catches duplicates and leaks), the poison
 * callback, statistics, and, for the "_warns" cases, that each former XNU
 * panic is reported (misuse counters) and leaves the table consistent.
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/prandom.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <kprim/ltable.h>

#include "seq_read.h"

#ifndef ITER_DEST
#define ITER_DEST READ
#endif

#define TEST_POISON	0x6b6b6b6b6b6b6b6bULL

struct test_elem {
	struct lt_elem lt;
	u64 payload;
	u64 pad[5];
};

struct lt_fixture {
	struct link_table table;
	atomic_t npoison;
	bool live;		/* table initialized, exit must destroy it */
};

static void test_poison(struct link_table *table, struct lt_elem *elem)
{
	struct lt_fixture *f = container_of(table, struct lt_fixture, table);
	struct test_elem *te = container_of(elem, struct test_elem, lt);

	te->payload = TEST_POISON;
	atomic_inc(&f->npoison);
}

static struct test_elem *to_te(struct lt_elem *e)
{
	return e ? container_of(e, struct test_elem, lt) : NULL;
}

static u64 elem_id(struct lt_elem *e)
{
	return READ_ONCE(e->lt_id.id);
}

static u32 elem_bits(struct lt_elem *e)
{
	return READ_ONCE(e->lt_bits);
}

static u64 id_gen(u64 id)
{
	struct ltable_id lid = { .id = id };

	return lid.generation;
}

static u32 id_idx(u64 id)
{
	struct ltable_id lid = { .id = id };

	return lid.idx;
}

/* Dump the table geometry when a table-level expectation fails. */
static void expect_consistent(struct kunit *test, struct link_table *t, int nfree)
{
	KUNIT_EXPECT_EQ_MSG(test, ltable_check(t), nfree,
			    "table %s: nelem %u capacity %u used %d nslabs %u",
			    t->name, ltable_nelem(t), t->capacity,
			    atomic_read(&t->used_elem), t->nslabs);
}

#define LT_EXPECT_CONSISTENT(test, t, nfree) expect_consistent(test, t, (int)(nfree))

static int lt_fixture_setup(struct kunit *test, u32 max, u32 elem_sz)
{
	struct lt_fixture *f = test->priv;
	int err;

	err = ltable_init(&f->table, test->name, max, elem_sz, test_poison);
	f->live = !err;
	return err;
}

static int ltable_test_init(struct kunit *test)
{
	struct lt_fixture *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	test->priv = f;
	/* 1024 elements of 64 bytes: 64 per slab, 16 slabs */
	return lt_fixture_setup(test, 1024, sizeof(struct test_elem));
}

static void ltable_test_exit(struct kunit *test)
{
	struct lt_fixture *f = test->priv;

	if (f->live && f->table.table) {
		KUNIT_EXPECT_EQ(test, atomic_read(&f->table.used_elem), 0);
		ltable_destroy(&f->table);
	}
}

static struct link_table *fixture_table(struct kunit *test)
{
	return &((struct lt_fixture *)test->priv)->table;
}

static int fixture_npoison(struct kunit *test)
{
	return atomic_read(&((struct lt_fixture *)test->priv)->npoison);
}

/* Allocate one element, give it @payload = its id, make it valid. */
static struct lt_elem *alloc_valid(struct kunit *test, struct link_table *t, int type)
{
	struct lt_elem *e = ltable_alloc_elem(t, type, 1, 0);

	KUNIT_ASSERT_NOT_NULL(test, e);
	to_te(e)->payload = elem_id(e);
	lt_elem_mkvalid(e);
	return e;
}

/* Free a valid element the table holds (the XNU get/invalidate/put dance). */
static void retire(struct kunit *test, struct link_table *t, u64 id)
{
	struct lt_elem *e = ltable_get_elem(t, id);

	KUNIT_ASSERT_NOT_NULL(test, e);
	lt_elem_invalidate(e);
	ltable_put_elem(t, e);
}

static void ltable_test_geometry(struct kunit *test)
{
	struct link_table *t = fixture_table(test);

	KUNIT_EXPECT_EQ(test, t->elem_sz, (u32)sizeof(struct test_elem));
	KUNIT_EXPECT_EQ(test, t->slab_sz, (u32)PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, t->slab_elem, (u32)(PAGE_SIZE / sizeof(struct test_elem)));
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), t->slab_elem);
	KUNIT_EXPECT_EQ(test, t->nslabs, 1U);
	LT_EXPECT_CONSISTENT(test, t, t->slab_elem);
}

/* A large table: slab size is max size / slots per page, a power of two. */
static void ltable_test_geometry_large(struct kunit *test)
{
	struct link_table *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	u32 expect;

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, ltable_init(t, "lt-large", LT_IDX_MAX, 64, NULL), 0);
	expect = roundup_pow_of_two(DIV_ROUND_UP(round_up((u64)LT_IDX_MAX * 64, PAGE_SIZE),
						 PAGE_SIZE / sizeof(void *)));
	KUNIT_EXPECT_EQ(test, t->slab_sz, max_t(u32, expect, PAGE_SIZE));
	KUNIT_EXPECT_GE(test, (u64)t->slab_elem * (PAGE_SIZE / sizeof(void *)), (u64)LT_IDX_MAX);
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), t->slab_elem);
	KUNIT_EXPECT_EQ(test, ltable_check(t), (int)t->slab_elem);
	ltable_destroy(t);
	KUNIT_EXPECT_NULL(test, t->table);
}

static const int lt_types[] = { LT_ELEM, LT_LINK };

static void lt_type_desc(const int *type, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", *type == LT_ELEM ? "LT_ELEM" : "LT_LINK");
}

KUNIT_ARRAY_PARAM(lt_type, lt_types, lt_type_desc);

/* alloc -> mkvalid -> get/put -> invalidate -> put frees, for each type */
static void ltable_test_lifecycle(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	int type = *(const int *)test->param_value;
	u32 nfree = ltable_nelem(t);
	struct lt_elem *e, *g;
	u64 id;

	e = ltable_alloc_elem(t, type, 1, 0);
	KUNIT_ASSERT_NOT_NULL(test, e);
	id = elem_id(e);
	KUNIT_EXPECT_NE(test, id, 0ULL);
	KUNIT_EXPECT_EQ(test, id_gen(id) & 1, 1ULL);
	KUNIT_EXPECT_LT(test, id_idx(id), ltable_nelem(t));
	KUNIT_EXPECT_EQ(test, lt_bits_type(elem_bits(e)), type);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(e)), 1U);
	KUNIT_EXPECT_FALSE(test, lt_bits_valid(elem_bits(e)));
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), 1);
	LT_EXPECT_CONSISTENT(test, t, nfree - 1);

	/* not valid yet: the id does not resolve */
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, id));

	to_te(e)->payload = id;
	lt_elem_mkvalid(e);
	KUNIT_EXPECT_TRUE(test, lt_bits_valid(elem_bits(e)));

	g = ltable_get_elem(t, id);
	KUNIT_EXPECT_PTR_EQ(test, g, e);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(e)), 2U);
	ltable_put_elem(t, g);

	/* drop the allocation reference: the table keeps a valid element */
	ltable_put_elem(t, e);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(e)), 0U);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), 1);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 0);

	g = ltable_get_elem(t, id);
	KUNIT_ASSERT_PTR_EQ(test, g, e);
	KUNIT_EXPECT_EQ(test, to_te(g)->payload, id);
	lt_elem_invalidate(g);
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, id));
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 0);
	ltable_put_elem(t, g);

	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 1);
	KUNIT_EXPECT_EQ(test, to_te(e)->payload, TEST_POISON);
	KUNIT_EXPECT_EQ(test, elem_bits(e), 0U);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), 0);
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, id));
	LT_EXPECT_CONSISTENT(test, t, nfree);
}

/* An element freed straight after allocation (never made valid). */
static void ltable_test_alloc_put(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e = ltable_alloc_elem(t, LT_ELEM, 1, 0);

	KUNIT_ASSERT_NOT_NULL(test, e);
	ltable_put_elem(t, e);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 1);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_id_zero(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	unsigned long misuse = ltable_misuse_count();
	struct lt_elem *e[4];
	int i;

	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, 0));
	KUNIT_EXPECT_NULL(test, lt_elem_list_first(t, 0));
	for (i = 0; i < ARRAY_SIZE(e); i++) {
		e[i] = alloc_valid(test, t, LT_ELEM);
		KUNIT_EXPECT_NE(test, elem_id(e[i]), 0ULL);
	}
	/* whichever element sits at index 0 is valid now: 0 still fails */
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, 0));
	for (i = 0; i < ARRAY_SIZE(e); i++) {
		lt_elem_invalidate(e[i]);
		ltable_put_elem(t, e[i]);
	}
	KUNIT_EXPECT_EQ(test, ltable_misuse_count(), misuse);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

/* Stale ids never resolve once the slot is reused. */
static void ltable_test_stale_id(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e, *e2;
	u64 old, new;

	e = alloc_valid(test, t, LT_ELEM);
	old = elem_id(e);
	lt_elem_invalidate(e);
	ltable_put_elem(t, e);

	/* the free list is LIFO: the same slot comes back */
	e2 = alloc_valid(test, t, LT_ELEM);
	KUNIT_ASSERT_PTR_EQ(test, e2, e);
	new = elem_id(e2);
	KUNIT_EXPECT_EQ(test, id_idx(new), id_idx(old));
	KUNIT_EXPECT_NE(test, new, old);
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, old));
	e = ltable_get_elem(t, new);
	KUNIT_EXPECT_PTR_EQ(test, e, e2);
	ltable_put_elem(t, e);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(e2)), 1U);
	lt_elem_invalidate(e2);
	ltable_put_elem(t, e2);
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, new));
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

/* 2^18 reuses of one slot: neither the first nor the previous id resolves. */
static void ltable_test_stale_id_2p18(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e, *slot = NULL;
	u64 first = 0, prev = 0, id;
	u32 i;

	for (i = 0; i < (1U << 18); i++) {
		e = ltable_alloc_elem(t, i & 1 ? LT_LINK : LT_ELEM, 1, 0);
		KUNIT_ASSERT_NOT_NULL(test, e);
		if (!slot) {
			slot = e;
			first = elem_id(e);
		}
		KUNIT_ASSERT_PTR_EQ(test, e, slot);
		id = elem_id(e);
		if (id == first && i) {
			KUNIT_FAIL(test, "generation wrapped after %u reuses", i);
			break;
		}
		lt_elem_mkvalid(e);
		if (i && (ltable_get_elem(t, first) || ltable_get_elem(t, prev))) {
			KUNIT_FAIL(test, "stale id resolved at reuse %u", i);
			break;
		}
		prev = id;
		lt_elem_invalidate(e);
		ltable_put_elem(t, e);
		if ((i & 0xfff) == 0)
			cond_resched();
	}
	KUNIT_EXPECT_EQ(test, id_gen(prev) - id_gen(first), 2ULL * ((1U << 18) - 1));
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 1 << 18);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

/*
 * The ABA shape: a popper reads head {A, g} and A->B; meanwhile A and B are
 * popped and A pushed back.  The head index is A again, but the head word
 * must differ so the stale CAS fails.
 */
static void ltable_test_aba_head(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *a, *b;
	s64 before, after;

	before = atomic64_read(&t->free_list);
	a = ltable_alloc_elem(t, LT_ELEM, 1, 0);
	b = ltable_alloc_elem(t, LT_ELEM, 1, 0);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_EQ(test, id_idx(elem_id(a)), id_idx(before));
	ltable_put_elem(t, a);
	after = atomic64_read(&t->free_list);
	KUNIT_EXPECT_EQ(test, id_idx(after), id_idx(before));
	KUNIT_EXPECT_NE(test, after, before);
	KUNIT_EXPECT_EQ(test, id_gen(after) - id_gen(before), 3ULL);
	ltable_put_elem(t, b);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_realloc(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e = ltable_alloc_elem(t, LT_ELEM, 1, 0);
	u64 id, id2;

	KUNIT_ASSERT_NOT_NULL(test, e);
	id = elem_id(e);
	ltable_realloc_elem(t, e, LT_LINK);
	id2 = elem_id(e);
	KUNIT_EXPECT_EQ(test, id_idx(id2), id_idx(id));
	KUNIT_EXPECT_EQ(test, id_gen(id2), id_gen(id) + 2);
	KUNIT_EXPECT_EQ(test, lt_bits_type(elem_bits(e)), LT_LINK);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(e)), 1U);
	KUNIT_EXPECT_EQ(test, READ_ONCE(e->lt_next_idx), (u32)LT_IDX_MAX);

	lt_elem_mkvalid(e);
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, id));
	lt_elem_invalidate(e);
	ltable_put_elem(t, e);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static int list_len(struct link_table *t, struct lt_elem *head)
{
	int n = 0;

	for (; head; head = lt_elem_list_next(t, head))
		n++;
	return n;
}

/* A reserved chain from one allocation, popped one at a time. */
static void ltable_test_reserved_pop(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *head, *e, *popped[5];
	u64 id, prev_ids[5];
	int i, n = 0;

	head = ltable_alloc_elem(t, LT_RESERVED, 5, 0);
	KUNIT_ASSERT_NOT_NULL(test, head);
	KUNIT_EXPECT_EQ(test, list_len(t, head), 5);
	KUNIT_EXPECT_EQ(test, lt_elem_list_link(t, head, NULL), 5);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), 5);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->live_reservations), 5L);
	for (e = head; e; e = lt_elem_list_next(t, e)) {
		KUNIT_EXPECT_EQ(test, lt_bits_type(elem_bits(e)), LT_RESERVED);
		KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(e)), 1U);
		KUNIT_EXPECT_FALSE(test, lt_bits_valid(elem_bits(e)));
		prev_ids[n++] = elem_id(e);
	}
	KUNIT_EXPECT_PTR_EQ(test, lt_elem_list_first(t, elem_id(head)), head);
	/* reserved elements never resolve through get */
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, elem_id(head)));

	id = elem_id(head);
	for (i = 0; i < 5; i++) {
		popped[i] = lt_elem_list_pop(t, &id, LT_LINK);
		KUNIT_ASSERT_NOT_NULL(test, popped[i]);
		KUNIT_EXPECT_EQ(test, id, i < 4 ? prev_ids[i + 1] : 0ULL);
		KUNIT_EXPECT_EQ(test, lt_bits_type(elem_bits(popped[i])), LT_LINK);
		KUNIT_EXPECT_EQ(test, elem_id(popped[i]) - prev_ids[i], 2ULL << 18);
		KUNIT_EXPECT_EQ(test, READ_ONCE(popped[i]->lt_next_idx), (u32)LT_IDX_MAX);
	}
	KUNIT_EXPECT_NULL(test, lt_elem_list_pop(t, &id, LT_LINK));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->live_reservations), 0L);
	/* a stale list head id is not a misuse, just gone */
	id = prev_ids[0];
	KUNIT_EXPECT_NULL(test, lt_elem_list_pop(t, &id, LT_LINK));
	KUNIT_EXPECT_EQ(test, id, 0ULL);

	for (i = 0; i < 5; i++)
		ltable_put_elem(t, popped[i]);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 5);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

/* A list built with lt_elem_list_link, split with _break, released. */
static void ltable_test_list_link_release(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	u32 nfree = ltable_nelem(t);
	struct lt_elem *e[6], *second;
	int i;

	for (i = 0; i < 6; i++) {
		e[i] = ltable_alloc_elem(t, LT_RESERVED, 1, 0);
		KUNIT_ASSERT_NOT_NULL(test, e[i]);
		if (i)
			KUNIT_EXPECT_EQ(test, lt_elem_list_link(t, e[0], e[i]), i);
	}
	KUNIT_EXPECT_EQ(test, list_len(t, e[0]), 6);
	for (i = 0; i < 5; i++)
		KUNIT_EXPECT_PTR_EQ(test, lt_elem_list_next(t, e[i]), e[i + 1]);
	KUNIT_EXPECT_NULL(test, lt_elem_list_next(t, e[5]));

	second = lt_elem_list_break(t, e[2]);
	KUNIT_EXPECT_PTR_EQ(test, second, e[3]);
	KUNIT_EXPECT_EQ(test, list_len(t, e[0]), 3);
	KUNIT_EXPECT_EQ(test, list_len(t, second), 3);
	KUNIT_EXPECT_NULL(test, lt_elem_list_break(t, e[5]));
	KUNIT_EXPECT_NULL(test, lt_elem_list_break(t, NULL));

	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, e[0], LT_RESERVED), 3);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 3);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), 3);
	LT_EXPECT_CONSISTENT(test, t, nfree - 3);
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, second, LT_RESERVED), 3);
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, NULL, LT_RESERVED), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->live_reservations), 0L);
	LT_EXPECT_CONSISTENT(test, t, nfree);
	for (i = 0; i < 6; i++)
		KUNIT_EXPECT_EQ(test, elem_bits(e[i]), 0U);
}

/* A multi-element allocation of LT_LINK released as a list. */
static void ltable_test_alloc_chain(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	u32 n = t->slab_elem + 3;	/* spans a grow */
	struct lt_elem *head;

	head = ltable_alloc_elem(t, LT_LINK, n, 0);
	KUNIT_ASSERT_NOT_NULL(test, head);
	KUNIT_EXPECT_EQ(test, list_len(t, head), (int)n);
	KUNIT_EXPECT_GE(test, ltable_nelem(t), 2 * t->slab_elem);
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, head, LT_LINK), (int)n);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

/* Grow one slab at a time to the maximum, then fail cleanly. */
static void ltable_test_grow_to_max(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	u32 max = t->max_nelem, i, nslots = 0;
	struct lt_elem **e;
	unsigned long *seen;

	e = kunit_kcalloc(test, max, sizeof(*e), GFP_KERNEL);
	seen = kunit_kcalloc(test, BITS_TO_LONGS(max), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e);
	KUNIT_ASSERT_NOT_NULL(test, seen);

	for (i = 0; i < max; i++) {
		e[i] = ltable_alloc_elem(t, LT_ELEM, 1, 0);
		KUNIT_ASSERT_NOT_NULL_MSG(test, e[i], "alloc %u of %u failed", i, max);
		KUNIT_ASSERT_FALSE(test, __test_and_set_bit(id_idx(elem_id(e[i])), seen));
		nslots++;
	}
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), max);
	KUNIT_EXPECT_EQ(test, t->nslabs, DIV_ROUND_UP(max, t->slab_elem));
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), (int)max);
	LT_EXPECT_CONSISTENT(test, t, 0);

	/* the full-table error: NULL, -ENOSPC, nothing changed */
	KUNIT_EXPECT_NULL(test, ltable_alloc_elem(t, LT_ELEM, 1, 0));
	KUNIT_EXPECT_NULL(test, ltable_alloc_elem(t, LT_ELEM, 1, 3));
	KUNIT_EXPECT_EQ(test, ltable_grow(t, 1), -ENOSPC);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), (int)max);

	/* two free, three wanted: still fails; two wanted: succeeds */
	ltable_put_elem(t, e[0]);
	ltable_put_elem(t, e[1]);
	KUNIT_EXPECT_NULL(test, ltable_alloc_elem(t, LT_RESERVED, 3, 0));
	LT_EXPECT_CONSISTENT(test, t, 2);
	e[0] = ltable_alloc_elem(t, LT_RESERVED, 2, 0);
	KUNIT_ASSERT_NOT_NULL(test, e[0]);
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, e[0], LT_RESERVED), 2);

	for (i = 2; i < max; i++)
		ltable_put_elem(t, e[i]);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), (int)max + 2);
	LT_EXPECT_CONSISTENT(test, t, max);
}

static void ltable_test_grow_explicit(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	u32 n = ltable_nelem(t);

	if (n < nr_cpu_ids + 1)
		kunit_skip(test, "more CPUs (%u) than elements per slab (%u)", nr_cpu_ids, n);
	/* enough free for 1 plus a CPU's worth: nothing to do */
	KUNIT_EXPECT_EQ(test, ltable_grow(t, 1), 0);
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), n);
	KUNIT_EXPECT_EQ(test, ltable_grow(t, n), 0);
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), 2 * n);
	KUNIT_EXPECT_EQ(test, t->nslabs, 2U);
	LT_EXPECT_CONSISTENT(test, t, 2 * n);
}

/* From atomic context a full table is not grown: NULL, and nspins counted. */
static void ltable_test_atomic_alloc(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	u32 n = ltable_nelem(t);
	struct lt_elem *head, *head2, *e, *f1, *f2;
	u64 spins = 0;
	int cpu;

	head = ltable_alloc_elem(t, LT_ELEM, n - 1, 0);
	KUNIT_ASSERT_NOT_NULL(test, head);

	preempt_disable();
	e = ltable_alloc_elem(t, LT_ELEM, 1, 0);	/* the last one: fine */
	preempt_enable();
	KUNIT_ASSERT_NOT_NULL(test, e);

	local_irq_disable();
	f1 = ltable_alloc_elem(t, LT_ELEM, 1, 0);
	local_irq_enable();
	rcu_read_lock();
	f2 = ltable_alloc_elem(t, LT_ELEM, 1, 0);
	rcu_read_unlock();
	KUNIT_EXPECT_NULL(test, f1);
	KUNIT_EXPECT_NULL(test, f2);
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), n);
	for_each_possible_cpu(cpu)
		spins += per_cpu_ptr(t->stats, cpu)->nspins;
	KUNIT_EXPECT_GT(test, spins, 0ULL);

	/* process context grows */
	ltable_put_elem(t, e);
	e = ltable_alloc_elem(t, LT_ELEM, 2, 0);
	KUNIT_ASSERT_NOT_NULL(test, e);
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), 2 * n);

	head2 = lt_elem_list_break(t, e);
	KUNIT_EXPECT_NOT_NULL(test, head2);
	ltable_put_elem(t, e);
	ltable_put_elem(t, head2);
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, head, LT_ELEM), (int)n - 1);
	LT_EXPECT_CONSISTENT(test, t, 2 * n);
}

struct irq_ctx {
	struct hrtimer timer;
	struct link_table *t;
	u64 id;			/* published by the test, resolved in IRQ */
	bool hardirq, got, alloc_ok, freed;
	struct completion done;
};

static enum hrtimer_restart irq_ctx_fn(struct hrtimer *timer)
{
	struct irq_ctx *c = container_of(timer, struct irq_ctx, timer);
	struct lt_elem *e;

	c->hardirq = in_hardirq();
	e = ltable_get_elem(c->t, c->id);
	c->got = e && elem_id(e) == c->id;
	if (e) {
		/* retire the published element from IRQ context */
		lt_elem_invalidate(e);
		ltable_put_elem(c->t, e);
	}
	c->freed = !ltable_get_elem(c->t, c->id);
	e = ltable_alloc_elem(c->t, LT_LINK, 1, 0);
	c->alloc_ok = e && lt_bits_type(elem_bits(e)) == LT_LINK;
	if (e)
		ltable_put_elem(c->t, e);
	complete(&c->done);
	return HRTIMER_NORESTART;
}

/* Lookups, frees and allocation from hard-IRQ context. */
static void ltable_test_hardirq(struct kunit *test)
{
	struct irq_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct link_table *t = fixture_table(test);
	struct lt_elem *e;

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->t = t;
	e = alloc_valid(test, t, LT_ELEM);
	c->id = elem_id(e);
	/* drop the allocation reference: the table holds the element */
	ltable_put_elem(t, e);
	init_completion(&c->done);
	hrtimer_init(&c->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	c->timer.function = irq_ctx_fn;
	hrtimer_start(&c->timer, ns_to_ktime(100 * NSEC_PER_USEC), HRTIMER_MODE_REL_HARD);
	wait_for_completion(&c->done);
	hrtimer_cancel(&c->timer);

	KUNIT_EXPECT_TRUE(test, c->hardirq);
	KUNIT_EXPECT_TRUE(test, c->got);
	KUNIT_EXPECT_TRUE(test, c->freed);
	KUNIT_EXPECT_TRUE(test, c->alloc_ok);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 2);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

/* Statistics are counted per CPU and summed. */
static void ltable_test_stats(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *r, *e;
	u64 nallocs = 0, nreallocs = 0, nrel = 0, npre = 0;
	s64 nres = 0;
	u32 max_used = 0;
	int cpu;

	r = ltable_alloc_elem(t, LT_RESERVED, 3, 0);
	KUNIT_ASSERT_NOT_NULL(test, r);
	e = ltable_alloc_elem(t, LT_ELEM, 1, 0);
	KUNIT_ASSERT_NOT_NULL(test, e);
	ltable_realloc_elem(t, e, LT_LINK);
	ltable_stat_prepost(t);
	for_each_possible_cpu(cpu) {
		struct ltable_stats *s = per_cpu_ptr(t->stats, cpu);

		nallocs += s->nallocs;
		nreallocs += s->nreallocs;
		nres += s->nreservations;
		npre += s->npreposts;
		max_used = max(max_used, s->max_used);
	}
	KUNIT_EXPECT_EQ(test, nallocs, 4ULL);
	KUNIT_EXPECT_EQ(test, nreallocs, 1ULL);
	KUNIT_EXPECT_EQ(test, nres, 3LL);
	KUNIT_EXPECT_EQ(test, npre, 1ULL);
	KUNIT_EXPECT_EQ(test, max_used, 4U);

	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, r, LT_RESERVED), 3);
	ltable_put_elem(t, e);
	nres = 0;
	for_each_possible_cpu(cpu) {
		nres += per_cpu_ptr(t->stats, cpu)->nreservations;
		nrel += per_cpu_ptr(t->stats, cpu)->nreserved_releases;
	}
	KUNIT_EXPECT_EQ(test, nres, 0LL);
	KUNIT_EXPECT_EQ(test, nrel, 1ULL);
}

static void ltable_test_debugfs(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e = ltable_alloc_elem(t, LT_ELEM, 2, 0);
	char path[96], want[48], *buf;
	struct file *filp;
	ssize_t len;

	KUNIT_ASSERT_NOT_NULL(test, e);
	snprintf(path, sizeof(path), "/sys/kernel/debug/kprim/ltable/%s", t->name);
	buf = kunit_kzalloc(test, 4096, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	filp = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(filp)) {
		lt_elem_list_release(t, e, LT_ELEM);
		kunit_skip(test, "cannot open %s (%ld)", path, PTR_ERR(filp));
	}
	len = kprim_test_read_seq_file(filp, buf, 4095);
	filp_close(filp, NULL);
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, e, LT_ELEM), 2);
	KUNIT_ASSERT_GT_MSG(test, len, 0L, "read(%s) = %zd", path, len);

	snprintf(want, sizeof(want), "nelem: %u\n", ltable_nelem(t));
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, want));
	snprintf(want, sizeof(want), "free_list_len: %u\n", ltable_nelem(t) - 2);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(buf, want), "%s", buf);
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "used_elem: 2\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "nallocs: 2\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "nslabs: 1\n"));
	snprintf(want, sizeof(want), "slab_sz: %u\n", t->slab_sz);
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, want));
}

/* ---- misuse: every former XNU panic is a report and a no-op ---- */

struct misuse_snap {
	unsigned long global;
	long table;
};

static struct misuse_snap snap(struct link_table *t)
{
	return (struct misuse_snap){ ltable_misuse_count(), atomic_long_read(&t->misuse) };
}

static void expect_reported(struct kunit *test, struct link_table *t,
			    struct misuse_snap before, long n)
{
	KUNIT_EXPECT_EQ(test, (long)(ltable_misuse_count() - before.global), n);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->misuse) - before.table, n);
}

#define EXPECT_REPORTED(test, t, before, n) expect_reported(test, t, before, n)

static void ltable_test_init_misuse_warns(struct kunit *test)
{
	struct link_table *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	unsigned long before = ltable_misuse_count();

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_EXPECT_EQ(test, ltable_init(t, "bad", 64, 48, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->misuse), 1L);
	KUNIT_EXPECT_NULL(test, t->table);
	KUNIT_EXPECT_EQ(test, ltable_init(t, "bad", 64, 8, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, ltable_init(t, "bad", LT_IDX_MAX + 1, 64, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, ltable_init(t, "bad", 0, 64, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, ltable_misuse_count() - before, 4UL);
	/* destroying what was never set up is reported too, and harmless */
	ltable_destroy(t);
	KUNIT_EXPECT_EQ(test, ltable_misuse_count() - before, 5UL);
}

static void ltable_test_bad_id_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct misuse_snap s = snap(t);
	u32 n = ltable_nelem(t);
	struct ltable_id bad = { .id = 0 };

	bad.idx = n;
	bad.generation = 1;
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, bad.id));
	KUNIT_EXPECT_NULL(test, lt_elem_list_first(t, bad.id));
	bad.idx = LT_IDX_MAX;
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, bad.id));
	EXPECT_REPORTED(test, t, s, 3);
	KUNIT_EXPECT_EQ(test, ltable_nelem(t), n);
	LT_EXPECT_CONSISTENT(test, t, n);
}

static void ltable_test_refcnt_overflow_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e = alloc_valid(test, t, LT_ELEM);
	struct misuse_snap s;
	u32 bits = elem_bits(e), full;
	u64 id = elem_id(e);

	/* simulate 2^29 - 1 holders */
	full = (bits & ~LT_BITS_REFCNT_MASK) | LT_BITS_REFCNT_MASK;
	WRITE_ONCE(e->lt_bits, full);
	s = snap(t);
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, id));
	EXPECT_REPORTED(test, t, s, 1);
	KUNIT_EXPECT_EQ(test, elem_bits(e), full);
	WRITE_ONCE(e->lt_bits, bits);

	lt_elem_invalidate(e);
	ltable_put_elem(t, e);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_put_underflow_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e = alloc_valid(test, t, LT_ELEM), *f;
	struct misuse_snap s;
	u64 id = elem_id(e);
	u32 bits;

	ltable_put_elem(t, e);		/* table now holds it, refcnt 0 */
	bits = elem_bits(e);
	s = snap(t);
	ltable_put_elem(t, e);		/* underflow */
	EXPECT_REPORTED(test, t, s, 1);
	KUNIT_EXPECT_EQ(test, elem_bits(e), bits);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 0);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t) - 1);

	retire(test, t, id);
	/* a put on a free element is an underflow too, and changes nothing */
	s = snap(t);
	ltable_put_elem(t, e);
	EXPECT_REPORTED(test, t, s, 1);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));

	/* and a pointer that is not an element of this table */
	f = alloc_valid(test, t, LT_ELEM);
	s = snap(t);
	ltable_put_elem(t, (struct lt_elem *)((char *)f + 8));
	ltable_put_elem(t, NULL);
	EXPECT_REPORTED(test, t, s, 2);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(f)), 1U);
	lt_elem_invalidate(f);
	ltable_put_elem(t, f);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_invalidate_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e = alloc_valid(test, t, LT_ELEM), *r;
	unsigned long before;
	u32 bits;

	lt_elem_invalidate(e);
	bits = elem_bits(e);
	before = ltable_misuse_count();
	lt_elem_invalidate(e);		/* double invalidate */
	KUNIT_EXPECT_EQ(test, ltable_misuse_count() - before, 1UL);
	KUNIT_EXPECT_EQ(test, elem_bits(e), bits);
	ltable_put_elem(t, e);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 1);

	/* invalidating a free element */
	before = ltable_misuse_count();
	lt_elem_invalidate(e);
	KUNIT_EXPECT_EQ(test, ltable_misuse_count() - before, 1UL);
	KUNIT_EXPECT_EQ(test, elem_bits(e), 0U);

	/* invalidating a reserved (never valid) element is allowed */
	r = ltable_alloc_elem(t, LT_RESERVED, 1, 0);
	KUNIT_ASSERT_NOT_NULL(test, r);
	before = ltable_misuse_count();
	lt_elem_invalidate(r);
	KUNIT_EXPECT_EQ(test, ltable_misuse_count(), before);
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, r, LT_RESERVED), 1);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_mkvalid_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *e = alloc_valid(test, t, LT_ELEM), *r;
	unsigned long before = ltable_misuse_count();
	u32 bits = elem_bits(e);

	lt_elem_mkvalid(e);		/* already valid */
	KUNIT_EXPECT_EQ(test, elem_bits(e), bits);
	lt_elem_invalidate(e);
	ltable_put_elem(t, e);
	lt_elem_mkvalid(e);		/* free */
	KUNIT_EXPECT_EQ(test, elem_bits(e), 0U);
	r = ltable_alloc_elem(t, LT_RESERVED, 1, 0);
	KUNIT_ASSERT_NOT_NULL(test, r);
	lt_elem_mkvalid(r);		/* reserved */
	KUNIT_EXPECT_FALSE(test, lt_bits_valid(elem_bits(r)));
	KUNIT_EXPECT_EQ(test, ltable_misuse_count() - before, 3UL);
	KUNIT_EXPECT_NULL(test, ltable_get_elem(t, elem_id(r)));
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, r, LT_RESERVED), 1);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_list_first_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *v = alloc_valid(test, t, LT_ELEM);
	struct lt_elem *l = ltable_alloc_elem(t, LT_LINK, 1, 0);
	struct misuse_snap s = snap(t);

	KUNIT_ASSERT_NOT_NULL(test, l);
	KUNIT_EXPECT_NULL(test, lt_elem_list_first(t, elem_id(v)));	/* valid */
	KUNIT_EXPECT_NULL(test, lt_elem_list_first(t, elem_id(l)));	/* not reserved */
	EXPECT_REPORTED(test, t, s, 2);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(v)), 1U);
	KUNIT_EXPECT_EQ(test, lt_bits_refcnt(elem_bits(l)), 1U);
	lt_elem_invalidate(v);
	ltable_put_elem(t, v);
	ltable_put_elem(t, l);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_list_misuse_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct lt_elem *head = ltable_alloc_elem(t, LT_RESERVED, 3, 0), *v;
	u32 nfree = ltable_nelem(t) - 3;
	struct misuse_snap s;

	KUNIT_ASSERT_NOT_NULL(test, head);
	v = alloc_valid(test, t, LT_ELEM);
	s = snap(t);
	/* wrong type: nothing released */
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, head, LT_LINK), -EINVAL);
	/* a loop: the tail linked to the head */
	KUNIT_EXPECT_EQ(test, lt_elem_list_link(t, head, head), -EINVAL);
	/* a valid element can be neither parent nor child */
	KUNIT_EXPECT_EQ(test, lt_elem_list_link(t, head, v), -EINVAL);
	KUNIT_EXPECT_EQ(test, lt_elem_list_link(t, v, NULL), -EINVAL);
	/* a list holding a valid element is not released */
	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, v, LT_ELEM), -EINVAL);
	EXPECT_REPORTED(test, t, s, 5);
	KUNIT_EXPECT_EQ(test, fixture_npoison(test), 0);
	LT_EXPECT_CONSISTENT(test, t, nfree - 1);
	KUNIT_EXPECT_EQ(test, list_len(t, head), 3);

	KUNIT_EXPECT_EQ(test, lt_elem_list_release(t, head, LT_RESERVED), 3);
	lt_elem_invalidate(v);
	ltable_put_elem(t, v);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_alloc_misuse_warns(struct kunit *test)
{
	struct link_table *t = fixture_table(test);
	struct misuse_snap s = snap(t);
	struct lt_elem *e;
	int err;

	KUNIT_EXPECT_NULL(test, ltable_alloc_elem(t, LT_FREE, 1, 0));
	KUNIT_EXPECT_NULL(test, ltable_alloc_elem(t, 7, 1, 0));
	KUNIT_EXPECT_NULL(test, ltable_alloc_elem(t, LT_ELEM, 0, 0));
	KUNIT_EXPECT_NULL(test, ltable_alloc_elem(t, LT_ELEM, t->max_nelem + 1, 0));
	EXPECT_REPORTED(test, t, s, 4);

	/* realloc: to a bad type, of a valid element, of a free element */
	e = alloc_valid(test, t, LT_ELEM);
	s = snap(t);
	ltable_realloc_elem(t, e, LT_FREE);
	ltable_realloc_elem(t, e, LT_LINK);
	KUNIT_EXPECT_EQ(test, lt_bits_type(elem_bits(e)), LT_ELEM);
	KUNIT_EXPECT_EQ(test, elem_id(e), to_te(e)->payload);
	lt_elem_invalidate(e);
	ltable_put_elem(t, e);
	ltable_realloc_elem(t, e, LT_LINK);
	KUNIT_EXPECT_EQ(test, elem_bits(e), 0U);
	EXPECT_REPORTED(test, t, s, 3);

	/* grow from atomic context */
	s = snap(t);
	preempt_disable();
	err = ltable_grow(t, 1000);
	preempt_enable();
	KUNIT_EXPECT_EQ(test, err, -EAGAIN);
	EXPECT_REPORTED(test, t, s, 1);
	LT_EXPECT_CONSISTENT(test, t, ltable_nelem(t));
}

static void ltable_test_destroy_live_warns(struct kunit *test)
{
	struct link_table *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	struct lt_elem *e, *g;
	u64 id;

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, ltable_init(t, "lt-destroy-live", 256, 32, NULL), 0);
	e = ltable_alloc_elem(t, LT_ELEM, 1, 0);
	KUNIT_ASSERT_NOT_NULL(test, e);
	lt_elem_mkvalid(e);
	id = elem_id(e);
	ltable_put_elem(t, e);

	ltable_destroy(t);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->misuse), 1L);
	KUNIT_ASSERT_NOT_NULL(test, t->table);
	/* the table is intact and usable */
	g = ltable_get_elem(t, id);
	KUNIT_EXPECT_PTR_EQ(test, g, e);
	if (g) {
		lt_elem_invalidate(g);
		ltable_put_elem(t, g);
	}
	KUNIT_EXPECT_EQ(test, ltable_check(t), (int)ltable_nelem(t));
	ltable_destroy(t);
	KUNIT_EXPECT_NULL(test, t->table);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->misuse), 1L);
}

/* ---- concurrency torture ---- */

static void torture_poison(struct link_table *table, struct lt_elem *elem)
{
	to_te(elem)->payload = TEST_POISON;
}

#define TORTURE_THREADS	4
#define TORTURE_SLOTS	64

struct torture {
	struct link_table *t;
	atomic64_t slots[TORTURE_SLOTS];
	atomic_long_t gets, hits, allocs, lists, errors, nulls;
	unsigned long deadline;
	struct completion done[TORTURE_THREADS];
	char why[128];
};

static void torture_err(struct torture *tt, const char *why, u64 id)
{
	if (atomic_long_inc_return(&tt->errors) == 1)
		snprintf(tt->why, sizeof(tt->why), "%s (id %#llx)", why, id);
}

static void torture_retire(struct torture *tt, u64 id)
{
	struct lt_elem *e = ltable_get_elem(tt->t, id);

	/* we took the id out of its slot: nobody else may free it */
	if (!e) {
		torture_err(tt, "retire: published id did not resolve", id);
		return;
	}
	lt_elem_invalidate(e);
	ltable_put_elem(tt->t, e);
}

static void torture_step(struct torture *tt, struct rnd_state *rnd)
{
	u32 r = prandom_u32_state(rnd), slot = (r >> 8) % TORTURE_SLOTS;
	struct link_table *t = tt->t;
	struct lt_elem *e;
	u64 id, old;

	switch (r % 8) {
	case 0:
	case 1:
	case 2:	/* publish a new element, retire what it replaces */
		if (r & 0x10000) {
			preempt_disable();
			e = ltable_alloc_elem(t, r & 0x20000 ? LT_LINK : LT_ELEM, 1, 0);
			preempt_enable();
		} else {
			e = ltable_alloc_elem(t, LT_ELEM, 1, 0);
		}
		if (!e) {
			atomic_long_inc(&tt->nulls);
			return;
		}
		atomic_long_inc(&tt->allocs);
		id = elem_id(e);
		if (!id || lt_bits_valid(elem_bits(e)) || lt_bits_refcnt(elem_bits(e)) != 1)
			torture_err(tt, "fresh element not in allocated state", id);
		to_te(e)->payload = id;
		lt_elem_mkvalid(e);
		old = atomic64_xchg(&tt->slots[slot], id);
		ltable_put_elem(t, e);
		if (old)
			torture_retire(tt, old);
		break;
	case 3:
	case 4:
	case 5:	/* look up whatever is published */
		id = atomic64_read(&tt->slots[slot]);
		if (!id)
			return;
		atomic_long_inc(&tt->gets);
		e = ltable_get_elem(t, id);
		if (!e)
			return;
		atomic_long_inc(&tt->hits);
		if (elem_id(e) != id || to_te(e)->payload != id ||
		    !lt_bits_refcnt(elem_bits(e)))
			torture_err(tt, "get returned a different incarnation", id);
		ltable_put_elem(t, e);
		break;
	case 6:	/* reserve a chain and give it back */
		e = ltable_alloc_elem(t, LT_RESERVED, 1 + (r >> 20) % 4, 0);
		if (!e) {
			atomic_long_inc(&tt->nulls);
			return;
		}
		atomic_long_inc(&tt->lists);
		old = lt_elem_list_link(t, e, NULL);
		if (old != 1 + (r >> 20) % 4)
			torture_err(tt, "reserved chain has the wrong length", old);
		if (lt_elem_list_release(t, e, LT_RESERVED) != (int)old)
			torture_err(tt, "release freed the wrong number", old);
		break;
	default: /* retire */
		old = atomic64_xchg(&tt->slots[slot], 0);
		if (old)
			torture_retire(tt, old);
		break;
	}
}

struct torture_arg {
	struct torture *tt;
	int n;
};

static int torture_thread(void *data)
{
	struct torture_arg *a = data;
	struct torture *tt = a->tt;
	struct rnd_state rnd;
	unsigned long i = 0;

	prandom_seed_state(&rnd, 0x1234567 + a->n);
	while (time_before(jiffies, tt->deadline) || i < 1000) {
		torture_step(tt, &rnd);
		if ((++i & 63) == 0)
			cond_resched();
	}
	kthread_complete_and_exit(&tt->done[a->n], 0);
}

static void ltable_test_torture(struct kunit *test)
{
	struct link_table *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	struct torture *tt = kunit_kzalloc(test, sizeof(*tt), GFP_KERNEL);
	struct torture_arg args[TORTURE_THREADS];
	unsigned long misuse = ltable_misuse_count();
	struct task_struct *k;
	int i, started = 0;

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_NOT_NULL(test, tt);
	/* small slabs so the run grows the table while others allocate */
	KUNIT_ASSERT_EQ(test, ltable_init(t, "lt-torture", 512, 128, torture_poison), 0);
	tt->t = t;
	tt->deadline = jiffies + 3 * HZ;
	for (i = 0; i < TORTURE_THREADS; i++) {
		init_completion(&tt->done[i]);
		args[i] = (struct torture_arg){ tt, i };
		k = kthread_run(torture_thread, &args[i], "lt_torture/%d", i);
		if (IS_ERR(k)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(k));
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		wait_for_completion(&tt->done[i]);

	for (i = 0; i < TORTURE_SLOTS; i++) {
		u64 id = atomic64_xchg(&tt->slots[i], 0);

		if (id)
			torture_retire(tt, id);
	}
	KUNIT_EXPECT_EQ_MSG(test, atomic_long_read(&tt->errors), 0L, "%s", tt->why);
	KUNIT_EXPECT_EQ(test, ltable_misuse_count(), misuse);
	KUNIT_EXPECT_EQ(test, atomic_read(&t->used_elem), 0);
	KUNIT_EXPECT_GT(test, atomic_long_read(&tt->hits), 0L);
	KUNIT_EXPECT_GT(test, atomic_long_read(&tt->lists), 0L);
	KUNIT_EXPECT_EQ(test, ltable_check(t), (int)ltable_nelem(t));
	kunit_info(test, "%u CPUs: allocs %ld lists %ld gets %ld hits %ld nulls %ld nelem %u\n",
		   num_online_cpus(), atomic_long_read(&tt->allocs), atomic_long_read(&tt->lists),
		   atomic_long_read(&tt->gets), atomic_long_read(&tt->hits),
		   atomic_long_read(&tt->nulls), ltable_nelem(t));
	ltable_destroy(t);
}

static struct kunit_case ltable_cases[] = {
	KUNIT_CASE(ltable_test_geometry),
	KUNIT_CASE(ltable_test_geometry_large),
	KUNIT_CASE_PARAM(ltable_test_lifecycle, lt_type_gen_params),
	KUNIT_CASE(ltable_test_alloc_put),
	KUNIT_CASE(ltable_test_id_zero),
	KUNIT_CASE(ltable_test_stale_id),
	KUNIT_CASE(ltable_test_stale_id_2p18),
	KUNIT_CASE(ltable_test_aba_head),
	KUNIT_CASE(ltable_test_realloc),
	KUNIT_CASE(ltable_test_reserved_pop),
	KUNIT_CASE(ltable_test_list_link_release),
	KUNIT_CASE(ltable_test_alloc_chain),
	KUNIT_CASE(ltable_test_grow_to_max),
	KUNIT_CASE(ltable_test_grow_explicit),
	KUNIT_CASE(ltable_test_atomic_alloc),
	KUNIT_CASE(ltable_test_hardirq),
	KUNIT_CASE(ltable_test_stats),
	KUNIT_CASE(ltable_test_debugfs),
	KUNIT_CASE(ltable_test_init_misuse_warns),
	KUNIT_CASE(ltable_test_bad_id_warns),
	KUNIT_CASE(ltable_test_refcnt_overflow_warns),
	KUNIT_CASE(ltable_test_put_underflow_warns),
	KUNIT_CASE(ltable_test_invalidate_warns),
	KUNIT_CASE(ltable_test_mkvalid_warns),
	KUNIT_CASE(ltable_test_list_first_warns),
	KUNIT_CASE(ltable_test_list_misuse_warns),
	KUNIT_CASE(ltable_test_alloc_misuse_warns),
	KUNIT_CASE(ltable_test_destroy_live_warns),
	KUNIT_CASE(ltable_test_torture),
	{}
};

static struct kunit_suite ltable_suite = {
	.name = "kprim_ltable",
	.init = ltable_test_init,
	.exit = ltable_test_exit,
	.test_cases = ltable_cases,
};

kunit_test_suite(ltable_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim ltable");
KPRIM_MODULE_IMPORT_NS();
