// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim psref (module/psref.c).
 *
 * Every API function from every context a class's IPL allows (process
 * context with preemption or migration disabled, softirq via a timer, hard
 * IRQ via irq_work), drain ordering against a holder sleeping on another
 * CPU, a use-after-free torture (RCU lookups + psref_acquire on all CPUs
 * against a writer that unlinks, drains, destroys and frees), and one
 * "_warns" case per misuse check, asserting on the misuse counter and on
 * the structure staying usable.
 *
 * Every test destroys its class at the end: psref_class_destroy() refuses
 * (with a warning, which fails the run outside "_warns" cases) if a test
 * leaked a target or ended with a reference held.
 */

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <kprim/psref.h>

/* Create a class for one test; psref_test_class_done() destroys it. */
static struct psref_class *psref_test_class(struct kunit *test, int ipl)
{
	struct psref_class *class;
	char name[24];

	/* Distinct names: each class gets /sys/kernel/debug/kprim/psref/<name>. */
	snprintf(name, sizeof(name), "kunit-ipl%d", ipl);
	class = psref_class_create(name, ipl);
	KUNIT_ASSERT_NOT_NULL(test, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 0UL);
	return class;
}

/* The test saw exactly @misuse reports; then the class must go cleanly. */
static void psref_test_class_done(struct kunit *test, struct psref_class *class,
				  unsigned long misuse)
{
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), misuse);
	psref_class_destroy(class);
}

static const int psref_test_ipls[] = {
	IPL_NONE, IPL_SOFTCLOCK, IPL_SOFTNET, IPL_VM, IPL_HIGH,
};

static void psref_test_ipl_desc(const int *ipl, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "ipl %d", *ipl);
}

KUNIT_ARRAY_PARAM(psref_ipl, psref_test_ipls, psref_test_ipl_desc);

/* Acquire, held, release from process context, preemption disabled. */
static void psref_acquire_release_preempt(struct kunit *test)
{
	const int ipl = *(const int *)test->param_value;
	struct psref_class *class = psref_test_class(test, ipl);
	struct psref_target a, b;
	struct psref pa, pb;
	int ret;

	psref_target_init(&a, class);
	psref_target_init(&b, class);

	preempt_disable();
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	ret = psref_acquire(&pa, &a, class);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	KUNIT_EXPECT_FALSE(test, psref_held(&b, class));
	ret = psref_acquire(&pb, &b, class);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_TRUE(test, psref_held(&b, class));
	/* Release in acquire order: the list is not a stack. */
	psref_release(&pa, &a, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	KUNIT_EXPECT_TRUE(test, psref_held(&b, class));
	psref_release(&pb, &b, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&b, class));
	preempt_enable();

	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_target_drain(&b, class);
	psref_target_destroy(&b, class);
	psref_test_class_done(test, class, 0);
}

static DEFINE_MUTEX(psref_test_mutex);

/* Under migrate_disable() a holder may sleep and keep its reference. */
static void psref_acquire_release_migrate(struct kunit *test)
{
	const int ipl = *(const int *)test->param_value;
	struct psref_class *class = psref_test_class(test, ipl);
	struct psref_target a;
	struct psref pa;

	psref_target_init(&a, class);
	migrate_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&pa, &a, class), 0);
	mutex_lock(&psref_test_mutex);
	usleep_range(5000, 6000);
	mutex_unlock(&psref_test_mutex);
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	psref_release(&pa, &a, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	migrate_enable();

	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 0);
}

/* Results of a psref round trip run in another context. */
struct psref_ctx_run {
	struct psref_class *class;
	struct psref_target *target;
	struct psref_target *draining;	/* optional: must give -ENOENT */
	struct timer_list timer;
	struct irq_work work;
	struct completion done;
	bool in_softirq, in_hardirq;
	int ret, ret_draining;
	bool held_before, held_during, held_after;
};

static void psref_ctx_roundtrip(struct psref_ctx_run *r)
{
	struct psref p, q;

	r->in_softirq = in_serving_softirq();
	r->in_hardirq = in_hardirq();
	r->held_before = psref_held(r->target, r->class);
	r->ret = psref_acquire(&p, r->target, r->class);
	r->held_during = psref_held(r->target, r->class);
	if (r->draining) {
		r->ret_draining = psref_acquire(&q, r->draining, r->class);
		if (!r->ret_draining)
			psref_release(&q, r->draining, r->class);
	}
	if (!r->ret)
		psref_release(&p, r->target, r->class);
	r->held_after = psref_held(r->target, r->class);
}

static void psref_ctx_timer_fn(struct timer_list *t)
{
	struct psref_ctx_run *r = from_timer(r, t, timer);

	psref_ctx_roundtrip(r);
	complete(&r->done);
}

static void psref_ctx_irq_work_fn(struct irq_work *w)
{
	struct psref_ctx_run *r = container_of(w, struct psref_ctx_run, work);

	psref_ctx_roundtrip(r);
	complete(&r->done);
}

static void psref_ctx_run_timer(struct kunit *test, struct psref_ctx_run *r)
{
	init_completion(&r->done);
	timer_setup(&r->timer, psref_ctx_timer_fn, 0);
	mod_timer(&r->timer, jiffies + 1);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&r->done, 10 * HZ), 0UL);
	timer_delete_sync(&r->timer);
	KUNIT_EXPECT_TRUE(test, r->in_softirq);
}

static void psref_ctx_run_irq_work(struct kunit *test, struct psref_ctx_run *r)
{
	init_completion(&r->done);
	init_irq_work(&r->work, psref_ctx_irq_work_fn);
	KUNIT_ASSERT_TRUE(test, irq_work_queue(&r->work));
	irq_work_sync(&r->work);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&r->done, 10 * HZ), 0UL);
	if (!r->in_hardirq)
		kunit_skip(test, "irq_work did not run in hard-IRQ context");
}

/*
 * Soft and hard classes from a timer (softirq); an already-drained target
 * of the class is refused there too.
 */
static void psref_softirq(struct kunit *test)
{
	const int ipl = *(const int *)test->param_value;
	struct psref_class *class;
	struct psref_target a, gone;
	struct psref_ctx_run *r;

	if (ipl == IPL_NONE)
		kunit_skip(test, "IPL_NONE classes are process-context only");
	class = psref_test_class(test, ipl);
	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	psref_target_init(&a, class);
	psref_target_init(&gone, class);
	psref_target_drain(&gone, class);
	r->class = class;
	r->target = &a;
	r->draining = &gone;

	psref_ctx_run_timer(test, r);
	KUNIT_EXPECT_FALSE(test, r->held_before);
	KUNIT_EXPECT_EQ(test, r->ret, 0);
	KUNIT_EXPECT_TRUE(test, r->held_during);
	KUNIT_EXPECT_EQ(test, r->ret_draining, -ENOENT);
	KUNIT_EXPECT_FALSE(test, r->held_after);

	psref_target_destroy(&gone, class);
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 0);
}

/* IPL_VM and above from hard-IRQ context (irq_work). */
static void psref_hardirq(struct kunit *test)
{
	const int ipl = *(const int *)test->param_value;
	struct psref_class *class;
	struct psref_target a, gone;
	struct psref_ctx_run *r;

	if (!kprim_ipl_is_hard(ipl))
		kunit_skip(test, "only IPL_VM and above may be used from hard IRQs");
	class = psref_test_class(test, ipl);
	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	psref_target_init(&a, class);
	psref_target_init(&gone, class);
	psref_target_drain(&gone, class);
	r->class = class;
	r->target = &a;
	r->draining = &gone;

	psref_ctx_run_irq_work(test, r);
	KUNIT_EXPECT_FALSE(test, r->held_before);
	KUNIT_EXPECT_EQ(test, r->ret, 0);
	KUNIT_EXPECT_TRUE(test, r->held_during);
	KUNIT_EXPECT_EQ(test, r->ret_draining, -ENOENT);
	KUNIT_EXPECT_FALSE(test, r->held_after);

	psref_target_destroy(&gone, class);
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 0);
}

/* psref_copy(): two references, released independently. */
static void psref_copy_release_both(struct kunit *test)
{
	const int ipl = *(const int *)test->param_value;
	struct psref_class *class = psref_test_class(test, ipl);
	struct psref_target a;
	struct psref p1, p2;

	psref_target_init(&a, class);
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p1, &a, class), 0);
	psref_copy(&p2, &p1, class);
	psref_release(&p1, &a, class);
	/* The copy alone still holds the target. */
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	psref_release(&p2, &a, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	preempt_enable();

	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 0);
}

/* Drain of an unreferenced target; acquire is refused afterwards. */
static void psref_drain_unheld(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a;
	struct psref p;
	int ret;

	psref_target_init(&a, class);
	psref_target_drain(&a, class);
	preempt_disable();
	ret = psref_acquire(&p, &a, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	preempt_enable();
	KUNIT_EXPECT_EQ(test, ret, -ENOENT);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 0);
}

/* A holder on another CPU, bound with migrate_disable(), sleeping. */
struct psref_holder {
	struct psref_class *class;
	struct psref_target *target;
	struct completion acquired;
	struct completion may_release;
	atomic_t released;
	u64 release_ns;
	int ret;
	bool copy_held;		/* the copy made while draining was held */
};

static int psref_holder_fn(void *arg)
{
	struct psref_holder *h = arg;
	struct psref p, q;

	migrate_disable();
	h->ret = psref_acquire(&p, h->target, h->class);
	complete(&h->acquired);
	if (!h->ret) {
		msleep(200);
		wait_for_completion(&h->may_release);
		/*
		 * The target is draining by now: a copy still works, and the
		 * drain must wait for the copy too.
		 */
		psref_copy(&q, &p, h->class);
		psref_release(&p, h->target, h->class);
		h->copy_held = psref_held(h->target, h->class);
		msleep(50);
		h->release_ns = ktime_get_ns();
		atomic_set(&h->released, 1);
		psref_release(&q, h->target, h->class);
	}
	migrate_enable();
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

struct psref_drainer {
	struct psref_class *class;
	struct psref_target *target;
	struct completion done;
	u64 done_ns;
};

static int psref_drainer_fn(void *arg)
{
	struct psref_drainer *d = arg;

	psref_target_drain(d->target, d->class);
	d->done_ns = ktime_get_ns();
	complete(&d->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static int psref_test_other_cpu(void)
{
	int cpu, self = raw_smp_processor_id();

	for_each_online_cpu(cpu)
		if (cpu != self)
			return cpu;
	return -1;
}

static struct task_struct *psref_test_kthread(struct kunit *test,
					      int (*fn)(void *), void *arg,
					      int cpu)
{
	struct task_struct *t;

	t = kthread_create(fn, arg, "psref_test/%d", cpu);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	get_task_struct(t);
	if (cpu >= 0)
		kthread_bind(t, cpu);
	wake_up_process(t);
	return t;
}

static void psref_test_kthread_stop(struct task_struct *t)
{
	kthread_stop(t);
	put_task_struct(t);
}

/*
 * Start a drain of a new target of @class that cannot finish: a kthread
 * on another CPU holds a reference until h->may_release is completed, a
 * second kthread drains.  Returns once new references are refused, i.e.
 * the drain has begun.  Skips the test without a second online CPU.
 */
struct psref_blocked_drain {
	struct psref_target a;
	struct psref_holder *h;
	struct psref_drainer *d;
	struct task_struct *ht, *dt;
};

static void psref_test_blocked_drain(struct kunit *test,
				     struct psref_class *class,
				     struct psref_blocked_drain *b)
{
	unsigned long deadline;
	struct psref p;
	int cpu, ret = 0;

	cpu = psref_test_other_cpu();
	if (cpu < 0) {
		psref_test_class_done(test, class, 0);
		kunit_skip(test, "needs a second online CPU");
	}
	b->h = kunit_kzalloc(test, sizeof(*b->h), GFP_KERNEL);
	b->d = kunit_kzalloc(test, sizeof(*b->d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b->h);
	KUNIT_ASSERT_NOT_NULL(test, b->d);
	psref_target_init(&b->a, class);
	b->h->class = class;
	b->h->target = &b->a;
	b->d->class = class;
	b->d->target = &b->a;
	init_completion(&b->h->acquired);
	init_completion(&b->h->may_release);
	init_completion(&b->d->done);

	b->ht = psref_test_kthread(test, psref_holder_fn, b->h, cpu);
	wait_for_completion(&b->h->acquired);
	KUNIT_EXPECT_EQ(test, b->h->ret, 0);

	b->dt = psref_test_kthread(test, psref_drainer_fn, b->d, -1);
	/* New references are refused once the drain has begun. */
	deadline = jiffies + 10 * HZ;
	while (time_before(jiffies, deadline)) {
		migrate_disable();
		ret = psref_acquire(&p, &b->a, class);
		if (!ret)
			psref_release(&p, &b->a, class);
		migrate_enable();
		if (ret)
			break;
		usleep_range(1000, 2000);
	}
	KUNIT_EXPECT_EQ(test, ret, -ENOENT);
}

/*
 * The drain does not return while another CPU holds the target, refuses new
 * references from the moment it starts, and returns promptly (woken, not
 * by its one-second fallback) once the holder releases.
 */
static void psref_drain_waits_for_holder(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_blocked_drain b;
	bool drain_done_early;

	psref_test_blocked_drain(test, class, &b);
	/* The holder has slept 200 ms and waits for us: the drain waits too. */
	msleep(300);
	drain_done_early = completion_done(&b.d->done);
	KUNIT_EXPECT_FALSE(test, drain_done_early);
	KUNIT_EXPECT_EQ(test, atomic_read(&b.h->released), 0);

	complete(&b.h->may_release);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&b.d->done, 30 * HZ), 0UL);
	KUNIT_EXPECT_EQ(test, atomic_read(&b.h->released), 1);
	KUNIT_EXPECT_TRUE(test, b.h->copy_held);
	/* Not before the copy (the last reference) was released. */
	KUNIT_EXPECT_GE(test, b.d->done_ns, b.h->release_ns);
	/* Woken by the release, well before the 1 s fallback timeout. */
	KUNIT_EXPECT_LT(test, b.d->done_ns - b.h->release_ns, 500 * NSEC_PER_MSEC);

	psref_test_kthread_stop(b.ht);
	psref_test_kthread_stop(b.dt);
	psref_target_destroy(&b.a, class);
	psref_test_class_done(test, class, 0);
}

/*
 * A release preempted just after it unlinked its entry, while another CPU
 * finishes the drain, destroys the target and the class: the release must
 * not touch the class after the point where a drain can miss its entry
 * (KASAN reports the use-after-free otherwise).
 */
struct psref_late_release {
	struct psref_class *class;
	struct psref_target *target;
	struct task_struct *blocker;
	struct completion acquired;
	struct completion go;
	struct completion released;
	atomic_t class_gone;
	atomic_t blocking;
	int ret;
};

/* SCHED_FIFO on the holder's CPU: keeps the preempted holder off it. */
static int psref_late_blocker_fn(void *arg)
{
	struct psref_late_release *l = arg;
	unsigned long deadline = jiffies + 2 * HZ;

	atomic_set(&l->blocking, 1);
	while (!atomic_read(&l->class_gone) && time_before(jiffies, deadline))
		cpu_relax();
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static int psref_late_holder_fn(void *arg)
{
	struct psref_late_release *l = arg;
	struct psref p;

	migrate_disable();
	l->ret = psref_acquire(&p, l->target, l->class);
	complete(&l->acquired);
	if (!l->ret) {
		wait_for_completion(&l->go);
		/*
		 * Wake the blocker with IRQs off: it cannot preempt us yet, so
		 * it does at the release's own preempt_enable(), right after
		 * the unlink.
		 */
		local_irq_disable();
		wake_up_process(l->blocker);
		local_irq_enable();
		psref_release(&p, l->target, l->class);
	}
	migrate_enable();
	complete(&l->released);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static void psref_release_vs_class_destroy(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_late_release *l;
	struct psref_drainer *d;
	struct task_struct *ht, *dt;
	struct psref_target a, b;
	unsigned long deadline;
	struct psref p;
	int cpu, self, ret = 0;

	/* Stay off the holder's CPU, where the blocker spins. */
	migrate_disable();
	self = smp_processor_id();
	cpu = psref_test_other_cpu();
	if (cpu < 0) {
		migrate_enable();
		psref_test_class_done(test, class, 0);
		kunit_skip(test, "needs a second online CPU");
	}
	l = kunit_kzalloc(test, sizeof(*l), GFP_KERNEL);
	d = kunit_kzalloc(test, sizeof(*d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, l);
	KUNIT_ASSERT_NOT_NULL(test, d);
	psref_target_init(&a, class);
	psref_target_init(&b, class);
	l->class = class;
	l->target = &a;
	d->class = class;
	d->target = &a;
	init_completion(&l->acquired);
	init_completion(&l->go);
	init_completion(&l->released);
	init_completion(&d->done);

	l->blocker = kthread_create(psref_late_blocker_fn, l, "psref_blk/%d", cpu);
	KUNIT_ASSERT_FALSE(test, IS_ERR(l->blocker));
	get_task_struct(l->blocker);
	kthread_bind(l->blocker, cpu);
	sched_set_fifo(l->blocker);

	ht = psref_test_kthread(test, psref_late_holder_fn, l, cpu);
	wait_for_completion(&l->acquired);
	KUNIT_EXPECT_EQ(test, l->ret, 0);
	dt = psref_test_kthread(test, psref_drainer_fn, d, self);
	deadline = jiffies + 10 * HZ;
	while (time_before(jiffies, deadline)) {
		ret = psref_acquire(&p, &a, class);
		if (!ret)
			psref_release(&p, &a, class);
		else
			break;
		usleep_range(1000, 2000);
	}
	KUNIT_EXPECT_EQ(test, ret, -ENOENT);

	/* The holder releases and is preempted by the blocker. */
	complete(&l->go);
	deadline = jiffies + 10 * HZ;
	while (!atomic_read(&l->blocking) && time_before(jiffies, deadline))
		usleep_range(100, 200);
	KUNIT_EXPECT_EQ(test, atomic_read(&l->blocking), 1);
	/* Any release in the class wakes the drainer: it sees no holder. */
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &b, class), 0);
	psref_release(&p, &b, class);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&d->done, 30 * HZ), 0UL);
	psref_target_destroy(&a, class);
	psref_target_drain(&b, class);
	psref_target_destroy(&b, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 0UL);
	psref_class_destroy(class);
	/* Now let the holder finish its psref_release(). */
	atomic_set(&l->class_gone, 1);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&l->released, 30 * HZ), 0UL);
	migrate_enable();
	psref_test_kthread_stop(ht);
	psref_test_kthread_stop(dt);
	psref_test_kthread_stop(l->blocker);
}

/* Read a whole (small) file into a NUL-terminated kunit buffer. */
static char *psref_test_read_file(struct kunit *test, const char *path)
{
	const size_t size = 4096;
	struct file *f;
	loff_t pos = 0;
	ssize_t n;
	char *buf;

	buf = kunit_kzalloc(test, size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	f = filp_open(path, O_RDONLY, 0);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(f), "cannot open %s", path);
	n = kernel_read(f, buf, size - 1, &pos);
	filp_close(f, NULL);
	KUNIT_ASSERT_GT(test, n, 0L);
	buf[n] = '\0';
	return buf;
}

static int psref_test_write_file(const char *path, const char *val)
{
	struct file *f;
	loff_t pos = 0;
	ssize_t n;

	f = filp_open(path, O_WRONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_write(f, val, strlen(val), &pos);
	filp_close(f, NULL);
	return n < 0 ? n : 0;
}

/* Sum of the "cpuN held M" lines of a class's debugfs file. */
static unsigned long psref_test_held_sum(const char *view)
{
	unsigned long sum = 0, held;
	const char *p = view;
	int cpu;

	while ((p = strstr(p, "cpu"))) {
		if (sscanf(p, "cpu%d held %lu", &cpu, &held) == 2)
			sum += held;
		p += 3;
	}
	return sum;
}

#define PSREF_TEST_VIEW		"/sys/kernel/debug/kprim/psref/kunit-ipl0"
#define PSREF_TEST_WARN_MS	"/sys/module/kprim/parameters/psref_drain_warn_ms"

/*
 * debugfs shows live targets, references held per CPU and the drain in
 * progress, then the drain count.  The drain runs long enough (with the
 * report threshold lowered to 50 ms) to print the slow-drain report, whose
 * IPI-side lines name the holder.
 */
static void psref_debugfs_view(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_holder *h;
	struct psref_drainer *d;
	struct task_struct *ht, *dt;
	struct psref_target a;
	unsigned long deadline;
	bool seen_draining = false;
	char *view;
	int err;

	h = kunit_kzalloc(test, sizeof(*h), GFP_KERNEL);
	d = kunit_kzalloc(test, sizeof(*d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, h);
	KUNIT_ASSERT_NOT_NULL(test, d);
	psref_target_init(&a, class);
	h->class = class;
	h->target = &a;
	d->class = class;
	d->target = &a;
	init_completion(&h->acquired);
	init_completion(&h->may_release);
	init_completion(&d->done);

	view = psref_test_read_file(test, PSREF_TEST_VIEW);
	KUNIT_EXPECT_NOT_NULL(test, strstr(view, "class kunit-ipl0 ipl 0\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(view, "targets 1\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(view, "drains 0\n"));
	KUNIT_EXPECT_EQ(test, psref_test_held_sum(view), 0UL);

	ht = psref_test_kthread(test, psref_holder_fn, h, -1);
	wait_for_completion(&h->acquired);
	KUNIT_EXPECT_EQ(test, h->ret, 0);
	view = psref_test_read_file(test, PSREF_TEST_VIEW);
	KUNIT_EXPECT_EQ(test, psref_test_held_sum(view), 1UL);

	err = psref_test_write_file(PSREF_TEST_WARN_MS, "50");
	KUNIT_EXPECT_EQ(test, err, 0);
	dt = psref_test_kthread(test, psref_drainer_fn, d, -1);
	deadline = jiffies + 10 * HZ;
	while (!seen_draining && time_before(jiffies, deadline)) {
		view = psref_test_read_file(test, PSREF_TEST_VIEW);
		seen_draining = strstr(view, "\ndraining ");
		msleep(20);
	}
	KUNIT_EXPECT_TRUE(test, seen_draining);
	/* Past the lowered threshold and the 1 s fallback: reported, re-polled. */
	msleep(1200);
	KUNIT_EXPECT_FALSE(test, completion_done(&d->done));
	complete(&h->may_release);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&d->done, 30 * HZ), 0UL);
	if (!err)
		KUNIT_EXPECT_EQ(test, psref_test_write_file(PSREF_TEST_WARN_MS, "5000"), 0);

	view = psref_test_read_file(test, PSREF_TEST_VIEW);
	KUNIT_EXPECT_NOT_NULL(test, strstr(view, "drains 1\n"));
	KUNIT_EXPECT_NULL(test, strstr(view, "\ndraining "));
	KUNIT_EXPECT_EQ(test, psref_test_held_sum(view), 0UL);

	psref_test_kthread_stop(ht);
	psref_test_kthread_stop(dt);
	psref_target_destroy(&a, class);
	view = psref_test_read_file(test, PSREF_TEST_VIEW);
	KUNIT_EXPECT_NOT_NULL(test, strstr(view, "targets 0\n"));
	psref_test_class_done(test, class, 0);
}

/*
 * Use-after-free torture after the seed's frotz example: readers on every
 * CPU look objects up under RCU and take a passive reference; a writer
 * unlinks, drains, waits for lookups, destroys and frees.  KASAN watches
 * the memory; the readers check each object's magic while holding it.
 */
#define FROTZ_MAGIC	0xf407a11eUL
#define FROTZ_KEYS	16

struct frotz {
	struct list_head link;
	struct psref_target target;
	unsigned long key;
	unsigned long magic;
};

struct frotz_world {
	struct psref_class *class;
	struct mutex lock;		/* writers of @head */
	struct list_head head;
	atomic_long_t hits, soft_hits, hard_hits, bad;
};

/*
 * One lookup: find an object with a random key under RCU, pin it with a
 * passive reference, leave the RCU section, check the object is intact
 * (optionally after a short sleep), release.  The caller is bound.
 */
static void frotz_lookup_once(struct frotz_world *w, bool may_sleep,
			      atomic_long_t *hits)
{
	unsigned long key = get_random_u32_below(FROTZ_KEYS);
	struct frotz *f, *found = NULL;
	struct psref p;

	rcu_read_lock();
	list_for_each_entry_rcu(f, &w->head, link) {
		if (f->key != key)
			continue;
		if (psref_acquire(&p, &f->target, w->class) == 0) {
			found = f;
			break;
		}
	}
	rcu_read_unlock();
	if (!found)
		return;
	if (READ_ONCE(found->magic) != FROTZ_MAGIC ||
	    !psref_held(&found->target, w->class))
		atomic_long_inc(&w->bad);
	/* Out of the RCU section: only the psref pins it. */
	if (may_sleep && get_random_u32_below(8) == 0)
		usleep_range(20, 100);
	if (READ_ONCE(found->magic) != FROTZ_MAGIC)
		atomic_long_inc(&w->bad);
	psref_release(&p, &found->target, w->class);
	atomic_long_inc(hits);
}

static int frotz_reader(void *arg)
{
	struct frotz_world *w = arg;

	while (!kthread_should_stop()) {
		migrate_disable();
		frotz_lookup_once(w, true, &w->hits);
		migrate_enable();
		cond_resched();
	}
	return 0;
}

/*
 * Softirq readers for classes whose IPL allows them, and for IPL_VM
 * classes hard-IRQ readers too (an irq_work raised by the timer).
 */
struct frotz_timer {
	struct timer_list timer;
	struct irq_work work;
	struct frotz_world *w;
	bool hard;
};

static void frotz_irq_work_fn(struct irq_work *work)
{
	struct frotz_timer *ft = container_of(work, struct frotz_timer, work);

	if (in_hardirq())
		frotz_lookup_once(ft->w, false, &ft->w->hard_hits);
}

static void frotz_timer_fn(struct timer_list *t)
{
	struct frotz_timer *ft = from_timer(ft, t, timer);

	frotz_lookup_once(ft->w, false, &ft->w->soft_hits);
	if (ft->hard)
		irq_work_queue(&ft->work);
	mod_timer(&ft->timer, jiffies + 1);
}

static void frotz_destroy(struct frotz_world *w, struct frotz *f)
{
	mutex_lock(&w->lock);
	list_del_rcu(&f->link);
	mutex_unlock(&w->lock);
	psref_target_drain(&f->target, w->class);
	/* Lookups that still see it get -ENOENT; wait them out. */
	synchronize_rcu();
	psref_target_destroy(&f->target, w->class);
	WRITE_ONCE(f->magic, 0);
	kfree(f);
}

static const int psref_torture_ipls[] = { IPL_NONE, IPL_SOFTNET, IPL_VM };

KUNIT_ARRAY_PARAM(psref_torture, psref_torture_ipls, psref_test_ipl_desc);

/*
 * Parametrised by IPL so the drain IPIs also land in the middle of
 * BH-protected and IRQ-protected list updates.
 */
static void psref_torture_uaf(struct kunit *test)
{
	const int ipl = *(const int *)test->param_value;
	struct task_struct **readers;
	struct frotz_timer *timers;
	struct frotz_world *w;
	unsigned long deadline, created = 0, destroyed = 0;
	struct frotz *f, *tmp;
	int cpu, nr = 0;

	w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	readers = kunit_kcalloc(test, nr_cpu_ids, sizeof(*readers), GFP_KERNEL);
	timers = kunit_kcalloc(test, nr_cpu_ids, sizeof(*timers), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	KUNIT_ASSERT_NOT_NULL(test, readers);
	KUNIT_ASSERT_NOT_NULL(test, timers);
	w->class = psref_test_class(test, ipl);
	mutex_init(&w->lock);
	INIT_LIST_HEAD(&w->head);

	for_each_online_cpu(cpu) {
		readers[nr] = psref_test_kthread(test, frotz_reader, w, cpu);
		if (ipl != IPL_NONE) {
			timers[nr].w = w;
			timers[nr].hard = kprim_ipl_is_hard(ipl);
			init_irq_work(&timers[nr].work, frotz_irq_work_fn);
			timer_setup(&timers[nr].timer, frotz_timer_fn, 0);
			timers[nr].timer.expires = jiffies + 1;
			add_timer_on(&timers[nr].timer, cpu);
		}
		nr++;
	}

	deadline = jiffies + 2 * HZ;
	while (time_before(jiffies, deadline) || created < 2 * FROTZ_KEYS) {
		f = kzalloc(sizeof(*f), GFP_KERNEL);
		KUNIT_EXPECT_NOT_NULL(test, f);
		if (!f)
			break;
		f->key = created++ % FROTZ_KEYS;
		f->magic = FROTZ_MAGIC;
		psref_target_init(&f->target, w->class);
		mutex_lock(&w->lock);
		list_add_tail_rcu(&f->link, &w->head);
		mutex_unlock(&w->lock);
		if (created > FROTZ_KEYS / 2) {
			f = list_first_entry(&w->head, struct frotz, link);
			frotz_destroy(w, f);
			destroyed++;
		}
	}

	while (nr > 0) {
		nr--;
		if (ipl != IPL_NONE) {
			timer_shutdown_sync(&timers[nr].timer);
			irq_work_sync(&timers[nr].work);
		}
		psref_test_kthread_stop(readers[nr]);
	}
	list_for_each_entry_safe(f, tmp, &w->head, link) {
		frotz_destroy(w, f);
		destroyed++;
	}
	kunit_info(test, "%lu objects, references: %ld in kthreads, %ld in softirq, %ld in hard IRQ\n",
		   created, atomic_long_read(&w->hits),
		   atomic_long_read(&w->soft_hits),
		   atomic_long_read(&w->hard_hits));
	KUNIT_EXPECT_EQ(test, destroyed, created);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&w->bad), 0L);
	KUNIT_EXPECT_GT(test, atomic_long_read(&w->hits), 0L);
	if (ipl != IPL_NONE)
		KUNIT_EXPECT_GT(test, atomic_long_read(&w->soft_hits), 0L);
	if (kprim_ipl_is_hard(ipl))
		KUNIT_EXPECT_GT(test, atomic_long_read(&w->hard_hits), 0L);
	KUNIT_EXPECT_GT(test, created, (unsigned long)FROTZ_KEYS);
	psref_test_class_done(test, w->class, 0);
}

/* ---- misuse: each case provokes one kind of report ---- */

/* Acquire without being bound to a CPU is refused. */
static void psref_misuse_unbound_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a;
	struct psref p;

	psref_target_init(&a, class);
	/* A KUnit test runs in an unbound kthread, preemption enabled. */
	KUNIT_ASSERT_TRUE(test, preemptible());
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), -EINVAL);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	migrate_disable();
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	migrate_enable();
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 1);
}

/* The same struct psref acquired twice, then released twice. */
static void psref_misuse_double_acquire_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_SOFTNET);
	struct psref_target a, b;
	struct psref p;

	psref_target_init(&a, class);
	psref_target_init(&b, class);
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &b, class), -EINVAL);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	/* The first reference is intact. */
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	KUNIT_EXPECT_FALSE(test, psref_held(&b, class));
	psref_release(&p, &a, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	/* Released twice: psref_target was cleared, so a target mismatch. */
	psref_release(&p, &a, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 2UL);
	preempt_enable();
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_target_drain(&b, class);
	psref_target_destroy(&b, class);
	psref_test_class_done(test, class, 2);
}

/* Release of a psref that is not on this CPU's list. */
static void psref_misuse_release_unknown_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a;
	struct psref p, forged;

	psref_target_init(&a, class);
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	/* A copy made by assignment is not a reference. */
	forged = p;
	psref_release(&forged, &a, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	psref_release(&p, &a, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	preempt_enable();
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 1);
}

/* Release naming the wrong target, and targets of another class. */
static void psref_misuse_wrong_target_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_class *other = psref_class_create("kunit-other", IPL_NONE);
	struct psref_target a, b, c;
	struct psref p;

	KUNIT_ASSERT_NOT_NULL(test, other);
	psref_target_init(&a, class);
	psref_target_init(&b, class);
	psref_target_init(&c, other);
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	psref_release(&p, &b, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	psref_release(&p, &a, class);
	/* A target of another class. */
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &c, class), -EINVAL);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 2UL);
	KUNIT_EXPECT_FALSE(test, psref_held(&c, other));
	preempt_enable();
	KUNIT_EXPECT_EQ(test, psref_misuse_count(other), 0UL);
	psref_target_drain(&c, other);
	psref_target_destroy(&c, other);
	psref_class_destroy(other);
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_target_drain(&b, class);
	psref_target_destroy(&b, class);
	psref_test_class_done(test, class, 2);
}

/* A NULL target is reported by init as by every other function. */
static void psref_misuse_init_null_target_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);

	psref_target_init(NULL, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	psref_test_class_done(test, class, 1);
}

/* Uninitialised and destroyed targets are refused, not -ENOENT. */
static void psref_misuse_dead_target_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a, never;
	struct psref p;

	memset(&never, 0, sizeof(never));
	never.prt_class = class;
	psref_target_init(&a, class);
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), -EINVAL);
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &never, class), -EINVAL);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	preempt_enable();
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 2UL);
	/* Destroyed twice. */
	psref_target_destroy(&a, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 3UL);
	psref_test_class_done(test, class, 3);
}

/* Drain twice; destroy without drain (reported, drained anyway). */
static void psref_misuse_drain_destroy_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a, b;
	struct psref p;

	psref_target_init(&a, class);
	psref_target_init(&b, class);
	psref_target_drain(&a, class);
	psref_target_drain(&a, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	psref_target_destroy(&a, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);

	psref_target_destroy(&b, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 2UL);
	/* It was drained: acquire is refused as for a destroyed target. */
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &b, class), -EINVAL);
	preempt_enable();
	psref_test_class_done(test, class, 3);
}

/* Draining a target the caller holds would deadlock: refused. */
static void psref_misuse_drain_while_holding_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a;
	struct psref p, q;

	psref_target_init(&a, class);
	migrate_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	psref_target_drain(&a, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	/* The drain was abandoned, but the target stays closed. */
	KUNIT_EXPECT_EQ(test, psref_acquire(&q, &a, class), -ENOENT);
	psref_release(&p, &a, class);
	migrate_enable();
	/* Destroy finishes the abandoned drain without a new report. */
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 1);
}

/*
 * psref_target_destroy() while another task is draining the target: it must
 * not join the drain (both would then finish the target, the drainer
 * writing to it after the destroy returned and the memory may be freed):
 * reported and refused; a destroy after the drain completes is clean.
 */
static void psref_misuse_destroy_while_draining_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_blocked_drain b;

	psref_test_blocked_drain(test, class, &b);

	/* The drain is in progress (the holder waits for may_release). */
	psref_target_destroy(&b.a, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	KUNIT_EXPECT_FALSE(test, completion_done(&b.d->done));

	complete(&b.h->may_release);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&b.d->done, 30 * HZ), 0UL);
	psref_test_kthread_stop(b.ht);
	psref_test_kthread_stop(b.dt);
	psref_target_destroy(&b.a, class);
	psref_test_class_done(test, class, 1);
}

/* Class destroy with a live target and a held reference is refused. */
static void psref_misuse_class_destroy_busy_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a;
	struct psref p;

	psref_target_init(&a, class);
	psref_class_destroy(class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	/* Still usable. */
	migrate_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	psref_class_destroy(class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 2UL);
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	psref_release(&p, &a, class);
	migrate_enable();
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 2);
}

/* NULL class, bad IPL, NULL name: counted globally. */
static void psref_misuse_bad_class_warns(struct kunit *test)
{
	unsigned long before = psref_misuse_count(NULL);
	struct psref_target a;
	struct psref p;

	KUNIT_EXPECT_NULL(test, psref_class_create("kunit-bad", IPL_HIGH + 1));
	KUNIT_EXPECT_NULL(test, psref_class_create("kunit-bad", -1));
	KUNIT_EXPECT_NULL(test, psref_class_create(NULL, IPL_NONE));
	KUNIT_EXPECT_EQ(test, psref_misuse_count(NULL), before + 3);
	psref_target_init(&a, NULL);
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, NULL), -EINVAL);
	preempt_enable();
	psref_class_destroy(NULL);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(NULL), before + 6);
}

/* A class used from a context its IPL does not cover. */
static void psref_misuse_ipl_context_warns(struct kunit *test)
{
	struct psref_class *none = psref_test_class(test, IPL_NONE);
	struct psref_class *soft = psref_test_class(test, IPL_SOFTNET);
	struct psref_target a, b;
	struct psref_ctx_run *r;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	psref_target_init(&a, none);
	psref_target_init(&b, soft);

	/* IPL_NONE from softirq: acquire and three psref_held() refused. */
	r->class = none;
	r->target = &a;
	psref_ctx_run_timer(test, r);
	KUNIT_EXPECT_EQ(test, r->ret, -EINVAL);
	KUNIT_EXPECT_FALSE(test, r->held_during);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(none), 4UL);

	/* IPL_SOFTNET from hard IRQ. */
	memset(r, 0, sizeof(*r));
	r->class = soft;
	r->target = &b;
	psref_ctx_run_irq_work(test, r);
	KUNIT_EXPECT_EQ(test, r->ret, -EINVAL);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(soft), 4UL);

	psref_target_drain(&a, none);
	psref_target_destroy(&a, none);
	psref_target_drain(&b, soft);
	psref_target_destroy(&b, soft);
	psref_test_class_done(test, none, 4);
	psref_test_class_done(test, soft, 4);
}

/* Copy from a psref that is not held. */
static void psref_misuse_copy_unheld_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_target a;
	struct psref p, q;

	psref_target_init(&a, class);
	preempt_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	psref_release(&p, &a, class);
	p.psref_target = &a;	/* stale copy of a released reference */
	psref_copy(&q, &p, class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	preempt_enable();
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 1);
}

/*
 * Release in another task on the same CPU, and on another CPU: both are
 * reported and the reference is still dropped, so the drain completes.
 */
struct psref_foreign {
	struct psref_class *class;
	struct psref_target *target;
	struct psref *psref;
	struct completion done;
};

static int psref_foreign_release_fn(void *arg)
{
	struct psref_foreign *f = arg;

	migrate_disable();
	psref_release(f->psref, f->target, f->class);
	migrate_enable();
	complete(&f->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static void psref_misuse_release_other_task_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_NONE);
	struct psref_foreign *f;
	struct task_struct *t;
	struct psref_target a;
	struct psref p;
	int cpu;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	psref_target_init(&a, class);
	f->class = class;
	f->target = &a;
	f->psref = &p;
	init_completion(&f->done);

	migrate_disable();
	cpu = smp_processor_id();
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	t = psref_test_kthread(test, psref_foreign_release_fn, f, cpu);
	wait_for_completion(&f->done);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	migrate_enable();
	psref_test_kthread_stop(t);
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 1);
}

static void psref_misuse_release_other_cpu_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_SOFTNET);
	struct psref_foreign *f;
	struct task_struct *t;
	struct psref_target a;
	struct psref p;
	int cpu, other = -1;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	psref_target_init(&a, class);
	f->class = class;
	f->target = &a;
	f->psref = &p;
	init_completion(&f->done);

	migrate_disable();
	cpu = smp_processor_id();
	for_each_online_cpu(other)
		if (other != cpu)
			break;
	if (other >= nr_cpu_ids || other == cpu) {
		migrate_enable();
		psref_target_drain(&a, class);
		psref_target_destroy(&a, class);
		psref_class_destroy(class);
		kunit_skip(test, "needs a second online CPU");
	}
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	t = psref_test_kthread(test, psref_foreign_release_fn, f, other);
	wait_for_completion(&f->done);
	/* Wrong CPU: reported once, then unlinked on the holding CPU. */
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 1UL);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	migrate_enable();
	psref_test_kthread_stop(t);
	/* The entry was unlinked on its CPU: the drain does not hang. */
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 1);
}

/* A psref released from a timer (softirq) on another CPU than its own. */
struct psref_softirq_release {
	struct psref_class *class;
	struct psref_target *target;
	struct psref *psref;
	struct timer_list timer;
	struct completion done;
	bool in_softirq;
};

static void psref_softirq_release_fn(struct timer_list *t)
{
	struct psref_softirq_release *r = from_timer(r, t, timer);

	r->in_softirq = in_serving_softirq();
	psref_release(r->psref, r->target, r->class);
	complete(&r->done);
}

/*
 * Wrong CPU, from softirq: the entry cannot be unlinked there (a waiting
 * smp_call_function_single() is not allowed outside task context), so it
 * is reported twice and stays held until released on its own CPU.
 */
static void psref_misuse_release_other_cpu_softirq_warns(struct kunit *test)
{
	struct psref_class *class = psref_test_class(test, IPL_SOFTNET);
	struct psref_softirq_release *r;
	struct psref_target a;
	struct psref p;
	int cpu, other = -1;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	psref_target_init(&a, class);
	r->class = class;
	r->target = &a;
	r->psref = &p;
	init_completion(&r->done);
	timer_setup(&r->timer, psref_softirq_release_fn, 0);

	migrate_disable();
	cpu = smp_processor_id();
	for_each_online_cpu(other)
		if (other != cpu)
			break;
	if (other >= nr_cpu_ids || other == cpu) {
		migrate_enable();
		psref_target_drain(&a, class);
		psref_target_destroy(&a, class);
		psref_class_destroy(class);
		kunit_skip(test, "needs a second online CPU");
	}
	KUNIT_EXPECT_EQ(test, psref_acquire(&p, &a, class), 0);
	r->timer.expires = jiffies + 1;
	add_timer_on(&r->timer, other);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&r->done, 10 * HZ), 0UL);
	timer_delete_sync(&r->timer);
	KUNIT_EXPECT_TRUE(test, r->in_softirq);
	/* Wrong CPU, then "cannot unlink here": still held on this CPU. */
	KUNIT_EXPECT_EQ(test, psref_misuse_count(class), 2UL);
	KUNIT_EXPECT_TRUE(test, psref_held(&a, class));
	/* The right release still works and leaves nothing behind. */
	psref_release(&p, &a, class);
	KUNIT_EXPECT_FALSE(test, psref_held(&a, class));
	migrate_enable();
	psref_target_drain(&a, class);
	psref_target_destroy(&a, class);
	psref_test_class_done(test, class, 2);
}

static struct kunit_case psref_cases[] = {
	KUNIT_CASE_PARAM(psref_acquire_release_preempt, psref_ipl_gen_params),
	KUNIT_CASE_PARAM(psref_acquire_release_migrate, psref_ipl_gen_params),
	KUNIT_CASE_PARAM(psref_softirq, psref_ipl_gen_params),
	KUNIT_CASE_PARAM(psref_hardirq, psref_ipl_gen_params),
	KUNIT_CASE_PARAM(psref_copy_release_both, psref_ipl_gen_params),
	KUNIT_CASE(psref_drain_unheld),
	KUNIT_CASE_SLOW(psref_drain_waits_for_holder),
	KUNIT_CASE(psref_release_vs_class_destroy),
	KUNIT_CASE_SLOW(psref_debugfs_view),
	KUNIT_CASE_PARAM_ATTR(psref_torture_uaf, psref_torture_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE(psref_misuse_unbound_warns),
	KUNIT_CASE(psref_misuse_double_acquire_warns),
	KUNIT_CASE(psref_misuse_release_unknown_warns),
	KUNIT_CASE(psref_misuse_wrong_target_warns),
	KUNIT_CASE(psref_misuse_init_null_target_warns),
	KUNIT_CASE(psref_misuse_dead_target_warns),
	KUNIT_CASE(psref_misuse_drain_destroy_warns),
	KUNIT_CASE(psref_misuse_drain_while_holding_warns),
	KUNIT_CASE_SLOW(psref_misuse_destroy_while_draining_warns),
	KUNIT_CASE(psref_misuse_class_destroy_busy_warns),
	KUNIT_CASE(psref_misuse_bad_class_warns),
	KUNIT_CASE(psref_misuse_ipl_context_warns),
	KUNIT_CASE(psref_misuse_copy_unheld_warns),
	KUNIT_CASE(psref_misuse_release_other_task_warns),
	KUNIT_CASE(psref_misuse_release_other_cpu_warns),
	KUNIT_CASE(psref_misuse_release_other_cpu_softirq_warns),
	{}
};

static struct kunit_suite psref_suite = {
	.name = "kprim_psref",
	.test_cases = psref_cases,
};

kunit_test_suite(psref_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim psref");
KPRIM_MODULE_IMPORT_NS();
