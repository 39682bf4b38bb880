/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim psref: NetBSD passive references (psref(9)) for Linux modules.
 *
 * A passive reference pins an object for a short time on one CPU, without
 * any atomic read-modify-write or shared cache line on acquire and release.
 * Destroying the object is the expensive side: it broadcasts an IPI to
 * find the CPUs still holding it and sleeps until they let go.  See
 * Documentation/psref.rst and the theory comment in module/psref.c.
 */
#ifndef _KPRIM_PSREF_H
#define _KPRIM_PSREF_H

#include <linux/list.h>
#include <linux/types.h>
#include <kprim/kprim.h>
#include <kprim/ipl.h>

struct psref_class;
struct task_struct;

/**
 * struct psref_target - an object that passive references can pin
 * @prt_state: private: life-cycle state (live, draining, drained, destroyed)
 * @prt_class: private: the class the target was initialised in
 *
 * Embed one in each object.  It is kept small because there may be very
 * many objects; the bookkeeping of each reference lives in struct psref.
 * Consumers must not touch the fields.
 */
struct psref_target {
	unsigned int prt_state;
	struct psref_class *prt_class;
};

/**
 * struct psref - one passive reference, on the holder's stack
 * @psref_entry: private: link in the holding CPU's list of the class
 * @psref_target: private: the referenced target
 * @psref_task: private: the task that acquired it (debug checks)
 * @psref_ip: private: the acquire call site (debug reports)
 * @psref_cpu: private: the CPU that holds it
 *
 * Lives from psref_acquire() (or psref_copy()) to psref_release(), on the
 * same CPU and in the same task; its contents need no initialisation.
 */
struct psref {
	struct hlist_node psref_entry;
	const struct psref_target *psref_target;
	struct task_struct *psref_task;
	unsigned long psref_ip;
	int psref_cpu;
};

struct psref_class *psref_class_create(const char *name, int ipl);
void psref_class_destroy(struct psref_class *class);

void psref_target_init(struct psref_target *target, struct psref_class *class);
void psref_target_drain(struct psref_target *target, struct psref_class *class);
void psref_target_destroy(struct psref_target *target, struct psref_class *class);

int psref_acquire(struct psref *psref, const struct psref_target *target,
		  struct psref_class *class);
void psref_release(struct psref *psref, const struct psref_target *target,
		   struct psref_class *class);
void psref_copy(struct psref *pto, const struct psref *pfrom,
		struct psref_class *class);
bool psref_held(const struct psref_target *target, struct psref_class *class);

unsigned long psref_misuse_count(const struct psref_class *class);

#endif /* _KPRIM_PSREF_H */
