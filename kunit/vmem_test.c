// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim vmem.
 *
 * Every test checks the arena's internal consistency (segment list, spans,
 * freelists, freelist bitmap, busy hash, accounting) with vmem_check(),
 * which walks the structures of <kprim/vmem_impl.h> under the arena lock.
 * Allocation results are checked against independent brute-force oracles
 * or exact shadow models, never against hard-coded addresses the
 * implementation happens to produce (except where vmem(9) defines them).
 */

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/irq_work.h>
#include <linux/kthread.h>
#include <linux/log2.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <kprim/vmem.h>
#include <kprim/vmem_impl.h>

#include "vmem_check.h"

/* ---------------------------------------------------------------------- */
/* Consistency checker */

static unsigned long vmem_test_lock(vmem_t *vm)
	__acquires(&vm->vm_lock)
{
	unsigned long flags;

	spin_lock_irqsave(&vm->vm_lock, flags);
	return flags;
}

static void vmem_dump(struct kunit *test, vmem_t *vm)
{
	struct vmem_btag *bt;
	unsigned long flags;
	int n = 0;

	flags = vmem_test_lock(vm);
	list_for_each_entry(bt, &vm->vm_seglist, seglist) {
		kunit_info(test, "  %s: %#lx +%#zx type %d\n", vm->vm_name,
			   (unsigned long)bt->start, (size_t)bt->size, bt->type);
		if (++n > 64)
			break;
	}
	spin_unlock_irqrestore(&vm->vm_lock, flags);
}

static void vmem_check(struct kunit *test, vmem_t *vm, int line)
{
	unsigned long flags = vmem_test_lock(vm);
	const char *err = vmem_check_locked(vm);

	spin_unlock_irqrestore(&vm->vm_lock, flags);
	if (err)
		vmem_dump(test, vm);
	KUNIT_ASSERT_PTR_EQ_MSG(test, err, NULL, "line %d: arena %s: %s", line,
				vm->vm_name, err);
}

#define VMEM_CHECK(test, vm)	vmem_check(test, vm, __LINE__)

static const vm_flag_t vmem_strats[] = { VM_INSTANTFIT, VM_BESTFIT, VM_NEXTFIT };

/* A small deterministic PRNG, so the stress tests replay exactly. */
struct vmem_rng {
	u64 s;
};

static u32 vmem_rand(struct vmem_rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (u32)(r->s >> 16);
}

/* ---------------------------------------------------------------------- */
/* Basic API */

static void vmem_test_basic(struct kunit *test)
{
	vmem_addr_t a, b;
	vmem_t *vm;

	vm = vmem_create("t-basic", 0x1000, 0x10000, 0x10, NULL, NULL, NULL, 0,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_roundup_size(vm, 1), 0x10);
	KUNIT_EXPECT_EQ(test, vmem_roundup_size(vm, 0x10), 0x10);
	KUNIT_EXPECT_EQ(test, vmem_roundup_size(vm, 0x11), 0x20);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0x10000);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_FREE), 0x10000);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_MAXFREE), 0x10000);

	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x15, VM_SLEEP, &a), 0);
	KUNIT_EXPECT_TRUE(test, a >= 0x1000 && a + 0x20 <= 0x11000);
	KUNIT_EXPECT_EQ(test, a & 0xf, 0);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0x20);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x100, VM_NOSLEEP | VM_BESTFIT, &b), 0);
	KUNIT_EXPECT_TRUE(test, b + 0x100 <= a || b >= a + 0x20);
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0x120);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_FREE), 0x10000 - 0x120);

	vmem_free(vm, a, 0x15);
	vmem_xfree(vm, b, 0x100);
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	/* Everything coalesced back into one free segment. */
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_MAXFREE), 0x10000);

	/* Too big for the arena, no import: fails even with VM_SLEEP. */
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x20000, VM_SLEEP, &a), ENOMEM);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	/* NetBSD allows a NULL addrp (the range is then only freed by xfreeall). */
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x10, VM_SLEEP, NULL), 0);
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x10, 0, 0, 0, VMEM_ADDR_MIN,
					  VMEM_ADDR_MAX, VM_SLEEP, NULL), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0x20);
	vmem_xfreeall(vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	vmem_destroy(vm);
}

/* The fixed preamble of the seed's UNITTEST main(), with its expectations. */
static void vmem_test_seed_preamble(struct kunit *test)
{
	static const struct { vmem_addr_t a; vmem_size_t s; } spans[] = {
		{ 0, 50 }, { 100, 200 }, { 2000, 1 }, { 40000, 65536 },
		{ 10000, 10000 }, { 500, 1000 }, { 0xffffff00, 0x100 },
	};
	vm_flag_t strat[] = { VM_INSTANTFIT, VM_BESTFIT };
	vmem_addr_t p;
	vmem_t *vm;
	int i, s;

	for (s = 0; s < ARRAY_SIZE(strat); s++) {
		vm = vmem_create("t-seed", 0, 0, 1, NULL, NULL, NULL, 0,
				 VM_SLEEP, IPL_NONE);
		KUNIT_ASSERT_NOT_NULL(test, vm);
		for (i = 0; i < ARRAY_SIZE(spans); i++)
			KUNIT_ASSERT_EQ(test, vmem_add(vm, spans[i].a, spans[i].s,
						       VM_SLEEP), 0);
		VMEM_CHECK(test, vm);
		KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x101, 0, 0, 0, 0xffffff00,
						  0xffffffff, strat[s] | VM_SLEEP, &p),
				ENOMEM);
		KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 50, 0, 0, 0, 0, 49,
						  strat[s] | VM_SLEEP, &p), 0);
		KUNIT_EXPECT_EQ(test, p, 0);
		vmem_xfree(vm, p, 50);
		KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 25, 0, 0, 0, 0, 24,
						  strat[s] | VM_SLEEP, &p), 0);
		KUNIT_EXPECT_EQ(test, p, 0);
		KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x100, 0, 0, 0, 0xffffff01,
						  0xffffffff, strat[s] | VM_SLEEP, &p),
				ENOMEM);
		KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x100, 0, 0, 0, 0xffffff00,
						  0xfffffffe, strat[s] | VM_SLEEP, &p),
				ENOMEM);
		KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x100, 0, 0, 0, 0xffffff00,
						  0xffffffff, strat[s] | VM_SLEEP, &p), 0);
		KUNIT_EXPECT_EQ(test, p, 0xffffff00);
		VMEM_CHECK(test, vm);
		vmem_xfree(vm, 0, 25);
		vmem_xfree(vm, 0xffffff00, 0x100);
		KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
		KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
		vmem_destroy(vm);
	}
}

/* An arena whose last span ends at VMEM_ADDR_MAX. */
static void vmem_test_addr_max(struct kunit *test)
{
	const vmem_addr_t base = VMEM_ADDR_MAX - 0xfff;
	vmem_addr_t p, p2;
	vmem_t *vm;

	vm = vmem_create("t-max", base, 0x1000, 0x10, NULL, NULL, NULL, 0x40,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_EXPECT_TRUE(test, vmem_contains(vm, VMEM_ADDR_MAX, 1));
	KUNIT_EXPECT_TRUE(test, vmem_contains(vm, base, 0x1000));
	KUNIT_EXPECT_FALSE(test, vmem_contains(vm, base - 1, 2));

	/* The last quantum, by maxaddr at the top and minaddr at the end. */
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x10, 0, 0, 0, VMEM_ADDR_MAX - 0xf,
					  VMEM_ADDR_MAX, VM_NOSLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, p, VMEM_ADDR_MAX - 0xf);
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x10, 0, 0, 0, VMEM_ADDR_MAX - 0xe,
					  VMEM_ADDR_MAX, VM_NOSLEEP, &p2), ENOMEM);
	vmem_xfree(vm, p, 0x10);

	/* The whole arena, then aligned at the very top. */
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x1000, 0, 0, 0, VMEM_ADDR_MIN,
					  VMEM_ADDR_MAX, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, p, base);
	VMEM_CHECK(test, vm);
	vmem_xfree(vm, p, 0x1000);
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x100, 0x100, 0, 0,
					  VMEM_ADDR_MAX - 0x1ff, VMEM_ADDR_MAX,
					  VM_SLEEP | VM_BESTFIT, &p), 0);
	KUNIT_EXPECT_EQ(test, p, VMEM_ADDR_MAX - 0x1ff);
	vmem_xfree(vm, p, 0x100);
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x100, 0x100, 0, 0,
					  VMEM_ADDR_MAX - 0x1f0, VMEM_ADDR_MAX,
					  VM_SLEEP | VM_INSTANTFIT, &p), 0);
	KUNIT_EXPECT_EQ(test, p, VMEM_ADDR_MAX - 0xff);
	/* An alignment that would wrap past VMEM_ADDR_MAX fails cleanly. */
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x10, 0x2000, 0, 0, base + 0x10,
					  VMEM_ADDR_MAX, VM_SLEEP, &p2), ENOMEM);
	vmem_xfree(vm, p, 0x100);
	/* Quantum-cached allocations at the top of the address space. */
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x40, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_TRUE(test, p >= base && p + 0x3f >= p);
	vmem_free(vm, p, 0x40);
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	vmem_destroy(vm);
}

/* ---------------------------------------------------------------------- */
/* Constrained allocation against a brute-force oracle */

#define ORACLE_QUANTA	1024

struct vmem_oracle {
	unsigned long busy[BITS_TO_LONGS(ORACLE_QUANTA)];
	vmem_addr_t base;
	vmem_size_t q;
};

static bool oracle_ok(struct vmem_oracle *o, vmem_addr_t a, vmem_size_t size,
		      vmem_size_t align, vmem_size_t phase, vmem_size_t nocross,
		      vmem_addr_t minaddr, vmem_addr_t maxaddr)
{
	unsigned long i = (a - o->base) / o->q, n = size / o->q, j;

	if (a < minaddr || a + size - 1 > maxaddr)
		return false;
	if (align && (a - phase) % align)
		return false;
	if (nocross && a / nocross != (a + size - 1) / nocross)
		return false;
	if (i + n > ORACLE_QUANTA)
		return false;
	for (j = i; j < i + n; j++)
		if (test_bit(j, o->busy))
			return false;
	return true;
}

static void oracle_mark(struct vmem_oracle *o, vmem_addr_t a, vmem_size_t size,
			bool busy)
{
	unsigned long i = (a - o->base) / o->q, n = size / o->q;

	if (busy)
		bitmap_set(o->busy, i, n);
	else
		bitmap_clear(o->busy, i, n);
}

struct vmem_live {
	vmem_addr_t a;
	vmem_size_t s;
};

static void vmem_test_fit_oracle(struct kunit *test)
{
	const vmem_addr_t base = 0x40000;
	struct vmem_rng rng = { .s = 0x5eed1234abcdULL };
	struct vmem_oracle *o;
	struct vmem_live *live;
	unsigned long nlive = 0, nok = 0, nfail = 0;
	vmem_size_t q = 4;
	vmem_t *vm;
	int iter;

	o = kunit_kzalloc(test, sizeof(*o), GFP_KERNEL);
	live = kunit_kcalloc(test, ORACLE_QUANTA, sizeof(*live), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	KUNIT_ASSERT_NOT_NULL(test, live);
	o->base = base;
	o->q = q;
	vm = vmem_create("t-oracle", base, ORACLE_QUANTA * q, q, NULL, NULL,
			 NULL, 0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);

	for (iter = 0; iter < 3000; iter++) {
		u32 t = vmem_rand(&rng) % 100;

		if (t < 55 || !nlive) {
			vmem_size_t size = (vmem_rand(&rng) % 24 + 1) * q;
			vmem_size_t align = 0, phase = 0, nocross = 0;
			vmem_addr_t minaddr = VMEM_ADDR_MIN, maxaddr = VMEM_ADDR_MAX;
			vm_flag_t fit = vmem_strats[vmem_rand(&rng) % 3];
			vmem_addr_t p = 0, c;
			bool any = false;
			int rc;

			if (vmem_rand(&rng) % 2)
				align = q << (vmem_rand(&rng) % 7);
			if (align && vmem_rand(&rng) % 2)
				phase = (vmem_rand(&rng) % (align / q)) * q;
			if (vmem_rand(&rng) % 2) {
				nocross = q << (vmem_rand(&rng) % 9);
				if (nocross < size ||
				    (phase % nocross) + size > nocross)
					nocross = 0;
			}
			if (vmem_rand(&rng) % 2) {
				minaddr = base + vmem_rand(&rng) % (ORACLE_QUANTA * q);
				maxaddr = minaddr + vmem_rand(&rng) % (ORACLE_QUANTA * q);
			}
			rc = vmem_xalloc(vm, size, align, phase, nocross, minaddr,
					 maxaddr, fit | VM_NOSLEEP, &p);
			for (c = base; c < base + ORACLE_QUANTA * q && !any; c += q)
				any = oracle_ok(o, c, size, align, phase, nocross,
						minaddr, maxaddr);
			if (rc == 0) {
				bool good = oracle_ok(o, p, size, align, phase,
						      nocross, minaddr, maxaddr);

				KUNIT_ASSERT_TRUE_MSG(test, good,
						      "xalloc size %#zx align %#zx phase %#zx nocross %#zx [%#lx, %#lx] gave bad %#lx",
						      (size_t)size, (size_t)align,
						      (size_t)phase, (size_t)nocross,
						      (unsigned long)minaddr,
						      (unsigned long)maxaddr,
						      (unsigned long)p);
				oracle_mark(o, p, size, true);
				live[nlive].a = p;
				live[nlive++].s = size;
				nok++;
			} else {
				KUNIT_ASSERT_EQ(test, rc, ENOMEM);
				KUNIT_ASSERT_FALSE_MSG(test, any,
						       "xalloc size %#zx align %#zx phase %#zx nocross %#zx [%#lx, %#lx] failed but fits",
						       (size_t)size, (size_t)align,
						       (size_t)phase, (size_t)nocross,
						       (unsigned long)minaddr,
						       (unsigned long)maxaddr);
				nfail++;
			}
		} else {
			unsigned long i = vmem_rand(&rng) % nlive;

			vmem_xfree(vm, live[i].a, live[i].s);
			oracle_mark(o, live[i].a, live[i].s, false);
			live[i] = live[--nlive];
		}
		if (iter % 100 == 0)
			VMEM_CHECK(test, vm);
	}
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_GT(test, nok, 500);
	KUNIT_EXPECT_GT(test, nfail, 10);
	while (nlive) {
		nlive--;
		vmem_xfree(vm, live[nlive].a, live[nlive].s);
	}
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	vmem_destroy(vm);
}

/* Fit strategies: best fit takes the smallest hole, next fit rotates. */
static void vmem_test_strategies(struct kunit *test)
{
	vmem_addr_t a[8], p, prev;
	vmem_t *vm;
	int i;

	vm = vmem_create("t-fit", 0, 0x100, 1, NULL, NULL, NULL, 0, VM_SLEEP,
			 IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	/* Holes of 8 at 0, 3 at 0x20, 5 at 0x40, then one big tail. */
	KUNIT_ASSERT_EQ(test, vmem_xalloc_addr(vm, 8, 0x18, VM_SLEEP), 0);
	KUNIT_ASSERT_EQ(test, vmem_xalloc_addr(vm, 0x23, 0x1d, VM_SLEEP), 0);
	KUNIT_ASSERT_EQ(test, vmem_xalloc_addr(vm, 0x45, 0x20, VM_SLEEP), 0);
	VMEM_CHECK(test, vm);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 3, VM_SLEEP | VM_BESTFIT, &p), 0);
	KUNIT_EXPECT_EQ(test, p, 0x20);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 4, VM_SLEEP | VM_BESTFIT, &p), 0);
	KUNIT_EXPECT_EQ(test, p, 0x40);
	/* Instant fit of 3 takes a list of segments >= 4: never a 1-hole. */
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 3, VM_SLEEP | VM_INSTANTFIT, &p), 0);
	KUNIT_EXPECT_TRUE(test, p == 0 || p >= 0x65);
	vmem_xfreeall(vm);
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);

	/* Next fit: increasing addresses, frees behind the rotor not reused. */
	prev = 0;
	for (i = 0; i < 8; i++) {
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x10, VM_SLEEP | VM_NEXTFIT,
						 &a[i]), 0);
		if (i)
			KUNIT_EXPECT_GT(test, a[i], prev);
		prev = a[i];
	}
	vmem_free(vm, a[0], 0x10);
	vmem_free(vm, a[7], 0x10);
	/*
	 * The rotor is at the end of a[7]: next fit takes a[7]'s old slot only
	 * after wrapping; here it must take the hole right after the rotor.
	 */
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x10, VM_SLEEP | VM_NEXTFIT, &p), 0);
	KUNIT_EXPECT_EQ(test, p, a[7] + 0x10);
	/* Fill the tail; next fit wraps around to the lowest hole. */
	while (vmem_alloc(vm, 0x10, VM_NOSLEEP | VM_NEXTFIT, &p) == 0 &&
	       p > a[0])
		;
	KUNIT_EXPECT_EQ(test, p, a[0]);
	vmem_xfreeall(vm);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
}

static void vmem_test_xalloc_addr(struct kunit *test)
{
	vmem_addr_t p;
	vmem_t *vm;

	vm = vmem_create("t-addr", 0x1000, 0x1000, 0x10, NULL, NULL, NULL, 0,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_ASSERT_EQ(test, vmem_xalloc_addr(vm, 0x1800, 0x100, VM_SLEEP), 0);
	KUNIT_EXPECT_EQ(test, vmem_xalloc_addr(vm, 0x1880, 0x10, VM_NOSLEEP), ENOMEM);
	KUNIT_EXPECT_EQ(test, vmem_xalloc_addr(vm, 0x17f0, 0x20, VM_NOSLEEP), ENOMEM);
	/* Outside every span: ENOMEM even with VM_SLEEP, no hang. */
	KUNIT_EXPECT_EQ(test, vmem_xalloc_addr(vm, 0x3000, 0x10, VM_SLEEP), ENOMEM);
	KUNIT_ASSERT_EQ(test, vmem_xalloc_addr(vm, 0x1000, 0x10, VM_SLEEP), 0);
	KUNIT_ASSERT_EQ(test, vmem_xalloc_addr(vm, 0x1ff0, 0x10, VM_SLEEP), 0);
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0x120);
	vmem_xfree(vm, 0x1800, 0x100);
	vmem_xfree(vm, 0x1000, 0x10);
	vmem_xfree(vm, 0x1ff0, 0x10);
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x1000, 0, 0, 0, VMEM_ADDR_MIN,
					  VMEM_ADDR_MAX, VM_NOSLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, p, 0x1000);
	vmem_xfree(vm, p, 0x1000);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
}

/* ---------------------------------------------------------------------- */
/* walk, contains, size, xfreeall */

struct walk_acc {
	vmem_size_t sum;
	unsigned long n;
	vmem_addr_t last;
	bool ordered;
};

static void walk_fn(void *arg, vmem_addr_t start, vmem_size_t size)
{
	struct walk_acc *w = arg;

	if (w->n && start <= w->last)
		w->ordered = false;
	w->last = start;
	w->sum += size;
	w->n++;
}

static void vmem_test_walk_contains(struct kunit *test)
{
	struct walk_acc w;
	vmem_addr_t p[10];
	vmem_t *vm;
	int i;

	vm = vmem_create("t-walk", 0x10000, 0x1000, 0x10, NULL, NULL, NULL, 0,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_ASSERT_EQ(test, vmem_add(vm, 0x30000, 0x800, VM_SLEEP), 0);
	for (i = 0; i < 10; i++)
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x20 * (i + 1), VM_SLEEP, &p[i]), 0);
	for (i = 0; i < 10; i += 2)
		vmem_free(vm, p[i], 0x20 * (i + 1));
	VMEM_CHECK(test, vm);

	w = (struct walk_acc){ .ordered = true };
	vmem_walk(vm, VMEM_ALLOC, walk_fn, &w);
	KUNIT_EXPECT_EQ(test, w.n, 5);
	KUNIT_EXPECT_EQ(test, w.sum, vmem_size(vm, VMEM_ALLOC));
	KUNIT_EXPECT_TRUE(test, w.ordered);
	w = (struct walk_acc){ .ordered = true };
	vmem_walk(vm, VMEM_FREE, walk_fn, &w);
	KUNIT_EXPECT_EQ(test, w.sum, vmem_size(vm, VMEM_FREE));
	KUNIT_EXPECT_TRUE(test, w.ordered);
	w = (struct walk_acc){ .ordered = true };
	vmem_walk(vm, VMEM_SPAN, walk_fn, &w);
	KUNIT_EXPECT_EQ(test, w.n, 2);
	KUNIT_EXPECT_EQ(test, w.sum, 0x1800);
	w = (struct walk_acc){ .ordered = true };
	vmem_walk(vm, VMEM_ALLOC | VMEM_FREE, walk_fn, &w);
	KUNIT_EXPECT_EQ(test, w.sum, 0x1800);
	KUNIT_EXPECT_TRUE(test, w.ordered);

	KUNIT_EXPECT_TRUE(test, vmem_contains(vm, 0x10000, 0x1000));
	KUNIT_EXPECT_TRUE(test, vmem_contains(vm, 0x307f0, 0x10));
	KUNIT_EXPECT_FALSE(test, vmem_contains(vm, 0x10ff0, 0x20));
	KUNIT_EXPECT_FALSE(test, vmem_contains(vm, 0x20000, 1));
	KUNIT_EXPECT_FALSE(test, vmem_contains(vm, 0x0fff0, 0x20));

	/* MAXFREE is the largest free segment: check it against a walk. */
	{
		struct vmem_btag *bt;
		vmem_size_t max = 0;
		unsigned long f = vmem_test_lock(vm);

		list_for_each_entry(bt, &vm->vm_seglist, seglist)
			if (bt->type == VMEM_BT_FREE)
				max = max(max, bt->size);
		spin_unlock_irqrestore(&vm->vm_lock, f);
		KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_MAXFREE), max);
	}

	vmem_xfreeall(vm);
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_FREE), 0x1800);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	vmem_destroy(vm);
}

/* ---------------------------------------------------------------------- */
/* Import and release */

/* A chain of depth 3: top (static) <- mid <- leaf, via vmem_alloc/free. */
static void vmem_test_source_chain(struct kunit *test)
{
	vmem_t *top, *mid, *leaf;
	vmem_addr_t p[4], q;
	int i;

	top = vmem_create("t-top", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL,
			  0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, top);
	/* NetBSD style: vmem_alloc/vmem_free passed without casts. */
	mid = vmem_create("t-mid", 0, 0, 0x100, vmem_alloc, vmem_free, top,
			  0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, mid);
	leaf = vmem_create("t-leaf", 0, 0, 0x10, vmem_alloc, vmem_free, mid,
			   0x40, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, leaf);
	KUNIT_EXPECT_PTR_EQ(test, leaf->vm_source, mid);
	KUNIT_EXPECT_PTR_EQ(test, mid->vm_source, top);

	for (i = 0; i < 4; i++) {
		KUNIT_ASSERT_EQ(test, vmem_alloc(leaf, 0x2000, VM_SLEEP, &p[i]), 0);
		KUNIT_EXPECT_TRUE(test, vmem_contains(top, p[i], 0x2000));
		KUNIT_EXPECT_TRUE(test, vmem_contains(mid, p[i], 0x2000));
		KUNIT_EXPECT_TRUE(test, vmem_contains(leaf, p[i], 0x2000));
	}
	VMEM_CHECK(test, top);
	VMEM_CHECK(test, mid);
	VMEM_CHECK(test, leaf);
	KUNIT_EXPECT_EQ(test, leaf->vm_nimport, 4);
	KUNIT_EXPECT_EQ(test, vmem_size(leaf, VMEM_ALLOC), 0x8000);
	KUNIT_EXPECT_EQ(test, vmem_size(mid, VMEM_ALLOC), 0x8000);
	KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC), 0x8000);

	/* A cached-size allocation imports through the chain too. */
	KUNIT_ASSERT_EQ(test, vmem_alloc(leaf, 0x30, VM_SLEEP, &q), 0);
	KUNIT_EXPECT_TRUE(test, vmem_contains(top, q, 0x30));
	vmem_free(leaf, q, 0x30);
	vmem_qcache_reap(leaf);
	/* Freeing releases each imported span back up the chain. */
	for (i = 0; i < 4; i++)
		vmem_free(leaf, p[i], 0x2000);
	KUNIT_EXPECT_EQ(test, vmem_size(leaf, VMEM_ALLOC | VMEM_FREE), 0);
	KUNIT_EXPECT_EQ(test, leaf->vm_nrelease, leaf->vm_nimport);
	VMEM_CHECK(test, leaf);
	vmem_destroy(leaf);
	VMEM_CHECK(test, mid);
	KUNIT_EXPECT_EQ(test, vmem_size(mid, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC), 0);
	vmem_destroy(mid);
	vmem_destroy(top);
}

static void vmem_test_source_release(struct kunit *test)
{
	vmem_t *top, *mid, *leaf;
	vmem_addr_t p[4];
	int i;

	top = vmem_create("t-top2", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL,
			  0, VM_SLEEP, IPL_NONE);
	mid = vmem_create("t-mid2", 0, 0, 0x100, vmem_alloc, vmem_free, top,
			  0, VM_SLEEP, IPL_NONE);
	leaf = vmem_create("t-leaf2", 0, 0, 0x10, vmem_alloc, vmem_free, mid,
			   0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, top);
	KUNIT_ASSERT_NOT_NULL(test, mid);
	KUNIT_ASSERT_NOT_NULL(test, leaf);
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, vmem_alloc(leaf, 0x3000, VM_SLEEP, &p[i]), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC), 0xc000);
	for (i = 0; i < 4; i++) {
		vmem_free(leaf, p[i], 0x3000);
		VMEM_CHECK(test, leaf);
		VMEM_CHECK(test, mid);
		VMEM_CHECK(test, top);
		KUNIT_EXPECT_EQ(test, vmem_size(leaf, VMEM_ALLOC | VMEM_FREE),
				(vmem_size_t)(3 - i) * 0x3000);
		KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC),
				(vmem_size_t)(3 - i) * 0x3000);
	}
	KUNIT_EXPECT_EQ(test, leaf->vm_nrelease, 4);
	KUNIT_EXPECT_EQ(test, mid->vm_nrelease, 4);
	/* vmem_xfreeall releases imported spans up the chain too. */
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, vmem_alloc(leaf, 0x1800, VM_SLEEP, &p[i]), 0);
	KUNIT_EXPECT_NE(test, vmem_size(top, VMEM_ALLOC), 0);
	vmem_xfreeall(leaf);
	VMEM_CHECK(test, leaf);
	VMEM_CHECK(test, mid);
	KUNIT_EXPECT_EQ(test, vmem_size(leaf, VMEM_ALLOC | VMEM_FREE), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(mid, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(leaf), 0);
	vmem_destroy(leaf);
	vmem_destroy(mid);
	vmem_destroy(top);
}

/*
 * A constrained request imports once; if the new span still cannot hold
 * it (here: a window outside anything the source can give), the span is
 * given back at once instead of staying in the child unused, so failing
 * requests do not drain the source one span per call.
 */
static void vmem_test_constrained_import_unused(struct kunit *test)
{
	vmem_t *top, *child;
	vmem_addr_t p;
	int i;

	top = vmem_create("t-top3", 0x100000, 0x100000, 0x10, NULL, NULL, NULL,
			  0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, top);
	child = vmem_create("t-child3", 0, 0, 0x10, vmem_alloc, vmem_free, top,
			    0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, child);
	for (i = 0; i < 8; i++) {
		KUNIT_EXPECT_EQ(test, vmem_xalloc(child, 0x100, 0, 0, 0, 0x400000,
						  0x4fffff, VM_NOSLEEP, &p), ENOMEM);
		KUNIT_EXPECT_EQ(test, vmem_xalloc(child, 0x100, 0, 0, 0, 0x400000,
						  0x4fffff, VM_SLEEP, &p), ENOMEM);
		KUNIT_EXPECT_EQ(test, vmem_xalloc_addr(child, 0x300000, 0x100,
						       VM_NOSLEEP), ENOMEM);
		VMEM_CHECK(test, child);
		VMEM_CHECK(test, top);
	}
	KUNIT_EXPECT_EQ(test, vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, child->vm_nimport, child->vm_nrelease);
	/* An import that does serve the request stays, busy. */
	KUNIT_ASSERT_EQ(test, vmem_xalloc(child, 0x100, 0x1000, 0x10, 0, 0,
					  VMEM_ADDR_MAX, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, p & 0xfff, 0x10);
	KUNIT_EXPECT_EQ(test, vmem_size(child, VMEM_ALLOC), 0x100);
	VMEM_CHECK(test, child);
	vmem_xfree(child, p, 0x100);
	KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(child), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(top), 0);
	vmem_destroy(child);
	vmem_destroy(top);
}

struct import_ctx {
	vmem_addr_t next;
	vmem_size_t extra;
	unsigned long nimport, nrelease;
	vmem_size_t imported;
};

static int test_importfn(void *arg, vmem_size_t size, vm_flag_t flags,
			 vmem_addr_t *addrp)
{
	struct import_ctx *c = arg;

	if (c->imported + size > 0x100000)
		return -ENOMEM;	/* any non-zero value means failure */
	/* Deliberately misaligned for any alignment above 0x100. */
	*addrp = c->next + 0x100;
	c->next += size + 0x10000;
	c->imported += size;
	c->nimport++;
	return 0;
}

static int test_ximportfn(void *arg, vmem_size_t size, vmem_size_t *actual,
			  vm_flag_t flags, vmem_addr_t *addrp)
{
	struct import_ctx *c = arg;
	int rc = test_importfn(arg, size + c->extra, flags, addrp);

	if (!rc)
		*actual = size + c->extra;
	return rc;
}

static void test_releasefn(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	struct import_ctx *c = arg;

	c->imported -= size;
	c->nrelease++;
}

static void vmem_test_import_fn(struct kunit *test)
{
	struct import_ctx c = { .next = 0x1000000 };
	vmem_addr_t p, p2;
	vmem_t *vm;

	vm = vmem_create("t-import", 0, 0, 0x100, test_importfn, test_releasefn,
			 &c, 0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x300, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, c.nimport, 1);
	KUNIT_EXPECT_EQ(test, c.imported, 0x300);
	vmem_free(vm, p, 0x300);
	KUNIT_EXPECT_EQ(test, c.nrelease, 1);
	KUNIT_EXPECT_EQ(test, c.imported, 0);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0);

	/* VM_LARGEIMPORT imports 16 times the size. */
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x100, VM_SLEEP | VM_LARGEIMPORT, &p), 0);
	KUNIT_EXPECT_EQ(test, c.imported, 0x1000);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x100, VM_SLEEP, &p2), 0);
	KUNIT_EXPECT_EQ(test, c.nimport, 2);
	vmem_free(vm, p, 0x100);
	vmem_free(vm, p2, 0x100);
	KUNIT_EXPECT_EQ(test, c.imported, 0);

	/* Constrained allocations import with slack and respect constraints. */
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x400, 0x4000, 0x200, 0, VMEM_ADDR_MIN,
					  VMEM_ADDR_MAX, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, (p - 0x200) & 0x3fff, 0);
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x800, 0, 0, 0x1000, VMEM_ADDR_MIN,
					  VMEM_ADDR_MAX, VM_SLEEP, &p2), 0);
	KUNIT_EXPECT_EQ(test, p2 / 0x1000, (p2 + 0x7ff) / 0x1000);
	VMEM_CHECK(test, vm);
	vmem_xfree(vm, p, 0x400);
	vmem_xfree(vm, p2, 0x800);
	KUNIT_EXPECT_EQ(test, c.imported, 0);
	KUNIT_EXPECT_EQ(test, c.nimport, c.nrelease);
	/* When the import fails, a VM_NOSLEEP request gives up. */
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x200000, VM_NOSLEEP, &p), ENOMEM);
	/*
	 * A VM_SLEEP request whose window no import can hit imports once,
	 * then fails instead of waiting forever; the unused span is given
	 * back at once.
	 */
	p = c.nimport;
	KUNIT_EXPECT_EQ(test, vmem_xalloc_addr(vm, 0x100, 0x100, VM_SLEEP), ENOMEM);
	KUNIT_EXPECT_EQ(test, c.nimport, p + 1);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
	KUNIT_EXPECT_EQ(test, c.imported, 0);

	/* vmem_xcreate: the import function may return more. */
	c = (struct import_ctx){ .next = 0x4000000, .extra = 0x1000 };
	vm = vmem_xcreate("t-ximport", 0, 0, 0x100, test_ximportfn,
			  test_releasefn, &c, 0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x100, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0x1100);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x1000, VM_SLEEP, &p2), 0);
	KUNIT_EXPECT_EQ(test, c.nimport, 1);
	vmem_free(vm, p, 0x100);
	vmem_free(vm, p2, 0x1000);
	KUNIT_EXPECT_EQ(test, c.nrelease, 1);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	vmem_destroy(vm);
}

/* vmem_init() with caller storage, and destroy releasing imported spans. */
static void vmem_test_init_storage(struct kunit *test)
{
	struct import_ctx c = { .next = 0x1000000 };
	vmem_t *vm, *storage;
	vmem_addr_t p;

	storage = kunit_kzalloc(test, sizeof(*storage), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, storage);
	vm = vmem_init(storage, "t-init", 0x1000, 0x1000, 0x100, test_importfn,
		       test_releasefn, &c, 0x400, VM_SLEEP, IPL_VM);
	KUNIT_ASSERT_PTR_EQ(test, vm, storage);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x2000, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, c.nimport, 1);
	vmem_free(vm, p, 0x2000);
	/* A retained imported span (no busy) is released by destroy. */
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x200, VM_SLEEP, &p), 0);
	vmem_free(vm, p, 0x200);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
	KUNIT_EXPECT_EQ(test, c.imported, 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(NULL) >= 0, true);
}

/* ---------------------------------------------------------------------- */
/* VM_SLEEP */

struct sleep_ctx {
	vmem_t *vm;
	vmem_addr_t addr;
	int rc;
	atomic_t freed;
	bool freed_before;
	struct completion done, freer_done;
};

static int sleeper_fn(void *arg)
{
	struct sleep_ctx *s = arg;

	s->rc = vmem_alloc(s->vm, 0x100, VM_SLEEP, &s->addr);
	s->freed_before = atomic_read(&s->freed);
	complete(&s->done);
	return 0;
}

static int freer_fn(void *arg)
{
	struct sleep_ctx *s = arg;

	msleep(100);
	atomic_set(&s->freed, 1);
	vmem_free(s->vm, 0x1000, 0x100);
	complete(&s->freer_done);
	return 0;
}

static void vmem_test_sleep_wakeup(struct kunit *test)
{
	struct task_struct *t1, *t2;
	struct sleep_ctx *s;
	vmem_addr_t p;

	s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	s->vm = vmem_create("t-sleep", 0x1000, 0x100, 0x100, NULL, NULL, NULL,
			    0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, s->vm);
	init_completion(&s->done);
	init_completion(&s->freer_done);
	KUNIT_ASSERT_EQ(test, vmem_alloc(s->vm, 0x100, VM_SLEEP, &p), 0);
	KUNIT_ASSERT_EQ(test, p, 0x1000);
	KUNIT_EXPECT_EQ(test, vmem_alloc(s->vm, 0x100, VM_NOSLEEP, &p), ENOMEM);

	t1 = kthread_run(sleeper_fn, s, "vmem-sleeper");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t1));
	/* Still blocked after a while. */
	KUNIT_EXPECT_EQ(test, wait_for_completion_timeout(&s->done, HZ / 20), 0);
	t2 = kthread_run(freer_fn, s, "vmem-freer");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t2));
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&s->done, 30 * HZ), 0);
	wait_for_completion(&s->freer_done);
	KUNIT_EXPECT_EQ(test, s->rc, 0);
	KUNIT_EXPECT_EQ(test, s->addr, 0x1000);
	KUNIT_EXPECT_TRUE(test, s->freed_before);
	KUNIT_EXPECT_GE(test, s->vm->vm_nwait, 1);
	vmem_free(s->vm, s->addr, 0x100);
	VMEM_CHECK(test, s->vm);
	vmem_destroy(s->vm);
}

/* ---------------------------------------------------------------------- */
/* Quantum caches */

static unsigned long qc_hits(vmem_t *vm, vmem_size_t size)
{
	struct vmem_qcache *qc = &vm->vm_qcache[size / vm->vm_quantum - 1];
	unsigned long n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += READ_ONCE(per_cpu_ptr(qc->cpu, cpu)->hits);
	return n;
}

static void vmem_test_qcache(struct kunit *test)
{
	vmem_addr_t a[100], p;
	unsigned long hits;
	bool got_zero = false;
	vmem_t *vm;
	int i;

	/* qcache_max above 16 quanta is capped. */
	vm = vmem_create("t-qc", 0, 0x10000, 0x10, NULL, NULL, NULL, 0x1000,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_EXPECT_EQ(test, vm->vm_nqcache, 16);
	KUNIT_EXPECT_EQ(test, vm->vm_qcache_max, 0x100);

	for (i = 0; i < 100; i++) {
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x10, VM_SLEEP, &a[i]), 0);
		got_zero |= a[i] == 0;
	}
	KUNIT_EXPECT_TRUE(test, got_zero);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 100 * 0x10);
	for (i = 0; i < 100; i++)
		vmem_free(vm, a[i], 0x10);
	/* Cached: still busy in the arena, including address 0. */
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 100 * 0x10);
	hits = qc_hits(vm, 0x10);
	got_zero = false;
	preempt_disable();	/* stay on this CPU's magazines */
	for (i = 0; i < 20; i++) {
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x10, VM_NOSLEEP, &a[i]), 0);
		got_zero |= a[i] == 0;
	}
	preempt_enable();
	KUNIT_EXPECT_EQ(test, qc_hits(vm, 0x10), hits + 20);
	for (i = 0; i < 20; i++)
		vmem_free(vm, a[i], 0x10);
	/* Sizes of every cache class, and one just above qcache_max. */
	for (i = 1; i <= 17; i++) {
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, i * 0x10 - 1, VM_SLEEP, &p), 0);
		KUNIT_EXPECT_EQ(test, p & 0xf, 0);
		vmem_free(vm, p, i * 0x10 - 1);
	}
	VMEM_CHECK(test, vm);
	vmem_qcache_reap(vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	VMEM_CHECK(test, vm);

	/* A full arena is reclaimed from the caches before failing. */
	for (i = 0; i < 100; i++)
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x10, VM_SLEEP, &a[i]), 0);
	for (i = 0; i < 100; i++)
		vmem_free(vm, a[i], 0x10);
	KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 0x10000, VM_NOSLEEP, &p), 0);
	KUNIT_EXPECT_EQ(test, p, 0);
	vmem_free(vm, p, 0x10000);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	vmem_destroy(vm);
}

/*
 * A magazine a CPU takes from the depot must not keep its depot link: the
 * purge chains a CPU's loaded and previous magazines through that link.
 * 91 frees on one CPU leave two full magazines in the depot; 62 allocations
 * then take both, the second while the first is the previous magazine, and
 * the first one's stale link points at the second: the purge would walk
 * loaded -> previous -> loaded ... for ever (or, with other depot contents,
 * return rounds and free magazines still in the depot, twice).
 */
static void vmem_test_qcache_mag_links(struct kunit *test)
{
	const int n = 3 * VMEM_MAG_ROUNDS + 1, m = 2 * VMEM_MAG_ROUNDS + 2;
	struct vmem_qcache_cpu *cc;
	unsigned long irqflags;
	struct vmem_qcache *qc;
	vmem_addr_t *a;
	bool linked;
	vmem_t *vm;
	int i, cpu, rc = 0;

	a = kunit_kcalloc(test, n, sizeof(*a), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	vm = vmem_create("t-maglink", 0, 0x10000, 0x10, NULL, NULL, NULL, 0x10,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	qc = &vm->vm_qcache[0];

	preempt_disable();	/* one CPU's magazines throughout */
	cpu = smp_processor_id();
	for (i = 0; i < n; i++)
		rc |= vmem_alloc(vm, 0x10, VM_NOSLEEP, &a[i]);
	for (i = 0; i < n && !rc; i++)
		vmem_free(vm, a[i], 0x10);
	for (i = 0; i < m && !rc; i++)
		rc |= vmem_alloc(vm, 0x10, VM_NOSLEEP, &a[i]);
	preempt_enable();
	KUNIT_ASSERT_EQ(test, rc, 0);

	cc = per_cpu_ptr(qc->cpu, cpu);
	spin_lock_irqsave(&cc->lock, irqflags);
	linked = (cc->loaded && cc->loaded->next) ||
		 (cc->prev && cc->prev->next);
	if (linked) {
		/* Let the purges below terminate on the broken code. */
		cc->loaded->next = NULL;
		if (cc->prev)
			cc->prev->next = NULL;
	}
	spin_unlock_irqrestore(&cc->lock, irqflags);
	KUNIT_EXPECT_FALSE_MSG(test, linked,
			       "a CPU's magazine still links into the depot");

	vmem_qcache_reap(vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), m * 0x10);
	VMEM_CHECK(test, vm);
	for (i = 0; i < m; i++)
		vmem_free(vm, a[i], 0x10);
	vmem_qcache_reap(vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, qc->nmags, 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
}

/* Work for vmem_test_qcache_cpu_dead: cache rounds in one CPU's magazines. */
struct vmem_test_cpu_fill {
	vmem_t *vm;
	vmem_addr_t a[VMEM_MAG_ROUNDS + 10];
	int rc;
};

static long vmem_test_cpu_fill_fn(void *arg)
{
	struct vmem_test_cpu_fill *f = arg;
	int i;

	/* A kworker bound to the CPU: every round lands in its magazines. */
	for (i = 0; i < ARRAY_SIZE(f->a); i++)
		f->rc |= vmem_alloc(f->vm, 0x10, VM_NOSLEEP, &f->a[i]);
	for (i = 0; i < ARRAY_SIZE(f->a) && !f->rc; i++)
		vmem_free(f->vm, f->a[i], 0x10);
	return 0;
}

/*
 * The rounds a CPU caches in its loaded and previous magazines go back to
 * the depot when the CPU goes offline: another CPU then allocates them
 * from the depot (cache hits) instead of carving new segments out of the
 * arena while they sit stranded on the dead CPU.
 */
static void vmem_test_qcache_cpu_dead(struct kunit *test)
{
	const int n = ARRAY_SIZE(((struct vmem_test_cpu_fill *)NULL)->a);
	struct vmem_test_cpu_fill *f;
	struct vmem_qcache_cpu *cc;
	struct vmem_magazine *mag;
	unsigned long irqflags, depot_rounds = 0, nfull, nmags, hits;
	struct vmem_qcache *qc;
	bool stranded;
	int i, cpu, err, rc = 0;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs a second online CPU");
	cpu = cpumask_last(cpu_online_mask);
	if (cpu == 0)
		kunit_skip(test, "no hot-unpluggable CPU");
	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	f->vm = vmem_create("t-cpudead", 0, 0x10000, 0x10, NULL, NULL, NULL,
			    0x10, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, f->vm);
	qc = &f->vm->vm_qcache[0];

	KUNIT_ASSERT_EQ(test, work_on_cpu(cpu, vmem_test_cpu_fill_fn, f), 0);
	KUNIT_ASSERT_EQ(test, f->rc, 0);
	cc = per_cpu_ptr(qc->cpu, cpu);
	spin_lock_irqsave(&cc->lock, irqflags);
	stranded = cc->loaded && cc->prev &&
		   cc->loaded->nrounds + cc->prev->nrounds == n;
	spin_unlock_irqrestore(&cc->lock, irqflags);
	KUNIT_ASSERT_TRUE_MSG(test, stranded, "the rounds are not in CPU %d's magazines", cpu);
	KUNIT_EXPECT_EQ(test, vmem_size(f->vm, VMEM_ALLOC), n * 0x10);

	err = remove_cpu(cpu);
	if (err) {
		vmem_qcache_reap(f->vm);
		vmem_destroy(f->vm);
		kunit_skip(test, "remove_cpu(%d) failed: %d", cpu, err);
	}

	spin_lock_irqsave(&cc->lock, irqflags);
	stranded = cc->loaded || cc->prev;
	spin_unlock_irqrestore(&cc->lock, irqflags);
	spin_lock_irqsave(&qc->depot_lock, irqflags);
	for (mag = qc->full; mag; mag = mag->next)
		depot_rounds += mag->nrounds;
	nfull = qc->nfull;
	nmags = qc->nmags;
	spin_unlock_irqrestore(&qc->depot_lock, irqflags);
	KUNIT_EXPECT_FALSE_MSG(test, stranded, "offline CPU %d still has magazines", cpu);
	KUNIT_EXPECT_EQ(test, nfull, 2);
	KUNIT_EXPECT_EQ(test, depot_rounds, n);
	KUNIT_EXPECT_EQ(test, nmags, 2);

	/* Another CPU gets the same rounds back from the depot. */
	hits = qc_hits(f->vm, 0x10);
	preempt_disable();
	for (i = 0; i < n; i++)
		rc |= vmem_alloc(f->vm, 0x10, VM_NOSLEEP, &f->a[i]);
	preempt_enable();
	KUNIT_EXPECT_EQ(test, rc, 0);
	KUNIT_EXPECT_EQ(test, qc_hits(f->vm, 0x10), hits + n);
	KUNIT_EXPECT_EQ(test, vmem_size(f->vm, VMEM_ALLOC), n * 0x10);

	KUNIT_EXPECT_EQ(test, add_cpu(cpu), 0);
	for (i = 0; i < n && !rc; i++)
		vmem_free(f->vm, f->a[i], 0x10);
	vmem_qcache_reap(f->vm);
	KUNIT_EXPECT_EQ(test, vmem_size(f->vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(f->vm), 0);
	VMEM_CHECK(test, f->vm);
	vmem_destroy(f->vm);
}

/* An idle depot is trimmed by the periodic work within two intervals. */
static void vmem_test_depot_trim(struct kunit *test)
{
	const unsigned int n = 300;
	struct vmem_qcache *qc;
	unsigned long nfull;
	vmem_addr_t *a;
	vmem_t *vm;
	int i;

	a = kunit_kcalloc(test, n, sizeof(*a), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	vm = vmem_create("t-trim", 0, 0x10000, 1, NULL, NULL, NULL, 4,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	qc = &vm->vm_qcache[0];
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 1, VM_SLEEP, &a[i]), 0);
	for (i = 0; i < n; i++)
		vmem_free(vm, a[i], 1);
	spin_lock_irq(&qc->depot_lock);
	nfull = qc->nfull;
	spin_unlock_irq(&qc->depot_lock);
	/* 300 rounds, at most 2 magazines of 30 per CPU: the rest in the depot. */
	KUNIT_EXPECT_GE(test, (long)(nfull * VMEM_MAG_ROUNDS),
			(long)n - 2L * VMEM_MAG_ROUNDS * num_possible_cpus());
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), n);

	msleep(12 * 1000);

	spin_lock_irq(&qc->depot_lock);
	nfull = qc->nfull;
	spin_unlock_irq(&qc->depot_lock);
	KUNIT_EXPECT_EQ(test, nfull, 0);
	KUNIT_EXPECT_LE(test, vmem_size(vm, VMEM_ALLOC),
			2 * VMEM_MAG_ROUNDS * num_possible_cpus());
	VMEM_CHECK(test, vm);
	vmem_qcache_reap(vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	vmem_destroy(vm);
}

/* ---------------------------------------------------------------------- */
/* The hash follows the number of busy segments */

static void vmem_test_hash_resize(struct kunit *test)
{
	const unsigned long n = 6000;
	vmem_addr_t *a;
	unsigned long i;
	vmem_t *vm;

	a = kvmalloc_array(n, sizeof(*a), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	vm = vmem_create("t-hash", 0, 2 * n, 1, NULL, NULL, NULL, 0, VM_SLEEP,
			 IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_EXPECT_EQ(test, vm->vm_hashbits, ilog2(VMEM_HASH_INITIAL));
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 1, VM_SLEEP, &a[i]), 0);
	/* VM_SLEEP allocations resize inline. */
	KUNIT_EXPECT_GE(test, 1UL << vm->vm_hashbits, n / 2);
	VMEM_CHECK(test, vm);
	for (i = 0; i < n; i++)
		vmem_free(vm, a[i], 1);
	/* Frees resize from a work item. */
	flush_work(&vm->vm_hash_work);
	KUNIT_EXPECT_LE(test, vm->vm_hashbits, ilog2(VMEM_HASH_INITIAL) + 1);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
	kvfree(a);
}

/* ---------------------------------------------------------------------- */
/* Instant fit stays flat as the arena fills with segments */

/* ns per alloc+free pair in an arena holding 2 * @n segments. */
static u64 flat_measure(struct kunit *test, unsigned long n)
{
	const unsigned long pairs = 2000;
	vmem_addr_t p;
	unsigned long i;
	u64 t0, t1;
	vmem_t *vm;

	vm = vmem_create("t-flat", 0, 2 * n, 1, NULL, NULL, NULL, 0, VM_SLEEP,
			 IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	for (i = 0; i < 2 * n; i++) {
		KUNIT_ASSERT_EQ(test, vmem_alloc(vm, 1, VM_SLEEP, &p), 0);
		if (i % 1024 == 0)
			cond_resched();
	}
	/* n one-unit holes between n busy units: nothing coalesces. */
	for (i = 0; i < 2 * n; i += 2)
		vmem_xfree(vm, i, 1);
	flush_work(&vm->vm_hash_work);
	KUNIT_EXPECT_EQ(test, vm->vm_nbusy, n);

	t0 = ktime_get_ns();
	for (i = 0; i < pairs; i++) {
		if (vmem_alloc(vm, 1, VM_NOSLEEP | VM_INSTANTFIT, &p))
			break;
		vmem_free(vm, p, 1);
	}
	t1 = ktime_get_ns();
	KUNIT_EXPECT_EQ(test, i, pairs);
	vmem_xfreeall(vm);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
	return div_u64(t1 - t0, pairs);
}

static void vmem_test_instantfit_flat(struct kunit *test)
{
	u64 small, large;

	small = flat_measure(test, 1000);
	large = flat_measure(test, 50000);
	kunit_info(test, "alloc+free: %llu ns with 2000 segments, %llu ns with 100000\n",
		   small, large);
	/* 1.5x is the target on real hardware; emulation is noisier. */
	KUNIT_EXPECT_LT(test, large, 3 * small);
}

/* ---------------------------------------------------------------------- */
/* Randomized stress: port of the seed's UNITTEST main() */

#define STRESS_LIMIT	110000UL

struct stress_reg {
	vmem_addr_t p;
	vmem_size_t sz;
	bool x;
};

static bool stress_range_free(unsigned long *busy, unsigned long *inspan,
			      vmem_addr_t p, vmem_size_t sz)
{
	if (p + sz > STRESS_LIMIT)
		return false;
	return find_next_bit(busy, p + sz, p) >= p + sz &&
	       find_next_zero_bit(inspan, p + sz, p) >= p + sz;
}

/* Lowest c >= @c with c == @phase modulo @align. */
static vmem_addr_t stress_next(vmem_addr_t c, vmem_size_t align,
			       vmem_size_t phase)
{
	return c + ((phase - c) & (align - 1));
}

/*
 * Brute-force search for any placement of @sz units satisfying the
 * constraints in the shadow model: candidates in address order, skipping
 * past the first unusable unit of each rejected candidate.  Returns
 * VMEM_ADDR_MAX when there is none.
 */
static vmem_addr_t stress_find(unsigned long *busy, unsigned long *inspan,
			       vmem_size_t sz, vmem_size_t align,
			       vmem_size_t phase, vmem_size_t nocross,
			       vmem_addr_t minaddr, vmem_addr_t maxaddr)
{
	vmem_addr_t c = stress_next(minaddr, align, phase), bad;

	while (c + sz <= STRESS_LIMIT && c + sz - 1 <= maxaddr) {
		if (nocross && c / nocross != (c + sz - 1) / nocross) {
			c = stress_next((c / nocross + 1) * nocross, align, phase);
			continue;
		}
		bad = min(find_next_bit(busy, c + sz, c),
			  find_next_zero_bit(inspan, c + sz, c));
		if (bad >= c + sz)
			return c;
		c = stress_next(bad + 1, align, phase);
	}
	return VMEM_ADDR_MAX;
}

static void vmem_test_stress_random(struct kunit *test)
{
	static const struct { vmem_addr_t a; vmem_size_t s; } spans[] = {
		{ 0, 50 }, { 100, 200 }, { 2000, 1 }, { 40000, 65536 },
		{ 10000, 10000 }, { 500, 1000 },
	};
	struct vmem_rng rng = { .s = 0x123456789abcdefULL };
	unsigned long *busy, *inspan, nreg = 0, nalloc = 0, nfree = 0;
	unsigned long nxfail = 0, op;
	vmem_size_t total = 0;
	struct stress_reg *reg;
	vmem_t *vm;
	int i;

	busy = kunit_kzalloc(test, BITS_TO_LONGS(STRESS_LIMIT) * sizeof(long),
			     GFP_KERNEL);
	inspan = kunit_kzalloc(test, BITS_TO_LONGS(STRESS_LIMIT) * sizeof(long),
			       GFP_KERNEL);
	reg = kvmalloc_array(STRESS_LIMIT, sizeof(*reg), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, busy);
	KUNIT_ASSERT_NOT_NULL(test, inspan);
	KUNIT_ASSERT_NOT_NULL(test, reg);

	vm = vmem_create("t-stress", 0, 0, 1, NULL, NULL, NULL, 0, VM_SLEEP,
			 IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	for (i = 0; i < ARRAY_SIZE(spans); i++) {
		KUNIT_ASSERT_EQ(test, vmem_add(vm, spans[i].a, spans[i].s, VM_SLEEP), 0);
		bitmap_set(inspan, spans[i].a, spans[i].s);
	}

	for (op = 0; op < 100000; op++) {
		u32 t = vmem_rand(&rng) % 100;
		vm_flag_t strat = vmem_strats[vmem_rand(&rng) % 3];

		if (t > 45) {
			vmem_size_t sz = vmem_rand(&rng) % 500 + 1;
			vmem_size_t align = 0, phase = 0, nocross = 0;
			vmem_addr_t minaddr = 0, maxaddr = VMEM_ADDR_MAX, p = 0, c;
			bool x = t > 70;
			int rc;

			if (x) {
				align = 1UL << (vmem_rand(&rng) % 15);
				phase = vmem_rand(&rng) % 65536;
				nocross = 1UL << (vmem_rand(&rng) % 15);
				if (align <= phase)
					phase = 0;
				if (nocross < sz ||
				    (phase / nocross) != (phase + sz - 1) / nocross)
					nocross = 0;
				do {
					minaddr = vmem_rand(&rng) % 50000;
					maxaddr = vmem_rand(&rng) % 70000;
				} while (minaddr > maxaddr);
				rc = vmem_xalloc(vm, sz, align, phase, nocross,
						 minaddr, maxaddr, strat | VM_NOSLEEP, &p);
			} else {
				/* VM_NOSLEEP: a VM_SLEEP request would wait forever here */
				rc = vmem_alloc(vm, sz, strat | VM_NOSLEEP, &p);
			}
			if (rc) {
				KUNIT_ASSERT_EQ(test, rc, ENOMEM);
				/* Brute force: really no placement. */
				c = stress_find(busy, inspan, sz, x ? align : 1,
						x ? phase : 0, x ? nocross : 0,
						minaddr, maxaddr);
				KUNIT_ASSERT_EQ_MSG(test, c, VMEM_ADDR_MAX,
						    "op %lu: alloc %zu failed but [%lu, +%zu) is free",
						    op, (size_t)sz, (unsigned long)c, (size_t)sz);
				nxfail++;
				continue;
			}
			KUNIT_ASSERT_TRUE_MSG(test, stress_range_free(busy, inspan, p, sz),
					      "op %lu: got [%lu, +%zu) which is busy or outside the spans",
					      op, (unsigned long)p, (size_t)sz);
			if (x) {
				KUNIT_ASSERT_EQ(test, (p - phase) & (align - 1), 0);
				KUNIT_ASSERT_TRUE(test, p >= minaddr && p + sz - 1 <= maxaddr);
				if (nocross)
					KUNIT_ASSERT_EQ(test, p / nocross,
							(p + sz - 1) / nocross);
			}
			bitmap_set(busy, p, sz);
			reg[nreg].p = p;
			reg[nreg].sz = sz;
			reg[nreg].x = x;
			nreg++;
			total += sz;
			nalloc++;
		} else if (nreg) {
			struct stress_reg *r = &reg[vmem_rand(&rng) % nreg];

			if (r->x)
				vmem_xfree(vm, r->p, r->sz);
			else
				vmem_free(vm, r->p, r->sz);
			bitmap_clear(busy, r->p, r->sz);
			total -= r->sz;
			*r = reg[--nreg];
			nfree++;
		}
		if (op % 1000 == 0) {
			VMEM_CHECK(test, vm);
			KUNIT_ASSERT_EQ(test, vmem_size(vm, VMEM_ALLOC), total);
		}
	}
	VMEM_CHECK(test, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), total);
	kunit_info(test, "%lu allocs, %lu frees, %lu failed, %lu live\n",
		   nalloc, nfree, nxfail, nreg);
	KUNIT_EXPECT_GT(test, nalloc, 20000);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), 0);
	while (nreg) {
		nreg--;
		if (reg[nreg].x)
			vmem_xfree(vm, reg[nreg].p, reg[nreg].sz);
		else
			vmem_free(vm, reg[nreg].p, reg[nreg].sz);
	}
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
	kvfree(reg);
}

/* ---------------------------------------------------------------------- */
/* Concurrency: 4 kthreads on one arena with quantum caches */

#define CONC_THREADS	4
#define CONC_UNITS	65536
#define CONC_OPS	20000

struct conc_ctx {
	vmem_t *vm;
	unsigned long *owned;
	atomic_t errors;
	atomic_t nalloc;
	struct completion done[CONC_THREADS];
	int seed[CONC_THREADS];
};

static int conc_fn_idx(struct conc_ctx *c, int idx)
{
	struct vmem_rng rng = { .s = 0x9e3779b97f4a7c15ULL * (idx + 1) };
	struct vmem_live *live;
	unsigned long nlive = 0, i, j;
	int op;

	live = kcalloc(256, sizeof(*live), GFP_KERNEL);
	if (!live) {
		atomic_inc(&c->errors);
		return 0;
	}
	for (op = 0; op < CONC_OPS; op++) {
		if (nlive < 256 && (vmem_rand(&rng) % 2 || !nlive)) {
			vmem_size_t sz = vmem_rand(&rng) % 20 + 1;	/* 17..20 uncached */
			vm_flag_t fl = vmem_rand(&rng) % 2 ? VM_SLEEP : VM_NOSLEEP;
			vmem_addr_t p;

			if (vmem_alloc(c->vm, sz, fl, &p))
				continue;
			for (j = p; j < p + sz; j++)
				if (j >= CONC_UNITS || test_and_set_bit(j, c->owned))
					atomic_inc(&c->errors);
			live[nlive].a = p;
			live[nlive++].s = sz;
			atomic_inc(&c->nalloc);
		} else {
			i = vmem_rand(&rng) % nlive;
			for (j = live[i].a; j < live[i].a + live[i].s; j++)
				if (!test_and_clear_bit(j, c->owned))
					atomic_inc(&c->errors);
			vmem_free(c->vm, live[i].a, live[i].s);
			live[i] = live[--nlive];
		}
		if (op % 1024 == 0)
			cond_resched();
	}
	while (nlive) {
		nlive--;
		for (j = live[nlive].a; j < live[nlive].a + live[nlive].s; j++)
			if (!test_and_clear_bit(j, c->owned))
				atomic_inc(&c->errors);
		vmem_free(c->vm, live[nlive].a, live[nlive].s);
	}
	kfree(live);
	return 0;
}

struct conc_arg {
	struct conc_ctx *c;
	int idx;
};

static int conc_fn(void *arg)
{
	struct conc_arg *a = arg;

	conc_fn_idx(a->c, a->idx);
	complete(&a->c->done[a->idx]);
	return 0;
}

static void vmem_test_concurrent_qcache(struct kunit *test)
{
	struct conc_arg args[CONC_THREADS];
	struct task_struct *t;
	struct conc_ctx *c;
	int i;

	if (num_online_cpus() < 2)
		kunit_info(test, "one CPU online: threads interleave by preemption only\n");
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->owned = kunit_kzalloc(test, BITS_TO_LONGS(CONC_UNITS) * sizeof(long),
				 GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c->owned);
	c->vm = vmem_create("t-conc", 0, CONC_UNITS, 1, NULL, NULL, NULL, 16,
			    VM_SLEEP, IPL_VM);
	KUNIT_ASSERT_NOT_NULL(test, c->vm);

	for (i = 0; i < CONC_THREADS; i++) {
		init_completion(&c->done[i]);
		args[i].c = c;
		args[i].idx = i;
		t = kthread_run(conc_fn, &args[i], "vmem-conc/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	for (i = 0; i < CONC_THREADS; i++)
		wait_for_completion(&c->done[i]);

	KUNIT_EXPECT_EQ(test, atomic_read(&c->errors), 0);
	KUNIT_EXPECT_GT(test, atomic_read(&c->nalloc), CONC_THREADS * CONC_OPS / 4);
	/* Every address came back: nothing owned, nothing busy after a reap. */
	KUNIT_EXPECT_EQ(test, bitmap_weight(c->owned, CONC_UNITS), 0);
	VMEM_CHECK(test, c->vm);
	vmem_qcache_reap(c->vm);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_MAXFREE), CONC_UNITS);
	VMEM_CHECK(test, c->vm);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(c->vm), 0);
	vmem_destroy(c->vm);
}

/* ---------------------------------------------------------------------- */
/* Hard-IRQ context for an IPL_VM arena */

struct irq_ctx {
	struct irq_work work;
	vmem_t *vm;
	int rc[3];
	vmem_addr_t p[3];
	bool in_irq;
};

static void irq_fn(struct irq_work *w)
{
	struct irq_ctx *c = container_of(w, struct irq_ctx, work);

	c->in_irq = in_hardirq();
	c->rc[0] = vmem_alloc(c->vm, 0x10, VM_NOSLEEP, &c->p[0]);
	c->rc[1] = vmem_alloc(c->vm, 0x1000, VM_NOSLEEP, &c->p[1]);
	c->rc[2] = vmem_xalloc(c->vm, 0x100, 0x100, 0, 0, VMEM_ADDR_MIN,
			       VMEM_ADDR_MAX, VM_NOSLEEP, &c->p[2]);
	if (!c->rc[0])
		vmem_free(c->vm, c->p[0], 0x10);
	if (!c->rc[1])
		vmem_free(c->vm, c->p[1], 0x1000);
	if (!c->rc[2])
		vmem_xfree(c->vm, c->p[2], 0x100);
}

static void vmem_test_hardirq(struct kunit *test)
{
	struct irq_ctx *c;
	int i;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->vm = vmem_create("t-irq", 0x100000, 0x100000, 0x10, NULL, NULL, NULL,
			    0x40, VM_SLEEP, IPL_VM);
	KUNIT_ASSERT_NOT_NULL(test, c->vm);
	init_irq_work(&c->work, irq_fn);
	for (i = 0; i < 20; i++) {
		memset(c->rc, 0xff, sizeof(c->rc));
		irq_work_queue(&c->work);
		irq_work_sync(&c->work);
		KUNIT_EXPECT_EQ(test, c->rc[0], 0);
		KUNIT_EXPECT_EQ(test, c->rc[1], 0);
		KUNIT_EXPECT_EQ(test, c->rc[2], 0);
	}
	if (!c->in_irq)
		kunit_info(test, "irq_work ran outside hard IRQ on this machine\n");
	VMEM_CHECK(test, c->vm);
	vmem_qcache_reap(c->vm);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(c->vm), 0);
	vmem_destroy(c->vm);
}

/* Softirq context for an IPL_SOFTNET arena (a timer callback). */
struct soft_ctx {
	struct timer_list timer;
	vmem_t *vm;
	int rc[2];
	bool in_softirq;
	struct completion done;
};

static void soft_fn(struct timer_list *t)
{
	struct soft_ctx *c = from_timer(c, t, timer);
	vmem_addr_t p, q;

	c->in_softirq = in_serving_softirq();
	c->rc[0] = vmem_alloc(c->vm, 0x10, VM_NOSLEEP | VM_POPULATING, &p);
	c->rc[1] = vmem_xalloc(c->vm, 0x200, 0x100, 0, 0, VMEM_ADDR_MIN,
			       VMEM_ADDR_MAX, VM_NOSLEEP | VM_BESTFIT, &q);
	if (!c->rc[0])
		vmem_free(c->vm, p, 0x10);
	if (!c->rc[1])
		vmem_xfree(c->vm, q, 0x200);
	complete(&c->done);
}

static void vmem_test_softirq(struct kunit *test)
{
	struct soft_ctx *c;
	vmem_addr_t p;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->vm = vmem_create("t-soft", 0x1000, 0x10000, 0x10, NULL, NULL, NULL,
			    0x20, VM_SLEEP, IPL_SOFTNET);
	KUNIT_ASSERT_NOT_NULL(test, c->vm);
	/* Process context uses it too (spin_lock_bh). */
	KUNIT_ASSERT_EQ(test, vmem_alloc(c->vm, 0x100, VM_SLEEP, &p), 0);
	init_completion(&c->done);
	timer_setup(&c->timer, soft_fn, 0);
	mod_timer(&c->timer, jiffies + 1);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&c->done, 10 * HZ), 0);
	del_timer_sync(&c->timer);
	KUNIT_EXPECT_TRUE(test, c->in_softirq);
	KUNIT_EXPECT_EQ(test, c->rc[0], 0);
	KUNIT_EXPECT_EQ(test, c->rc[1], 0);
	vmem_free(c->vm, p, 0x100);
	VMEM_CHECK(test, c->vm);
	vmem_qcache_reap(c->vm);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(c->vm), 0);
	vmem_destroy(c->vm);
}

/* ---------------------------------------------------------------------- */
/* Misuse: reported once, counted, refused, arena intact */

static void vmem_test_bad_free_warns(struct kunit *test)
{
	vmem_addr_t p, q;
	vmem_t *vm;
	long m;

	vm = vmem_create("t-badfree", 0x1000, 0x1000, 0x10, NULL, NULL, NULL,
			 0x40, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	KUNIT_ASSERT_EQ(test, vmem_xalloc(vm, 0x100, 0, 0, 0, VMEM_ADDR_MIN,
					  VMEM_ADDR_MAX, VM_SLEEP, &p), 0);
	m = vmem_misuse_count(vm);

	/* Never allocated. */
	vmem_xfree(vm, p + 0x100, 0x100);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 1);
	/* Wrong size: refused, still allocated. */
	vmem_xfree(vm, p, 0x80);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 2);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0x100);
	/* Inside an allocation, not its start. */
	vmem_xfree(vm, p + 0x10, 0x10);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 3);
	VMEM_CHECK(test, vm);
	/* Double free. */
	vmem_xfree(vm, p, 0x100);
	vmem_xfree(vm, p, 0x100);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 4);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	VMEM_CHECK(test, vm);

	/* Double free through the quantum cache (same CPU). */
	preempt_disable();
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x20, VM_NOSLEEP, &q), 0);
	vmem_free(vm, q, 0x20);
	vmem_free(vm, q, 0x20);
	preempt_enable();
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 5);
	vmem_qcache_reap(vm);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 5);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	/* Misaligned address through the cache. */
	vmem_free(vm, 0x1001, 0x10);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 6);
	VMEM_CHECK(test, vm);
	/* The arena still works. */
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x1000, VM_SLEEP, &p), 0);
	vmem_free(vm, p, 0x1000);
	vmem_destroy(vm);
}

static void vmem_test_bad_args_warns(struct kunit *test)
{
	long g = vmem_misuse_count(NULL), m;
	vmem_addr_t p;
	vmem_t *vm;

	/* Quantum not a power of two. */
	KUNIT_EXPECT_NULL(test, vmem_create("t-badq", 0, 0x100, 3, NULL, NULL,
					    NULL, 0, VM_SLEEP, IPL_NONE));
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(NULL), g + 1);
	/* Misaligned initial span. */
	KUNIT_EXPECT_NULL(test, vmem_create("t-badspan", 8, 0x100, 0x10, NULL,
					    NULL, NULL, 0, VM_SLEEP, IPL_NONE));
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(NULL), g + 2);

	vm = vmem_create("t-badargs", 0x1000, 0x1000, 0x10, NULL, NULL, NULL, 0,
			 VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	m = vmem_misuse_count(vm);
	/* Overlapping vmem_add, at either end and inside. */
	KUNIT_EXPECT_EQ(test, vmem_add(vm, 0x1800, 0x1000, VM_SLEEP), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_add(vm, 0x800, 0x1000, VM_SLEEP), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_add(vm, 0x1100, 0x100, VM_SLEEP), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 3);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0x1000);
	/* Adjacent is fine. */
	KUNIT_EXPECT_EQ(test, vmem_add(vm, 0x2000, 0x100, VM_SLEEP), 0);
	/* Bad flags and constraints. */
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x10, VM_SLEEP | VM_NOSLEEP, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x10, 0, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x10, VM_SLEEP | VM_BESTFIT |
					 VM_INSTANTFIT, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x10, 0x30, 0, 0, 0, VMEM_ADDR_MAX,
					  VM_SLEEP, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x10, 0x20, 0x20, 0, 0,
					  VMEM_ADDR_MAX, VM_SLEEP, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x40, 0, 0, 0x20, 0, VMEM_ADDR_MAX,
					  VM_SLEEP, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x10, 0, 0, 0, 0x2000, 0x1000,
					  VM_SLEEP, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_xalloc(vm, 0x20, 0x40, 0x30, 0x40, 0,
					  VMEM_ADDR_MAX, VM_SLEEP, &p), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_xalloc_addr(vm, 0x1008, 0x10, VM_SLEEP), EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, 0x40), 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(vm), m + 13);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
}

static void vmem_test_destroy_busy_warns(struct kunit *test)
{
	long g = vmem_misuse_count(NULL);
	vmem_t *top, *child;
	vmem_addr_t p;

	top = vmem_create("t-dtop", 0x100000, 0x10000, 0x1000, NULL, NULL, NULL,
			  0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, top);
	child = vmem_create("t-dchild", 0, 0, 0x10, vmem_alloc, vmem_free, top,
			    0x20, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, child);
	KUNIT_ASSERT_EQ(test, vmem_alloc(child, 0x100, VM_SLEEP, &p), 0);
	KUNIT_ASSERT_EQ(test, vmem_alloc(child, 0x20, VM_SLEEP, &p), 0);
	KUNIT_EXPECT_NE(test, vmem_size(top, VMEM_ALLOC), 0);
	vmem_destroy(child);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(NULL), g + 1);
	/* The child's spans went back to the source anyway. */
	KUNIT_EXPECT_EQ(test, vmem_size(top, VMEM_ALLOC), 0);
	VMEM_CHECK(test, top);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(top), 0);
	vmem_destroy(top);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(NULL), g + 1);
}

/* An import function that returns a misaligned span is refused. */
static int bad_importfn(void *arg, vmem_size_t size, vm_flag_t flags,
			vmem_addr_t *addrp)
{
	*addrp = 0x10008;	/* not a multiple of the 0x10 quantum */
	return 0;
}

static void vmem_test_bad_import_warns(struct kunit *test)
{
	struct import_ctx c = { .next = 0 };
	vmem_addr_t p;
	vmem_t *vm;
	long m;

	vm = vmem_create("t-badimport", 0, 0, 0x10, bad_importfn,
			 test_releasefn, &c, 0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, vm);
	m = vmem_misuse_count(vm);
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, 0x100, VM_NOSLEEP, &p), ENOMEM);
	/* Reported (once per import attempt), handed back, arena empty. */
	KUNIT_EXPECT_GT(test, vmem_misuse_count(vm), m);
	KUNIT_EXPECT_EQ(test, c.nrelease, vmem_misuse_count(vm) - m);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0);
	VMEM_CHECK(test, vm);
	vmem_destroy(vm);
}

/* IPL_NONE arenas refuse hard-IRQ callers. */
static void irq_bad_fn(struct irq_work *w)
{
	struct irq_ctx *c = container_of(w, struct irq_ctx, work);

	c->in_irq = in_hardirq();
	c->rc[0] = vmem_alloc(c->vm, 0x10, VM_NOSLEEP, &c->p[0]);
}

static void vmem_test_bad_context_warns(struct kunit *test)
{
	struct irq_ctx *c;
	long m;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->vm = vmem_create("t-badctx", 0, 0x1000, 0x10, NULL, NULL, NULL, 0,
			    VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, c->vm);
	m = vmem_misuse_count(c->vm);
	init_irq_work(&c->work, irq_bad_fn);
	irq_work_queue(&c->work);
	irq_work_sync(&c->work);
	if (!c->in_irq) {
		vmem_destroy(c->vm);
		kunit_skip(test, "irq_work did not run in hard IRQ context");
	}
	KUNIT_EXPECT_EQ(test, c->rc[0], EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(c->vm), m + 1);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC), 0);
	VMEM_CHECK(test, c->vm);
	vmem_destroy(c->vm);
}

/*
 * The queries and vmem_qcache_reap() refuse hard-IRQ callers of an IPL_NONE
 * arena like alloc and free do: its lock is not IRQ-safe, so taking it in
 * hard IRQ could deadlock against a process-context holder.
 */
struct irq_query_ctx {
	struct irq_work work;
	vmem_t *vm;
	vmem_size_t size;
	bool contains;
	int nwalk;
	bool in_irq;
};

static void irq_query_walk_fn(void *arg, vmem_addr_t start, vmem_size_t size)
{
	(*(int *)arg)++;
}

static void irq_query_fn(struct irq_work *w)
{
	struct irq_query_ctx *c = container_of(w, struct irq_query_ctx, work);

	c->in_irq = in_hardirq();
	c->size = vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE);
	c->contains = vmem_contains(c->vm, 0, 0x10);
	vmem_walk(c->vm, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, irq_query_walk_fn,
		  &c->nwalk);
	vmem_qcache_reap(c->vm);
}

static void vmem_test_irq_query_warns(struct kunit *test)
{
	struct irq_query_ctx *c;
	long m;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->vm = vmem_create("t-irqquery", 0, 0x1000, 0x10, NULL, NULL, NULL,
			    0x40, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, c->vm);
	/* The lock has been taken with interrupts on, as an IPL_NONE arena's is. */
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE), 0x1000);
	m = vmem_misuse_count(c->vm);
	init_irq_work(&c->work, irq_query_fn);
	irq_work_queue(&c->work);
	irq_work_sync(&c->work);
	if (!c->in_irq) {
		vmem_destroy(c->vm);
		kunit_skip(test, "irq_work did not run in hard IRQ context");
	}
	KUNIT_EXPECT_EQ(test, c->size, 0);
	KUNIT_EXPECT_FALSE(test, c->contains);
	KUNIT_EXPECT_EQ(test, c->nwalk, 0);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(c->vm), m + 4);
	VMEM_CHECK(test, c->vm);
	vmem_destroy(c->vm);
}

/*
 * VM_SLEEP from hard IRQ is refused (misuse, EINVAL) even on an arena whose
 * IPL allows hard-IRQ callers: only VM_NOSLEEP is legal there.
 */
static void irq_sleep_fn(struct irq_work *w)
{
	struct irq_ctx *c = container_of(w, struct irq_ctx, work);

	c->in_irq = in_hardirq();
	c->rc[0] = vmem_alloc(c->vm, 0x1000, VM_SLEEP, &c->p[0]);
	c->rc[1] = vmem_xalloc(c->vm, 0x100, 0x100, 0, 0, VMEM_ADDR_MIN,
			       VMEM_ADDR_MAX, VM_SLEEP, &c->p[1]);
	c->rc[2] = vmem_add(c->vm, 0x200000, 0x1000, VM_SLEEP);
	if (!c->rc[0])
		vmem_free(c->vm, c->p[0], 0x1000);
	if (!c->rc[1])
		vmem_xfree(c->vm, c->p[1], 0x100);
}

static void vmem_test_irq_sleep_warns(struct kunit *test)
{
	struct irq_ctx *c;
	long m;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->vm = vmem_create("t-irqsleep", 0x100000, 0x100000, 0x10, NULL, NULL,
			    NULL, 0, VM_SLEEP, IPL_VM);
	KUNIT_ASSERT_NOT_NULL(test, c->vm);
	m = vmem_misuse_count(c->vm);
	init_irq_work(&c->work, irq_sleep_fn);
	irq_work_queue(&c->work);
	irq_work_sync(&c->work);
	if (!c->in_irq) {
		vmem_destroy(c->vm);
		kunit_skip(test, "irq_work did not run in hard IRQ context");
	}
	KUNIT_EXPECT_EQ(test, c->rc[0], EINVAL);
	KUNIT_EXPECT_EQ(test, c->rc[1], EINVAL);
	KUNIT_EXPECT_EQ(test, c->rc[2], EINVAL);
	KUNIT_EXPECT_EQ(test, vmem_misuse_count(c->vm), m + 3);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE), 0x100000);
	VMEM_CHECK(test, c->vm);
	vmem_destroy(c->vm);
}

/* ---------------------------------------------------------------------- */
/* debugfs */

/*
 * debugfs files have no ->read_iter, so kernel_read() cannot read them:
 * read and write them as user space does, through a buffer in a user
 * mapping that KUnit attaches to the test thread.
 */
#define DBG_MAX		(64 * 1024)

struct dbg_io {
	struct kunit *test;
	char __user *ubuf;
};

static char *read_file(struct dbg_io *io, const char *path, size_t *lenp)
{
	struct file *f;
	loff_t pos = 0;
	ssize_t n, len = 0;
	char *buf;

	f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return NULL;
	buf = kunit_kzalloc(io->test, DBG_MAX + 1, GFP_KERNEL);
	if (buf) {
		while (len < DBG_MAX &&
		       (n = f->f_op->read(f, io->ubuf, DBG_MAX - len, &pos)) > 0) {
			if (copy_from_user(buf + len, io->ubuf, n))
				break;
			len += n;
		}
		buf[len] = 0;
	}
	filp_close(f, NULL);
	*lenp = len;
	return buf;
}

static void destroy_action(void *vm)
{
	vmem_destroy(vm);
}

/* Find the line naming @name (as a whole word) in @buf; NULL if none. */
static const char *find_line(const char *buf, const char *name)
{
	size_t nl = strlen(name);
	const char *s = buf;

	while ((s = strstr(s, name))) {
		if (s > buf && s[-1] == ' ' && (s[nl] == ' ' || s[nl] == '\n')) {
			while (s > buf && s[-1] != '\n')
				s--;
			return s;
		}
		s += nl;
	}
	return NULL;
}

/* Column of @name in its line of @buf. */
static int name_column(const char *buf, const char *name)
{
	const char *line = find_line(buf, name);

	return line ? (int)(strstr(line, name) - line) : -1;
}

struct seg_walk {
	char *buf;
	size_t len, max;
};

static void seg_walk_fn(void *arg, vmem_addr_t start, vmem_size_t size)
{
	struct seg_walk *w = arg;

	w->len += scnprintf(w->buf + w->len, w->max - w->len, "%#lx %#zx\n",
			    (unsigned long)start, (size_t)size);
}

static void vmem_test_debugfs(struct kunit *test)
{
	vmem_t *top, *child, *dup;
	vmem_addr_t p, q;
	struct seg_walk w;
	unsigned long v1, v2, v3;
	size_t len;
	char *buf, path[128], expect[128];
	const char *line;
	struct dbg_io io = { .test = test };
	struct file *f;
	loff_t pos = 0;
	int ncols;

	io.ubuf = (char __user *)kunit_vm_mmap(test, NULL, 0, DBG_MAX,
					       PROT_READ | PROT_WRITE,
					       MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (!io.ubuf)
		kunit_skip(test, "no user mapping for the test thread");
	buf = read_file(&io, "/sys/kernel/debug/kprim/vmem/arenas", &len);
	if (!buf)
		kunit_skip(test, "debugfs not mounted at /sys/kernel/debug");

	top = vmem_create("t-dbg-top", 0x100000, 0x10000, 0x1000, NULL, NULL,
			  NULL, 0, VM_SLEEP, IPL_NONE);
	child = vmem_create("t-dbg-child", 0, 0, 0x10, vmem_alloc, vmem_free,
			    top, 0, VM_SLEEP, IPL_NONE);
	dup = vmem_create("t-dbg-top", 0x200000, 0x1000, 0x10, NULL, NULL, NULL,
			  0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(test, top);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, destroy_action, top), 0);
	KUNIT_ASSERT_NOT_NULL(test, child);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, destroy_action, child), 0);
	KUNIT_ASSERT_NOT_NULL(test, dup);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, destroy_action, dup), 0);
	KUNIT_ASSERT_EQ(test, vmem_alloc(child, 0x230, VM_SLEEP, &p), 0);
	KUNIT_ASSERT_EQ(test, vmem_alloc(child, 0x10, VM_SLEEP, &q), 0);
	vmem_free(child, q, 0x10);

	/* arenas: the child is indented under its source, numbers match. */
	buf = read_file(&io, "/sys/kernel/debug/kprim/vmem/arenas", &len);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "NAME"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "SUCCEED"));
	line = find_line(buf, "t-dbg-child");
	KUNIT_ASSERT_NOT_NULL(test, line);
	KUNIT_EXPECT_EQ(test, name_column(buf, "t-dbg-child"),
			name_column(buf, "t-dbg-top") + 2);
	ncols = sscanf(strstr(line, "t-dbg-child") + strlen("t-dbg-child"),
		       "%lu %lu %lu", &v1, &v2, &v3);
	KUNIT_EXPECT_EQ(test, ncols, 3);
	KUNIT_EXPECT_EQ(test, v1, vmem_size(child, VMEM_ALLOC));
	KUNIT_EXPECT_EQ(test, v2, vmem_size(child, VMEM_ALLOC | VMEM_FREE));
	KUNIT_EXPECT_EQ(test, v3, child->vm_nalloc);

	/* segments: the same segments vmem_walk() reports. */
	w.max = 4096;
	w.len = 0;
	w.buf = kunit_kzalloc(test, w.max, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w.buf);
	vmem_walk(child, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, seg_walk_fn, &w);
	buf = read_file(&io, "/sys/kernel/debug/kprim/vmem/t-dbg-child/segments",
			&len);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	{
		char *s = buf, *eol, *wl = w.buf;
		unsigned long start, end, size;
		char type[16];
		int nseg = 0;

		s = strchr(s, '\n') + 1;	/* header */
		while ((eol = strchr(s, '\n'))) {
			*eol = 0;
			ncols = sscanf(s, "%lx %lx %lx %15s", &start, &end,
				       &size, type);
			KUNIT_ASSERT_EQ(test, ncols, 4);
			KUNIT_EXPECT_EQ(test, end, start + size - 1);
			snprintf(expect, sizeof(expect), "%#lx %#lx\n", start, size);
			KUNIT_EXPECT_EQ(test, strncmp(wl, expect, strlen(expect)), 0);
			wl = strchr(wl, '\n') + 1;
			if (!strcmp(type, "busy"))
				KUNIT_EXPECT_EQ(test, start, p);
			s = eol + 1;
			nseg++;
		}
		KUNIT_EXPECT_GE(test, nseg, 2);	/* span + busy segment */
		KUNIT_EXPECT_EQ(test, *wl, 0);
	}

	/* stats. */
	buf = read_file(&io, "/sys/kernel/debug/kprim/vmem/t-dbg-child/stats", &len);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	line = strstr(buf, "\nbusy_tags ");
	KUNIT_ASSERT_NOT_NULL(test, line);
	ncols = sscanf(line, "\nbusy_tags %lu", &v1);
	KUNIT_ASSERT_EQ(test, ncols, 1);
	KUNIT_EXPECT_EQ(test, v1, 1);
	line = strstr(buf, "\nimport ");
	KUNIT_ASSERT_NOT_NULL(test, line);
	ncols = sscanf(line, "\nimport %lu", &v1);
	KUNIT_ASSERT_EQ(test, ncols, 1);
	KUNIT_EXPECT_EQ(test, v1, child->vm_nimport);
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "hash_size "));
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "order "));

	/* Same name: a second, distinct directory. */
	snprintf(path, sizeof(path), "/sys/kernel/debug/kprim/vmem/t-dbg-top.%lu/segments",
		 dup->vm_id);
	buf = read_file(&io, path, &len);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "0x200000"));
	buf = read_file(&io, "/sys/kernel/debug/kprim/vmem/t-dbg-top/segments", &len);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "0x100000"));

	/* whatis: write an address, read back the arena and segment. */
	f = filp_open("/sys/kernel/debug/kprim/vmem/whatis", O_RDWR, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	len = snprintf(path, sizeof(path), "%#lx\n", (unsigned long)p + 0x20);
	KUNIT_ASSERT_EQ(test, copy_to_user(io.ubuf, path, len), 0);
	KUNIT_EXPECT_EQ(test, f->f_op->write(f, io.ubuf, len, &pos), (ssize_t)len);
	pos = 0;
	buf = kunit_kzalloc(test, 1024, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	ncols = f->f_op->read(f, io.ubuf, 1023, &pos);
	KUNIT_EXPECT_GT(test, ncols, 0);
	if (ncols > 0)
		KUNIT_EXPECT_EQ(test, copy_from_user(buf, io.ubuf, ncols), 0);
	filp_close(f, NULL);
	snprintf(expect, sizeof(expect), "arena t-dbg-child segment %#lx %#lx",
		 (unsigned long)p, (unsigned long)p + 0x22f);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(buf, expect), "whatis said: %s", buf);
	/* The parent also holds it, as a busy segment of the imported span. */
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "arena t-dbg-top segment"));

	vmem_free(child, p, 0x230);
	kunit_release_action(test, destroy_action, dup);
	kunit_release_action(test, destroy_action, child);
	kunit_release_action(test, destroy_action, top);
	/* Directories are gone with their arenas. */
	buf = read_file(&io, "/sys/kernel/debug/kprim/vmem/t-dbg-child/segments",
			&len);
	KUNIT_EXPECT_NULL(test, buf);
}

static struct kunit_case vmem_cases[] = {
	KUNIT_CASE(vmem_test_basic),
	KUNIT_CASE(vmem_test_seed_preamble),
	KUNIT_CASE(vmem_test_addr_max),
	KUNIT_CASE(vmem_test_fit_oracle),
	KUNIT_CASE(vmem_test_strategies),
	KUNIT_CASE(vmem_test_xalloc_addr),
	KUNIT_CASE(vmem_test_walk_contains),
	KUNIT_CASE(vmem_test_source_chain),
	KUNIT_CASE(vmem_test_source_release),
	KUNIT_CASE(vmem_test_constrained_import_unused),
	KUNIT_CASE(vmem_test_import_fn),
	KUNIT_CASE(vmem_test_init_storage),
	KUNIT_CASE(vmem_test_sleep_wakeup),
	KUNIT_CASE(vmem_test_qcache),
	KUNIT_CASE(vmem_test_qcache_mag_links),
	KUNIT_CASE(vmem_test_qcache_cpu_dead),
	KUNIT_CASE_SLOW(vmem_test_depot_trim),
	KUNIT_CASE_SLOW(vmem_test_hash_resize),
	KUNIT_CASE_SLOW(vmem_test_instantfit_flat),
	KUNIT_CASE_SLOW(vmem_test_stress_random),
	KUNIT_CASE_SLOW(vmem_test_concurrent_qcache),
	KUNIT_CASE(vmem_test_hardirq),
	KUNIT_CASE(vmem_test_softirq),
	KUNIT_CASE(vmem_test_bad_free_warns),
	KUNIT_CASE(vmem_test_bad_args_warns),
	KUNIT_CASE(vmem_test_destroy_busy_warns),
	KUNIT_CASE(vmem_test_bad_import_warns),
	KUNIT_CASE(vmem_test_bad_context_warns),
	KUNIT_CASE(vmem_test_irq_sleep_warns),
	KUNIT_CASE(vmem_test_irq_query_warns),
	KUNIT_CASE(vmem_test_debugfs),
	{}
};

static struct kunit_suite vmem_suite = {
	.name = "kprim_vmem",
	.test_cases = vmem_cases,
};

kunit_test_suite(vmem_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim vmem");
KPRIM_MODULE_IMPORT_NS();
