/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim SMR: the types a consumer embeds in its own structures (SMR
 * pointers, SMR queue heads and links, callback nodes, sleepable-section
 * trackers), kept apart from <kprim/smr.h> so a structure definition can
 * include them without pulling in the whole API.
 */
#ifndef _KPRIM_SMR_TYPES_H
#define _KPRIM_SMR_TYPES_H

#include <linux/compiler.h>
#include <linux/list.h>
#include <linux/types.h>

/**
 * typedef smr_seq_t - an SMR clock value (read or write sequence)
 *
 * Sequences advance by %SMR_SEQ_INC from %SMR_SEQ_INIT and wrap around;
 * compare them only with SMR_SEQ_CMP().
 */
typedef unsigned long smr_seq_t;

/** typedef smr_t - an SMR domain (a pointer to &struct smr) */
typedef struct smr *smr_t;

/*
 * SMR_POINTER() - declare a pointer published under SMR
 * @type_t: the pointer type, e.g. ``struct foo *``
 *
 * The member is placed in sparse's __rcu address space, so dereferencing it
 * without one of the smr_*_load() accessors is a sparse warning.  The
 * pointee type must be a complete-able object type (not ``void *``).
 */
#define SMR_POINTER(type_t)						\
	struct {							\
		typeof(*(type_t)0) __rcu *__smr_ptr;			\
	}

struct smrq_slink;
struct smrq_link;

/* The SMR_POINTER()s of queue linkages, named as in XNU. */
typedef struct {
	struct smrq_slink __rcu *__smr_ptr;
} __smrq_slink_t;

typedef struct {
	struct smrq_link __rcu *__smr_ptr;
} __smrq_link_t;

/**
 * struct smrq_slink - a singly linked SMR queue linkage
 * @next: the next element, read under SMR by readers
 */
struct smrq_slink {
	__smrq_slink_t next;
};

/**
 * struct smrq_link - a doubly linked SMR queue linkage (O(1) removal)
 * @next: the next element, read under SMR by readers
 * @prev: the previous element's @next (or the head's first), writers only
 */
struct smrq_link {
	__smrq_link_t next;
	__smrq_link_t *prev;
};

/**
 * struct smrq_slist_head - head of a singly linked list of &struct smrq_slink
 * @first: first element
 */
struct smrq_slist_head {
	__smrq_slink_t first;
};

/**
 * struct smrq_list_head - head of a doubly linked list of &struct smrq_link
 * @first: first element
 */
struct smrq_list_head {
	__smrq_link_t first;
};

/**
 * struct smrq_stailq_head - singly linked tail queue of &struct smrq_slink
 * @first: first element
 * @last: the @next field of the last element, or &@first when empty
 */
struct smrq_stailq_head {
	__smrq_slink_t first;
	__smrq_slink_t *last;
};

/**
 * struct smrq_tailq_head - doubly linked tail queue of &struct smrq_link
 * @first: first element
 * @last: the @next field of the last element, or &@first when empty
 */
struct smrq_tailq_head {
	__smrq_link_t first;
	__smrq_link_t *last;
};

#define SMRQ_SLIST_INITIALIZER		{ .first = { NULL } }
#define SMRQ_LIST_INITIALIZER		{ .first = { NULL } }
#define SMRQ_STAILQ_INITIALIZER(name)	{ .first = { NULL }, .last = &(name).first }
#define SMRQ_TAILQ_INITIALIZER(name)	{ .first = { NULL }, .last = &(name).first }

struct smr_node;

/** typedef smr_node_t - a callback node (a pointer to &struct smr_node) */
typedef struct smr_node *smr_node_t;

/** typedef smr_cb_t - an smr_call() callback, called with its node */
typedef void (*smr_cb_t)(struct smr_node *node);

/**
 * struct smr_node - embedded in an object to retire it with smr_call()
 * @smrn_next: queue linkage, owned by SMR between smr_call() and @smrn_cb
 * @smrn_cb: the callback
 *
 * The node is owned by SMR from smr_call() until its callback runs; the
 * callback usually frees the object containing it.
 */
struct smr_node {
	struct smr_node *smrn_next;
	smr_cb_t smrn_cb;
};

/**
 * struct smr_tracker - state of one sleepable SMR section
 * @smrt_domain: the domain entered
 * @smrt_seq: the write sequence observed at smr_enter_sleepable()
 * @smrt_link: linkage on the per-CPU list of active sections
 * @smrt_task: the task in the section
 * @smrt_cpu: the CPU whose list holds @smrt_link
 *
 * Lives on the caller's stack (or in the caller's object) from
 * smr_enter_sleepable() to smr_leave_sleepable(); the fields are private.
 */
struct smr_tracker {
	struct smr *smrt_domain;
	smr_seq_t smrt_seq;
	struct list_head smrt_link;
	struct task_struct *smrt_task;
	int smrt_cpu;
};

/** typedef smr_tracker_t - a pointer to &struct smr_tracker */
typedef struct smr_tracker *smr_tracker_t;

#endif /* _KPRIM_SMR_TYPES_H */
