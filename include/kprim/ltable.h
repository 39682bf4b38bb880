/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim ltable: a lockless table of fixed-size, generation-tagged elements,
 * after XNU's link table (osfmk/kern/ltable.h).  See module/ltable.c for the
 * theory of operation and Documentation/ltable.rst for a tutorial.
 */
#ifndef _KPRIM_LTABLE_H
#define _KPRIM_LTABLE_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/types.h>
#include <kprim/kprim.h>

/* Largest element index; also the "no next element" list terminator. */
#define LT_IDX_MAX		0x3ffff

/**
 * struct ltable_id - the identity of a table element
 * @id: the whole 64-bit id, as handed to ltable_get_elem()
 * @idx: index of the element in its table (18 bits)
 * @generation: bumped on every (re)allocation of the slot (46 bits)
 *
 * An id names one incarnation of a slot: once the element is freed and the
 * slot reused, the old id never resolves again.  The id 0 is never valid.
 */
struct ltable_id {
	union {
		u64 id;
		struct {
			u64 idx:18,
			    generation:46;
		};
	};
};

/**
 * struct lt_elem - table element header, embedded first in the caller's type
 * @lt_id: current identity of the slot
 * @lt_bits: reference count (bits 0-28), type (bits 29-30), valid (bit 31)
 * @lt_next_idx: free-list or reserved-list link, %LT_IDX_MAX at the end
 *
 * All three fields belong to the table: callers read them only through the
 * helpers below and lt_elem_list_*().
 */
struct lt_elem {
	struct ltable_id lt_id;
	u32 lt_bits;
	u32 lt_next_idx;
};

/* element types */
enum {
	LT_FREE		= 0,
	LT_ELEM		= 1,
	LT_LINK		= 2,
	LT_RESERVED	= 3,
};

#define LT_BITS_REFCNT_MASK	0x1fffffffU
#define LT_BITS_REFCNT		LT_BITS_REFCNT_MASK
#define LT_BITS_TYPE_SHIFT	29
#define LT_BITS_TYPE_MASK	0x3U
#define LT_BITS_TYPE		(LT_BITS_TYPE_MASK << LT_BITS_TYPE_SHIFT)
#define LT_BITS_VALID_SHIFT	31
#define LT_BITS_VALID		BIT(LT_BITS_VALID_SHIFT)

/**
 * lt_bits_valid() - is the valid bit set in an lt_bits value
 * @bits: a snapshot of &struct lt_elem.lt_bits
 *
 * Return: true if the element was valid (resolvable by ltable_get_elem()).
 */
static inline bool lt_bits_valid(u32 bits)
{
	return bits & LT_BITS_VALID;
}

/**
 * lt_bits_type() - element type encoded in an lt_bits value
 * @bits: a snapshot of &struct lt_elem.lt_bits
 *
 * Return: %LT_FREE, %LT_ELEM, %LT_LINK or %LT_RESERVED.
 */
static inline int lt_bits_type(u32 bits)
{
	return (bits >> LT_BITS_TYPE_SHIFT) & LT_BITS_TYPE_MASK;
}

/**
 * lt_bits_refcnt() - reference count encoded in an lt_bits value
 * @bits: a snapshot of &struct lt_elem.lt_bits
 *
 * Return: the reference count (0 to %LT_BITS_REFCNT_MASK).
 */
static inline u32 lt_bits_refcnt(u32 bits)
{
	return bits & LT_BITS_REFCNT_MASK;
}

struct link_table;

/**
 * typedef ltable_poison_func - called on an element just before it is freed
 * @table: the table the element belongs to
 * @elem: the element, with a zero reference count and no valid bit
 *
 * May scribble over the caller's part of the element, but must not touch
 * the &struct lt_elem header.  Called from ltable_put_elem() or
 * lt_elem_list_release(), so in the caller's context (possibly atomic).
 */
typedef void (*ltable_poison_func)(struct link_table *table, struct lt_elem *elem);

/**
 * struct ltable_stats - per-CPU statistics (XNU's CONFIG_LTABLE_STATS)
 * @nallocs: elements allocated
 * @nreallocs: ltable_realloc_elem() calls
 * @npreposts: bumped by consumers via ltable_stat_prepost()
 * @nreservations: reserved elements allocated minus reserved elements
 *	reallocated or released (the sum over CPUs is the live count)
 * @nreserved_releases: lt_elem_list_release() calls on reserved lists
 * @nspins: times an allocation found the table full and could not grow
 * @nfails: allocations that returned NULL
 * @max_used: largest used_elem this CPU saw after an allocation
 * @avg_used: running average of used_elem seen by this CPU
 * @max_reservations: largest live reservation count seen by this CPU
 * @avg_reservations: running average of the live reservation count
 */
struct ltable_stats {
	u64 nallocs;
	u64 nreallocs;
	u64 npreposts;
	s64 nreservations;
	u64 nreserved_releases;
	u64 nspins;
	u64 nfails;
	u32 max_used;
	u32 avg_used;
	u64 max_reservations;
	u64 avg_reservations;
};

/**
 * struct link_table - a link table; embed it, set it up with ltable_init()
 * @misuse: number of API misuses reported for this table (read-only)
 *
 * All other fields are private to kprim's ltable.c.
 */
struct link_table {
	/* private: */
	struct lt_elem **table;		/* one page of slab pointers */
	u32 elem_sz;
	u32 elem_shift;
	u32 slab_sz;
	u32 slab_elem;			/* elements per slab, a power of two */
	u32 slab_elem_shift;
	u32 max_nelem;
	u32 nelem;			/* indices below this are backed */
	u32 capacity;			/* elements handed to the free list */
	u32 nslabs;
	atomic_t used_elem;
	atomic64_t free_list;		/* struct ltable_id: {idx, head generation} */
	atomic_long_t live_reservations;
	struct mutex lock;		/* serialises growth */
	ltable_poison_func poison;
	struct ltable_stats __percpu *stats;
	struct list_head node;
	struct dentry *debugfs;
	char name[32];
	/* public: */
	atomic_long_t misuse;
};

int ltable_init(struct link_table *table, const char *name, u32 max_tbl_elem,
		u32 elem_sz, ltable_poison_func poison);
void ltable_destroy(struct link_table *table);
int ltable_grow(struct link_table *table, u32 min_free);
u32 ltable_nelem(struct link_table *table);
struct lt_elem *ltable_alloc_elem(struct link_table *table, int type,
				  int nelem, int nattempts);
void ltable_realloc_elem(struct link_table *table, struct lt_elem *elem, int type);
struct lt_elem *ltable_get_elem(struct link_table *table, u64 id);
void ltable_put_elem(struct link_table *table, struct lt_elem *elem);
void lt_elem_invalidate(struct lt_elem *elem);
void lt_elem_mkvalid(struct lt_elem *elem);
int lt_elem_list_link(struct link_table *table, struct lt_elem *parent,
		      struct lt_elem *child);
struct lt_elem *lt_elem_list_first(struct link_table *table, u64 id);
struct lt_elem *lt_elem_list_next(struct link_table *table, struct lt_elem *head);
struct lt_elem *lt_elem_list_break(struct link_table *table, struct lt_elem *elem);
struct lt_elem *lt_elem_list_pop(struct link_table *table, u64 *id, int type);
int lt_elem_list_release(struct link_table *table, struct lt_elem *head, int type);
unsigned long ltable_misuse_count(void);
int ltable_check(struct link_table *table);

/**
 * ltable_stat_prepost() - count a prepost in @table's statistics
 * @table: an initialized table
 *
 * XNU's waitq bumps the prepost table's npreposts counter itself; this is
 * the kprim equivalent.  Context: any.
 */
static inline void ltable_stat_prepost(struct link_table *table)
{
	this_cpu_inc(table->stats->npreposts);
}

#endif /* _KPRIM_LTABLE_H */
