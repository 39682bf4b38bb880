// SPDX-License-Identifier: GPL-2.0
/*
 * kprim_bench: kprim's facilities against the Linux primitive a driver
 * would otherwise use, side by side in one boot (make bench).
 *
 * Method (after kernel/rcu/refscale.c): one kthread pinned to each online
 * CPU waits for a job; a job runs one side of one row (the kprim side or
 * the Linux side) on one CPU or on all CPUs at once, every thread timing
 * its own loop with ktime_get_ns().  Each side is first warmed up and
 * calibrated (the loop count is scaled so a timed run takes about run_ms),
 * then the two sides alternate, kprim first on even runs and Linux first
 * on odd runs, for @runs runs.  A row prints the median, minimum and
 * maximum of the per-run cost per operation in picoseconds; the all-CPU
 * rows report the mean over the CPUs of each CPU's cost per operation.
 *
 * Both sides of a row do the same work on the same data: the same number
 * of live allocations in the same address range, the same objects looked
 * up, the same callbacks queued.  Output lines, one per row:
 *
 *   KPRIM_BENCH name|operation|k_med|k_min|k_max|l_med|l_min|l_max|runs
 *
 * with -1 for a row that has no Linux side; scripts/bench.sh turns them
 * into the table.  rows=list prints the row names (KPRIM_BENCH_ROW name).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/genalloc.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/percpu-refcount.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <kprim/kprim.h>
#include <kprim/ltable.h>
#include <kprim/psref.h>
#include <kprim/smr.h>
#include <kprim/vmem.h>

static char *rows = "all";
module_param(rows, charp, 0444);
MODULE_PARM_DESC(rows, "comma-separated row names (or prefix*), \"all\", or \"list\"");

static unsigned int runs = 5;
module_param(runs, uint, 0444);
MODULE_PARM_DESC(runs, "timed runs per side (median, min and max are reported), 1 to 31");

static unsigned int run_ms = 20;
module_param(run_ms, uint, 0444);
MODULE_PARM_DESC(run_ms, "target duration of one timed run of a throughput row, in ms");

static unsigned long cb_count = 1000000;
module_param(cb_count, ulong, 0444);
MODULE_PARM_DESC(cb_count, "callbacks queued per run of the smr_call/call_rcu row");

#define BENCH_MAX_RUNS		31
#define BENCH_MAX_LOOPS		BIT(26)
#define BENCH_ALLCPU		0x1

struct bench_row;

/* Run @loops operations on this CPU; return the nanoseconds they took. */
typedef u64 (*bench_op_t)(const struct bench_row *row, unsigned long loops);

/**
 * struct bench_row - one line of the table
 * @name: selection name (the rows= parameter)
 * @desc: the "operation" column
 * @kprim_op: the kprim side
 * @linux_op: the Linux side, or NULL when Linux has no counterpart
 * @setup: prepares the data both sides work on (may be NULL)
 * @teardown: undoes @setup (may be NULL)
 * @flags: %BENCH_ALLCPU to run on every online CPU at once
 * @loops: fixed operations per run (0: calibrate to @run_ms)
 * @run_ms: target duration of a timed run (0: the run_ms parameter)
 * @kind: row-specific (vmem: which allocation)
 * @nlive: live allocations set up before timing (vmem)
 */
struct bench_row {
	const char *name;
	const char *desc;
	bench_op_t kprim_op;
	bench_op_t linux_op;
	int (*setup)(const struct bench_row *row);
	void (*teardown)(const struct bench_row *row);
	unsigned int flags;
	unsigned long loops;
	unsigned int run_ms;
	int kind;
	unsigned long nlive;
};

/* ------------------------------------------------------------------ */
/* Pinned worker kthreads                                               */
/* ------------------------------------------------------------------ */

struct bench_job {
	const struct bench_row *row;
	bench_op_t op;
	unsigned long loops;
	atomic_t start;
	atomic_t left;
	struct completion done;
};

struct bench_worker {
	struct task_struct *task;
	struct bench_job *job;
	unsigned int cpu;
	u64 ns;
};

static struct bench_worker *bench_workers;
static atomic_long_t bench_errors;	/* operations that failed */
static unsigned int bench_nworkers;
static DECLARE_WAIT_QUEUE_HEAD(bench_wq);
static struct bench_job bench_job;

static int bench_worker_fn(void *arg)
{
	struct bench_worker *w = arg;
	struct bench_job *job;

	while (!kthread_should_stop()) {
		wait_event_interruptible(bench_wq, kthread_should_stop() ||
					 READ_ONCE(w->job));
		/* Full barrier: pairs with the release in bench_post(). */
		job = xchg(&w->job, NULL);
		if (!job)
			continue;
		/* Start together, as refscale's readers do. */
		atomic_dec(&job->start);
		while (atomic_read(&job->start))
			cpu_relax();
		w->ns = job->op(job->row, job->loops);
		/* Full barrier: publishes w->ns before the completion. */
		if (atomic_dec_and_test(&job->left))
			complete(&job->done);
	}
	return 0;
}

/* Run @op on the first @nthreads workers; return the mean ps per op. */
static u64 bench_post(const struct bench_row *row, bench_op_t op,
		      unsigned long loops, unsigned int nthreads)
{
	struct bench_job *job = &bench_job;
	u64 sum = 0;
	unsigned int i;

	job->row = row;
	job->op = op;
	job->loops = loops;
	atomic_set(&job->start, nthreads);
	atomic_set(&job->left, nthreads);
	reinit_completion(&job->done);
	for (i = 0; i < nthreads; i++)
		/* Job fields before the pointer: pairs with the worker's xchg. */
		smp_store_release(&bench_workers[i].job, job);
	wake_up_all(&bench_wq);
	wait_for_completion(&job->done);
	for (i = 0; i < nthreads; i++)
		sum += div64_u64(bench_workers[i].ns * 1000, loops);
	return div_u64(sum, nthreads);
}

static void bench_workers_stop(void)
{
	unsigned int i;

	for (i = 0; i < bench_nworkers; i++)
		if (bench_workers[i].task)
			kthread_stop(bench_workers[i].task);
	kfree(bench_workers);
	bench_workers = NULL;
}

static int bench_workers_start(void)
{
	struct task_struct *t;
	unsigned int cpu, n = 0;

	bench_workers = kcalloc(num_online_cpus(), sizeof(*bench_workers),
				GFP_KERNEL);
	if (!bench_workers)
		return -ENOMEM;
	for_each_online_cpu(cpu) {
		if (n == num_online_cpus())
			break;
		t = kthread_create_on_cpu(bench_worker_fn, &bench_workers[n],
					  cpu, "kprim_bench/%u");
		if (IS_ERR(t)) {
			bench_workers_stop();
			return PTR_ERR(t);
		}
		bench_workers[n].task = t;
		bench_workers[n].cpu = cpu;
		bench_nworkers = ++n;
		wake_up_process(t);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* SMR                                                                  */
/* ------------------------------------------------------------------ */

static smr_t bench_smr;
static struct srcu_struct bench_srcu;

static u64 op_smr_read(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		smr_enter(bench_smr);
		smr_leave(bench_smr);
	}
	return ktime_get_ns() - t0;
}

static u64 op_rcu_read(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		rcu_read_lock();
		rcu_read_unlock();
	}
	return ktime_get_ns() - t0;
}

static u64 op_srcu_read(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;
	int idx;

	for (i = 0; i < loops; i++) {
		idx = srcu_read_lock(&bench_srcu);
		srcu_read_unlock(&bench_srcu, idx);
	}
	return ktime_get_ns() - t0;
}

static u64 op_smr_sync(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++)
		smr_synchronize(bench_smr);
	return ktime_get_ns() - t0;
}

static u64 op_rcu_sync(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++)
		synchronize_rcu();
	return ktime_get_ns() - t0;
}

static u64 op_rcu_sync_exp(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++)
		synchronize_rcu_expedited();
	return ktime_get_ns() - t0;
}

/*
 * Also a ktime breakdown: the spread of single calls and how many write
 * sequence advances each barrier costs.
 */
static u64 op_smr_barrier(const struct bench_row *row, unsigned long loops)
{
	long adv0 = atomic_long_read(&bench_smr->smr_advances);
	u64 t0 = ktime_get_ns(), t, t1 = t0, lo = U64_MAX, hi = 0;
	unsigned long i, hist[4] = { 0 };

	for (i = 0; i < loops; i++) {
		smr_barrier(bench_smr);
		t = ktime_get_ns();
		lo = min(lo, t - t1);
		hi = max(hi, t - t1);
		/* < 1 ms, < 1 jiffy, < 2 jiffies, more */
		if (t - t1 < NSEC_PER_MSEC)
			hist[0]++;
		else if (t - t1 < TICK_NSEC)
			hist[1]++;
		else if (t - t1 < 2 * TICK_NSEC)
			hist[2]++;
		else
			hist[3]++;
		t1 = t;
	}
	if (loops > 1)
		pr_info("smr_barrier: %lu calls: min %llu ns, max %llu ns, <1ms %lu, <1 jiffy %lu, <2 jiffies %lu, more %lu, %ld advances\n",
			loops, lo, hi, hist[0], hist[1], hist[2], hist[3],
			atomic_long_read(&bench_smr->smr_advances) - adv0);
	return t1 - t0;
}

static u64 op_rcu_barrier(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++)
		rcu_barrier();
	return ktime_get_ns() - t0;
}

/* One deferred-free node; both callback kinds are 16 bytes. */
union bench_cb {
	struct smr_node smr;
	struct rcu_head rcu;
};

static union bench_cb *bench_cbs;
static atomic_long_t bench_cb_left;
static DECLARE_COMPLETION(bench_cb_done);

static void bench_smr_cb(struct smr_node *node)
{
	if (atomic_long_dec_and_test(&bench_cb_left))
		complete(&bench_cb_done);
}

static void bench_rcu_cb(struct rcu_head *head)
{
	if (atomic_long_dec_and_test(&bench_cb_left))
		complete(&bench_cb_done);
}

static int bench_cb_setup(const struct bench_row *row)
{
	bench_cbs = vmalloc(array_size(cb_count, sizeof(*bench_cbs)));
	return bench_cbs ? 0 : -ENOMEM;
}

static void bench_cb_teardown(const struct bench_row *row)
{
	smr_barrier(bench_smr);
	rcu_barrier();
	vfree(bench_cbs);
	bench_cbs = NULL;
}

/* Queue @loops callbacks and wait until the last one has run. */
static u64 op_smr_call(const struct bench_row *row, unsigned long loops)
{
	unsigned long i;
	u64 t0, t1, t2;

	loops = min(loops, cb_count);
	reinit_completion(&bench_cb_done);
	atomic_long_set(&bench_cb_left, loops);
	t0 = ktime_get_ns();
	for (i = 0; i < loops; i++) {
		smr_call(bench_smr, &bench_cbs[i].smr, sizeof(bench_cbs[i]),
			 bench_smr_cb);
		if (!(i & 1023))
			cond_resched();
	}
	t1 = ktime_get_ns();
	wait_for_completion(&bench_cb_done);
	t2 = ktime_get_ns();
	if (loops > 1)
		pr_info("smr_call: %lu callbacks: queueing %llu ns, then reclaim wait %llu ns\n",
			loops, t1 - t0, t2 - t1);
	return t2 - t0;
}

static u64 op_call_rcu(const struct bench_row *row, unsigned long loops)
{
	unsigned long i;
	u64 t0, t1, t2;

	loops = min(loops, cb_count);
	reinit_completion(&bench_cb_done);
	atomic_long_set(&bench_cb_left, loops);
	t0 = ktime_get_ns();
	for (i = 0; i < loops; i++) {
		call_rcu(&bench_cbs[i].rcu, bench_rcu_cb);
		if (!(i & 1023))
			cond_resched();
	}
	t1 = ktime_get_ns();
	wait_for_completion(&bench_cb_done);
	t2 = ktime_get_ns();
	if (loops > 1)
		pr_info("call_rcu: %lu callbacks: queueing %llu ns, then reclaim wait %llu ns\n",
			loops, t1 - t0, t2 - t1);
	return t2 - t0;
}

/* Latency of one callback from queueing to its run (expedited for SMR). */
static u64 op_smr_call_one(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		reinit_completion(&bench_cb_done);
		atomic_long_set(&bench_cb_left, 1);
		smr_call(bench_smr, &bench_cbs[0].smr, SMR_CALL_EXPEDITE,
			 bench_smr_cb);
		wait_for_completion(&bench_cb_done);
	}
	return ktime_get_ns() - t0;
}

static u64 op_call_rcu_one(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		reinit_completion(&bench_cb_done);
		atomic_long_set(&bench_cb_left, 1);
		call_rcu(&bench_cbs[0].rcu, bench_rcu_cb);
		wait_for_completion(&bench_cb_done);
	}
	return ktime_get_ns() - t0;
}

/* Barrier with one callback queued on this CPU just before it. */
static u64 op_smr_barrier_one(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		atomic_long_set(&bench_cb_left, 2);
		smr_call(bench_smr, &bench_cbs[0].smr, sizeof(bench_cbs[0]),
			 bench_smr_cb);
		smr_barrier(bench_smr);
	}
	return ktime_get_ns() - t0;
}

static u64 op_rcu_barrier_one(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		atomic_long_set(&bench_cb_left, 2);
		call_rcu(&bench_cbs[0].rcu, bench_rcu_cb);
		rcu_barrier();
	}
	return ktime_get_ns() - t0;
}

/* ------------------------------------------------------------------ */
/* Reference costs of the emulated machine (no Linux side)             */
/* ------------------------------------------------------------------ */

static u64 op_probe_call(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++)
		kprim_version();
	return ktime_get_ns() - t0;
}

static u64 op_probe_mb(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++)
		smp_mb();	/* The cost of a full barrier is what is measured. */
	return ktime_get_ns() - t0;
}

static u64 op_probe_preempt(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		preempt_disable();
		preempt_enable();
	}
	return ktime_get_ns() - t0;
}

static void bench_work_fn(struct work_struct *work)
{
}

static DECLARE_WORK(bench_work, bench_work_fn);

/* Wake a kworker on the other CPU (or this one) and wait for it. */
static u64 bench_work_roundtrip(unsigned long loops, bool other,
				struct workqueue_struct *wq)
{
	unsigned int cpu = bench_workers[0].cpu;
	u64 t0 = ktime_get_ns();
	unsigned long i;

	if (other && bench_nworkers > 1)
		cpu = bench_workers[1].cpu;
	for (i = 0; i < loops; i++) {
		queue_work_on(cpu, wq, &bench_work);
		flush_work(&bench_work);
	}
	return ktime_get_ns() - t0;
}

static u64 op_probe_work_self(const struct bench_row *row, unsigned long loops)
{
	return bench_work_roundtrip(loops, false, system_highpri_wq);
}

static u64 op_probe_work_other(const struct bench_row *row, unsigned long loops)
{
	return bench_work_roundtrip(loops, true, system_highpri_wq);
}

static u64 op_probe_work_self_normal(const struct bench_row *row, unsigned long loops)
{
	return bench_work_roundtrip(loops, false, system_wq);
}

static u64 op_probe_work_other_normal(const struct bench_row *row, unsigned long loops)
{
	return bench_work_roundtrip(loops, true, system_wq);
}

static u64 op_probe_entered(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;
	bool in = false;

	for (i = 0; i < loops; i++)
		in |= smr_entered(bench_smr);
	if (in)
		atomic_long_inc(&bench_errors);
	return ktime_get_ns() - t0;
}

/* ------------------------------------------------------------------ */
/* psref                                                                */
/* ------------------------------------------------------------------ */

static struct psref_class *bench_psref_class;
static struct psref_target bench_target;
static struct percpu_ref bench_pcref;
static struct percpu_ref bench_pcref_drain;
static DECLARE_COMPLETION(bench_pcref_released);
static refcount_t bench_refcnt ____cacheline_aligned = REFCOUNT_INIT(1);

static void bench_pcref_release(struct percpu_ref *ref)
{
}

static void bench_pcref_drain_release(struct percpu_ref *ref)
{
	complete(&bench_pcref_released);
}

static u64 op_psref(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	struct psref ref;
	unsigned long i;

	for (i = 0; i < loops; i++) {
		if (likely(!psref_acquire(&ref, &bench_target, bench_psref_class)))
			psref_release(&ref, &bench_target, bench_psref_class);
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

static u64 op_percpu_ref(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		if (likely(percpu_ref_tryget(&bench_pcref)))
			percpu_ref_put(&bench_pcref);
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

static u64 op_refcount(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;

	for (i = 0; i < loops; i++) {
		if (likely(refcount_inc_not_zero(&bench_refcnt)))
			refcount_dec(&bench_refcnt);
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

/* Breakdown: psref_held() runs the same entry checks and list protection. */
static u64 op_psref_held(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;
	bool held = false;

	for (i = 0; i < loops; i++)
		held |= psref_held(&bench_target, bench_psref_class);
	if (held)
		atomic_long_inc(&bench_errors);
	return ktime_get_ns() - t0;
}

/* Drain latency of a target nobody holds; init and destroy are untimed. */
static u64 op_psref_drain(const struct bench_row *row, unsigned long loops)
{
	struct psref_target target;
	unsigned long i;
	u64 t0, ns = 0;

	for (i = 0; i < loops; i++) {
		psref_target_init(&target, bench_psref_class);
		t0 = ktime_get_ns();
		psref_target_drain(&target, bench_psref_class);
		ns += ktime_get_ns() - t0;
		psref_target_destroy(&target, bench_psref_class);
	}
	return ns;
}

/* The percpu_ref equivalent: kill, wait for the release; reinit untimed. */
static u64 op_percpu_ref_kill(const struct bench_row *row, unsigned long loops)
{
	unsigned long i;
	u64 t0, ns = 0;

	for (i = 0; i < loops; i++) {
		reinit_completion(&bench_pcref_released);
		t0 = ktime_get_ns();
		percpu_ref_kill(&bench_pcref_drain);
		wait_for_completion(&bench_pcref_released);
		ns += ktime_get_ns() - t0;
		percpu_ref_reinit(&bench_pcref_drain);
	}
	return ns;
}

/* ------------------------------------------------------------------ */
/* vmem and gen_pool                                                    */
/* ------------------------------------------------------------------ */

enum {
	BENCH_VM_QCACHE,	/* vmem_alloc of a quantum-cached size */
	BENCH_VM_NOCACHE,	/* vmem_alloc above qcache_max */
	BENCH_VM_XALLOC,	/* vmem_xalloc with alignment */
};

#define BENCH_VM_BASE		BIT(32)
#define BENCH_VM_SIZE		(512UL << 20)
#define BENCH_VM_QUANTUM	16
#define BENCH_VM_QCACHE_MAX	(4 * BENCH_VM_QUANTUM)
#define BENCH_VM_ALIGN		256

static vmem_t *bench_vm;
static struct gen_pool *bench_pool;
static unsigned long *bench_vm_live, *bench_gp_live;
static unsigned long bench_vm_nlive, bench_gp_nlive;

static vmem_size_t bench_vm_size(int kind)
{
	switch (kind) {
	case BENCH_VM_QCACHE:
		return 2 * BENCH_VM_QUANTUM;
	case BENCH_VM_NOCACHE:
		return 8 * BENCH_VM_QUANTUM;
	default:
		return 4 * BENCH_VM_QUANTUM;
	}
}

static int bench_vm_alloc(int kind, vmem_addr_t *addrp)
{
	vmem_size_t size = bench_vm_size(kind);

	if (kind == BENCH_VM_XALLOC)
		return vmem_xalloc(bench_vm, size, BENCH_VM_ALIGN, 0, 0,
				   VMEM_ADDR_MIN, VMEM_ADDR_MAX,
				   VM_SLEEP | VM_INSTANTFIT, addrp);
	return vmem_alloc(bench_vm, size, VM_SLEEP | VM_INSTANTFIT, addrp);
}

static void bench_vm_free(int kind, vmem_addr_t addr)
{
	if (kind == BENCH_VM_XALLOC)
		vmem_xfree(bench_vm, addr, bench_vm_size(kind));
	else
		vmem_free(bench_vm, addr, bench_vm_size(kind));
}

static unsigned long bench_gp_alloc(int kind)
{
	struct genpool_data_align align = { .align = BENCH_VM_ALIGN };
	size_t size = bench_vm_size(kind);

	if (kind == BENCH_VM_XALLOC)
		return gen_pool_alloc_algo(bench_pool, size,
					   gen_pool_first_fit_align, &align);
	return gen_pool_alloc(bench_pool, size);
}

static void bench_vmem_teardown(const struct bench_row *row)
{
	size_t size = bench_vm_size(row->kind);
	unsigned long i;

	for (i = 0; i < bench_vm_nlive; i++) {
		bench_vm_free(row->kind, bench_vm_live[i]);
		if (!(i & 1023))
			cond_resched();
	}
	for (i = 0; i < bench_gp_nlive; i++)
		gen_pool_free(bench_pool, bench_gp_live[i], size);
	bench_vm_nlive = 0;
	bench_gp_nlive = 0;
	if (bench_vm)
		vmem_destroy(bench_vm);
	if (bench_pool)
		gen_pool_destroy(bench_pool);
	bench_vm = NULL;
	bench_pool = NULL;
	vfree(bench_vm_live);
	vfree(bench_gp_live);
	bench_vm_live = NULL;
	bench_gp_live = NULL;
}

/*
 * Both allocators get the same range and the same number of live
 * allocations before timing starts.  vmem places them itself; gen_pool's
 * are placed where its own first-fit (aligned first-fit for the xalloc
 * rows) would have put them, packed from the start of the range, but with
 * gen_pool_fixed_alloc() so that filling is linear rather than quadratic.
 */
static int bench_vmem_setup(const struct bench_row *row)
{
	struct genpool_data_fixed fixed;
	size_t size = bench_vm_size(row->kind);
	size_t stride = row->kind == BENCH_VM_XALLOC ? BENCH_VM_ALIGN : size;
	vmem_addr_t addr;
	unsigned long i;
	int ret = -ENOMEM;

	bench_vm = vmem_create("kprim_bench", BENCH_VM_BASE, BENCH_VM_SIZE,
			       BENCH_VM_QUANTUM, NULL, NULL, NULL,
			       BENCH_VM_QCACHE_MAX, VM_SLEEP, IPL_NONE);
	bench_vm_live = vmalloc(array_size(max(row->nlive, 1UL), sizeof(long)));
	if (!bench_vm || !bench_vm_live)
		goto fail;
	for (i = 0; i < row->nlive; i++) {
		ret = bench_vm_alloc(row->kind, &addr);
		if (ret) {
			pr_err("%s: vmem fill failed at %lu: %d\n", row->name, i, ret);
			ret = -ENOMEM;
			goto fail;
		}
		bench_vm_live[bench_vm_nlive++] = addr;
		if (!(i & 1023))
			cond_resched();
	}
	if (!row->linux_op)
		return 0;

	ret = -ENOMEM;
	bench_pool = gen_pool_create(ilog2(BENCH_VM_QUANTUM), NUMA_NO_NODE);
	bench_gp_live = vmalloc(array_size(max(row->nlive, 1UL), sizeof(long)));
	if (!bench_pool || !bench_gp_live ||
	    gen_pool_add(bench_pool, BENCH_VM_BASE, BENCH_VM_SIZE, NUMA_NO_NODE))
		goto fail;
	for (i = 0; i < row->nlive; i++) {
		fixed.offset = i * stride;
		addr = gen_pool_alloc_algo(bench_pool, size,
					   gen_pool_fixed_alloc, &fixed);
		if (!addr) {
			pr_err("%s: gen_pool fill failed at %lu\n", row->name, i);
			goto fail;
		}
		bench_gp_live[bench_gp_nlive++] = addr;
		if (!(i & 1023))
			cond_resched();
	}
	return 0;
fail:
	bench_vmem_teardown(row);
	return ret;
}

static u64 op_vmem(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	vmem_addr_t addr;
	unsigned long i;

	for (i = 0; i < loops; i++) {
		if (likely(!bench_vm_alloc(row->kind, &addr)))
			bench_vm_free(row->kind, addr);
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

static u64 op_gen_pool(const struct bench_row *row, unsigned long loops)
{
	size_t size = bench_vm_size(row->kind);
	u64 t0 = ktime_get_ns();
	unsigned long i, addr;

	for (i = 0; i < loops; i++) {
		addr = bench_gp_alloc(row->kind);
		if (likely(addr))
			gen_pool_free(bench_pool, addr, size);
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

/* ------------------------------------------------------------------ */
/* ltable and XArray                                                    */
/* ------------------------------------------------------------------ */

#define BENCH_LT_N	1024	/* live elements on each side, a power of two */

struct bench_lt_elem {
	struct lt_elem lt;
	u64 payload[2];
};

struct bench_xa_obj {
	refcount_t ref;
	u64 payload[2];
};

static struct link_table bench_lt;
static bool bench_lt_inited;
static u64 bench_lt_ids[BENCH_LT_N];
static unsigned int bench_lt_nids;
static DEFINE_XARRAY_ALLOC(bench_xa);
static struct bench_xa_obj *bench_xa_objs;
static struct bench_xa_obj bench_xa_extra;

static void bench_lt_teardown(const struct bench_row *row)
{
	struct lt_elem *e;
	unsigned long idx;
	void *entry;

	while (bench_lt_nids) {
		e = ltable_get_elem(&bench_lt, bench_lt_ids[--bench_lt_nids]);
		if (!e)
			continue;
		lt_elem_invalidate(e);
		ltable_put_elem(&bench_lt, e);
	}
	if (bench_lt_inited)
		ltable_destroy(&bench_lt);
	bench_lt_inited = false;
	xa_for_each(&bench_xa, idx, entry)
		xa_erase(&bench_xa, idx);
	kfree(bench_xa_objs);
	bench_xa_objs = NULL;
}

static int bench_lt_setup(const struct bench_row *row)
{
	struct lt_elem *e;
	unsigned int i;
	u32 id;
	int ret;

	ret = ltable_init(&bench_lt, "kprim_bench", 4 * BENCH_LT_N,
			  sizeof(struct bench_lt_elem), NULL);
	if (ret)
		return ret;
	bench_lt_inited = true;
	ret = ltable_grow(&bench_lt, 2 * BENCH_LT_N);
	if (ret)
		goto fail;
	ret = -ENOMEM;
	bench_xa_objs = kcalloc(BENCH_LT_N, sizeof(*bench_xa_objs), GFP_KERNEL);
	if (!bench_xa_objs)
		goto fail;
	for (i = 0; i < BENCH_LT_N; i++) {
		e = ltable_alloc_elem(&bench_lt, LT_ELEM, 1, 0);
		if (!e)
			goto fail;
		lt_elem_mkvalid(e);
		bench_lt_ids[bench_lt_nids++] = e->lt_id.id;
		ltable_put_elem(&bench_lt, e);

		refcount_set(&bench_xa_objs[i].ref, 1);
		ret = xa_alloc(&bench_xa, &id, &bench_xa_objs[i], xa_limit_31b,
			       GFP_KERNEL);
		if (ret)
			goto fail;
		ret = -ENOMEM;
	}
	return 0;
fail:
	bench_lt_teardown(row);
	return ret;
}

static u64 op_lt_get(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	struct lt_elem *e;
	unsigned long i;

	for (i = 0; i < loops; i++) {
		e = ltable_get_elem(&bench_lt, bench_lt_ids[i & (BENCH_LT_N - 1)]);
		if (likely(e))
			ltable_put_elem(&bench_lt, e);
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

static u64 op_xa_get(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	struct bench_xa_obj *o;
	unsigned long i;

	for (i = 0; i < loops; i++) {
		rcu_read_lock();
		o = xa_load(&bench_xa, i & (BENCH_LT_N - 1));
		if (likely(o && refcount_inc_not_zero(&o->ref))) {
			rcu_read_unlock();
			refcount_dec(&o->ref);
		} else {
			rcu_read_unlock();
			atomic_long_inc(&bench_errors);
		}
	}
	return ktime_get_ns() - t0;
}

static u64 op_lt_alloc(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	struct lt_elem *e;
	unsigned long i;

	for (i = 0; i < loops; i++) {
		e = ltable_alloc_elem(&bench_lt, LT_ELEM, 1, 0);
		if (likely(e))
			ltable_put_elem(&bench_lt, e);	/* invalid: freed */
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

static u64 op_xa_alloc(const struct bench_row *row, unsigned long loops)
{
	u64 t0 = ktime_get_ns();
	unsigned long i;
	u32 id;

	for (i = 0; i < loops; i++) {
		if (likely(!xa_alloc(&bench_xa, &id, &bench_xa_extra,
				     xa_limit_31b, GFP_KERNEL)))
			xa_erase(&bench_xa, id);
		else
			atomic_long_inc(&bench_errors);
	}
	return ktime_get_ns() - t0;
}

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */

#define VMEM_ROW(nm, dsc, knd, n, lin, fl)				\
	{ .name = nm, .desc = dsc, .kprim_op = op_vmem, .linux_op = lin,	\
	  .setup = bench_vmem_setup, .teardown = bench_vmem_teardown,	\
	  .kind = knd, .nlive = n, .flags = fl }

static const struct bench_row bench_rows[] = {
	{ "smr_read_rcu_1cpu", "smr_enter+leave vs rcu_read_lock+unlock, 1 CPU",
	  op_smr_read, op_rcu_read },
	{ "smr_read_srcu_1cpu", "smr_enter+leave vs srcu_read_lock+unlock, 1 CPU",
	  op_smr_read, op_srcu_read },
	{ "smr_read_rcu_allcpu", "smr_enter+leave vs rcu_read_lock+unlock, all CPUs",
	  op_smr_read, op_rcu_read, .flags = BENCH_ALLCPU },
	{ "smr_read_srcu_allcpu", "smr_enter+leave vs srcu_read_lock+unlock, all CPUs",
	  op_smr_read, op_srcu_read, .flags = BENCH_ALLCPU },
	{ "smr_sync_rcu", "smr_synchronize vs synchronize_rcu (latency)",
	  op_smr_sync, op_rcu_sync, .run_ms = 200 },
	{ "smr_sync_rcu_exp", "smr_synchronize vs synchronize_rcu_expedited (latency)",
	  op_smr_sync, op_rcu_sync_exp, .run_ms = 200 },
	{ "smr_call", "smr_call vs call_rcu, per callback (queue + reclaim)",
	  op_smr_call, op_call_rcu, .setup = bench_cb_setup,
	  .teardown = bench_cb_teardown, .loops = ~0UL },
	{ "smr_call_latency", "smr_call (SMR_CALL_EXPEDITE) vs call_rcu, 1 callback to its run",
	  op_smr_call_one, op_call_rcu_one, .setup = bench_cb_setup,
	  .teardown = bench_cb_teardown, .run_ms = 200 },
	{ "smr_barrier", "smr_barrier vs rcu_barrier (latency, idle)",
	  op_smr_barrier, op_rcu_barrier, .run_ms = 200 },
	{ "smr_barrier_busy", "smr_barrier vs rcu_barrier (latency, 1 callback queued)",
	  op_smr_barrier_one, op_rcu_barrier_one, .setup = bench_cb_setup,
	  .teardown = bench_cb_teardown, .run_ms = 200 },
	{ "psref_pcpu_1cpu", "psref_acquire+release vs percpu_ref_tryget+put, 1 CPU",
	  op_psref, op_percpu_ref },
	{ "psref_pcpu_allcpu", "psref_acquire+release vs percpu_ref_tryget+put, all CPUs",
	  op_psref, op_percpu_ref, .flags = BENCH_ALLCPU },
	{ "psref_refcnt_1cpu", "psref_acquire+release vs refcount_inc_not_zero+dec, 1 CPU",
	  op_psref, op_refcount },
	{ "psref_refcnt_allcpu", "psref_acquire+release vs refcount_inc_not_zero+dec, all CPUs",
	  op_psref, op_refcount, .flags = BENCH_ALLCPU },
	{ "psref_drain", "psref_target_drain vs percpu_ref_kill+release (latency, no holders)",
	  op_psref_drain, op_percpu_ref_kill, .run_ms = 200 },
	VMEM_ROW("vmem_qc_1k", "vmem_alloc+free 32 B (qcache) vs gen_pool, 1k live",
		 BENCH_VM_QCACHE, 1000, op_gen_pool, 0),
	VMEM_ROW("vmem_qc_100k", "vmem_alloc+free 32 B (qcache) vs gen_pool, 100k live",
		 BENCH_VM_QCACHE, 100000, op_gen_pool, 0),
	VMEM_ROW("vmem_qc_1m", "vmem_alloc+free 32 B (qcache), 1M live",
		 BENCH_VM_QCACHE, 1000000, NULL, 0),
	VMEM_ROW("vmem_nc_1k", "vmem_alloc+free 128 B (no qcache) vs gen_pool, 1k live",
		 BENCH_VM_NOCACHE, 1000, op_gen_pool, 0),
	VMEM_ROW("vmem_nc_100k", "vmem_alloc+free 128 B (no qcache) vs gen_pool, 100k live",
		 BENCH_VM_NOCACHE, 100000, op_gen_pool, 0),
	VMEM_ROW("vmem_nc_1m", "vmem_alloc+free 128 B (no qcache), 1M live",
		 BENCH_VM_NOCACHE, 1000000, NULL, 0),
	VMEM_ROW("vmem_xa_1k", "vmem_xalloc 64 B align 256 vs gen_pool first_fit_align, 1k live",
		 BENCH_VM_XALLOC, 1000, op_gen_pool, 0),
	VMEM_ROW("vmem_xa_100k",
		 "vmem_xalloc 64 B align 256 vs gen_pool first_fit_align, 100k live",
		 BENCH_VM_XALLOC, 100000, op_gen_pool, 0),
	VMEM_ROW("vmem_xa_1m", "vmem_xalloc 64 B align 256, 1M live",
		 BENCH_VM_XALLOC, 1000000, NULL, 0),
	VMEM_ROW("vmem_qc_100k_allcpu",
		 "vmem_alloc+free 32 B (qcache) vs gen_pool, 100k live, all CPUs",
		 BENCH_VM_QCACHE, 100000, op_gen_pool, BENCH_ALLCPU),
	VMEM_ROW("vmem_nc_100k_allcpu",
		 "vmem_alloc+free 128 B (no qcache) vs gen_pool, 100k live, all CPUs",
		 BENCH_VM_NOCACHE, 100000, op_gen_pool, BENCH_ALLCPU),
	{ "ltable_get_1cpu", "ltable_get_elem+put vs xa_load+refcount_inc_not_zero+dec, 1 CPU",
	  op_lt_get, op_xa_get, .setup = bench_lt_setup, .teardown = bench_lt_teardown },
	{ "ltable_get_allcpu", "ltable_get_elem+put vs xa_load+refcount_inc_not_zero+dec, all CPUs",
	  op_lt_get, op_xa_get, .setup = bench_lt_setup, .teardown = bench_lt_teardown,
	  .flags = BENCH_ALLCPU },
	{ "ltable_alloc", "ltable_alloc_elem+put vs xa_alloc+xa_erase, 1 CPU",
	  op_lt_alloc, op_xa_alloc, .setup = bench_lt_setup, .teardown = bench_lt_teardown },
	{ "probe_call", "reference: call of an exported function (kprim_version)",
	  op_probe_call },
	{ "probe_smp_mb", "reference: smp_mb()", op_probe_mb },
	{ "probe_preempt", "reference: preempt_disable+preempt_enable", op_probe_preempt },
	{ "probe_work_self", "reference: queue_work_on(this CPU)+flush_work, highpri wq",
	  op_probe_work_self, .run_ms = 200 },
	{ "probe_work_other", "reference: queue_work_on(other CPU)+flush_work, highpri wq",
	  op_probe_work_other, .run_ms = 200 },
	{ "probe_work_self_normal", "reference: queue_work_on(this CPU)+flush_work, system_wq",
	  op_probe_work_self_normal, .run_ms = 200 },
	{ "probe_work_other_normal", "reference: queue_work_on(other CPU)+flush_work, system_wq",
	  op_probe_work_other_normal, .run_ms = 200 },
	{ "probe_psref_held", "reference: psref_held (entry checks, list protection, empty walk)",
	  op_psref_held },
	{ "probe_smr_entered", "reference: smr_entered (exported, reads the CPU's slot)",
	  op_probe_entered },
};

/* ------------------------------------------------------------------ */
/* Runner                                                               */
/* ------------------------------------------------------------------ */

static bool bench_selected(const char *name)
{
	const char *p = rows;
	size_t len;

	if (!strcmp(rows, "all"))
		return true;
	while (*p) {
		len = strcspn(p, ",");
		/* "name" selects one row, "prefix*" a group. */
		if (len && p[len - 1] == '*' && !strncmp(name, p, len - 1))
			return true;
		if (len && strlen(name) == len && !strncmp(name, p, len))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/*
 * Warm up @op on one CPU and return the loop count of a timed run: the
 * row's fixed count, or what makes a run last about the target time.
 */
static unsigned long bench_calibrate(const struct bench_row *row, bench_op_t op)
{
	u64 target = (u64)(row->run_ms ?: run_ms) * NSEC_PER_MSEC;
	unsigned long loops = 1;
	u64 ps, ns;

	if (row->loops) {
		loops = min(row->loops, cb_count);
		bench_post(row, op, max(loops / 16, 1UL), 1);
		return loops;
	}
	for (;;) {
		ps = bench_post(row, op, loops, 1);
		ns = div_u64(ps * loops, 1000);
		if (ns >= target / 8 || loops >= BENCH_MAX_LOOPS)
			break;
		loops *= ns ? 4 : 16;
	}
	/* A second, full-length pass: first calls after a setup can be slow. */
	loops = clamp(div64_u64(target * 1000, max(ps, 1ULL)), 1ULL,
		      (u64)BENCH_MAX_LOOPS);
	ps = bench_post(row, op, loops, 1);
	loops = div64_u64(target * 1000, max(ps, 1ULL));
	return clamp(loops, 1UL, BENCH_MAX_LOOPS);
}

static int bench_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static s64 bench_median(u64 *v, unsigned int n)
{
	sort(v, n, sizeof(*v), bench_cmp_u64, NULL);
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int bench_row_run(const struct bench_row *row)
{
	unsigned int nthreads = row->flags & BENCH_ALLCPU ? bench_nworkers : 1;
	u64 k[BENCH_MAX_RUNS], l[BENCH_MAX_RUNS];
	unsigned long kloops, lloops = 0;
	s64 kmed, lmed = -1, lmin = -1, lmax = -1;
	unsigned int r;
	int ret;

	if (row->setup) {
		ret = row->setup(row);
		if (ret) {
			pr_err("%s: setup failed: %d\n", row->name, ret);
			return ret;
		}
	}
	kloops = bench_calibrate(row, row->kprim_op);
	if (row->linux_op)
		lloops = bench_calibrate(row, row->linux_op);
	for (r = 0; r < runs; r++) {
		if (row->linux_op && (r & 1))
			l[r] = bench_post(row, row->linux_op, lloops, nthreads);
		k[r] = bench_post(row, row->kprim_op, kloops, nthreads);
		if (row->linux_op && !(r & 1))
			l[r] = bench_post(row, row->linux_op, lloops, nthreads);
		cond_resched();
	}
	if (row->teardown)
		row->teardown(row);

	kmed = bench_median(k, runs);
	if (row->linux_op) {
		lmed = bench_median(l, runs);
		lmin = l[0];
		lmax = l[runs - 1];
	}
	pr_info("KPRIM_BENCH %s|%s|%lld|%llu|%llu|%lld|%lld|%lld|%u\n",
		row->name, row->desc, kmed, k[0], k[runs - 1], lmed, lmin, lmax,
		runs);
	pr_info("%s: loops kprim %lu linux %lu, threads %u\n", row->name,
		kloops, lloops, nthreads);
	return 0;
}

static int bench_setup_common(void)
{
	int ret;

	bench_smr = smr_domain_create(SMR_NONE, "kprim_bench");
	if (!bench_smr)
		return -ENOMEM;
	ret = init_srcu_struct(&bench_srcu);
	if (ret)
		goto err_smr;
	bench_psref_class = psref_class_create("kprim_bench", IPL_NONE);
	if (!bench_psref_class) {
		ret = -ENOMEM;
		goto err_srcu;
	}
	psref_target_init(&bench_target, bench_psref_class);
	ret = percpu_ref_init(&bench_pcref, bench_pcref_release, 0, GFP_KERNEL);
	if (ret)
		goto err_psref;
	ret = percpu_ref_init(&bench_pcref_drain, bench_pcref_drain_release,
			      PERCPU_REF_ALLOW_REINIT, GFP_KERNEL);
	if (ret)
		goto err_pcref;
	return 0;
err_pcref:
	percpu_ref_exit(&bench_pcref);
err_psref:
	psref_target_drain(&bench_target, bench_psref_class);
	psref_target_destroy(&bench_target, bench_psref_class);
	psref_class_destroy(bench_psref_class);
err_srcu:
	cleanup_srcu_struct(&bench_srcu);
err_smr:
	smr_domain_free(bench_smr);
	return ret;
}

static void bench_teardown_common(void)
{
	percpu_ref_exit(&bench_pcref_drain);
	percpu_ref_exit(&bench_pcref);
	psref_target_drain(&bench_target, bench_psref_class);
	psref_target_destroy(&bench_target, bench_psref_class);
	psref_class_destroy(bench_psref_class);
	cleanup_srcu_struct(&bench_srcu);
	smr_domain_free(bench_smr);
}

static int __init kprim_bench_init(void)
{
	unsigned int i;
	int ret;

	if (!strcmp(rows, "list")) {
		for (i = 0; i < ARRAY_SIZE(bench_rows); i++)
			pr_info("KPRIM_BENCH_ROW %s\n", bench_rows[i].name);
		return 0;
	}
	runs = clamp(runs, 1U, (unsigned int)BENCH_MAX_RUNS);
	init_completion(&bench_job.done);
	ret = bench_workers_start();
	if (ret)
		return ret;
	ret = bench_setup_common();
	if (ret) {
		bench_workers_stop();
		return ret;
	}
	pr_info("kprim %s, %u CPUs, %u runs, run_ms %u\n", kprim_version(),
		bench_nworkers, runs, run_ms);
	for (i = 0; i < ARRAY_SIZE(bench_rows); i++)
		if (bench_selected(bench_rows[i].name))
			bench_row_run(&bench_rows[i]);
	pr_info("KPRIM_BENCH_END errors %ld misuse smr %lu psref %lu ltable %lu\n",
		atomic_long_read(&bench_errors), smr_misuse_count(bench_smr),
		psref_misuse_count(bench_psref_class), ltable_misuse_count());
	return 0;
}

static void __exit kprim_bench_exit(void)
{
	if (!bench_workers)
		return;
	bench_workers_stop();
	bench_teardown_common();
}

module_init(kprim_bench_init);
module_exit(kprim_bench_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kprim benchmarks against the Linux primitives they replace");
KPRIM_MODULE_IMPORT_NS();
