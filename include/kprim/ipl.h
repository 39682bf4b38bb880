/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NetBSD interrupt priority levels, as kprim maps them onto Linux contexts.
 *
 * NetBSD code passes an IPL to say from which contexts an object is used;
 * the object's lock then blocks exactly those contexts.  On Linux:
 *
 * ==================  ==========================================  ==========
 * IPL                 users may run in                            lock taken
 * ==================  ==========================================  ==========
 * IPL_NONE            process context only                        spin_lock
 * IPL_SOFTCLOCK ..    process or softirq (BH) context             spin_lock_bh
 * IPL_SOFTSERIAL
 * IPL_VM .. IPL_HIGH  any context, including hard interrupts      irqsave
 * ==================  ==========================================  ==========
 */
#ifndef _KPRIM_IPL_H
#define _KPRIM_IPL_H

#include <linux/types.h>

#define IPL_NONE	0
#define IPL_SOFTCLOCK	1
#define IPL_SOFTBIO	2
#define IPL_SOFTNET	3
#define IPL_SOFTSERIAL	4
#define IPL_VM		5
#define IPL_SCHED	6
#define IPL_HIGH	7

/**
 * kprim_ipl_valid() - is @ipl one of the IPL_* constants?
 * @ipl: value passed by a consumer
 *
 * Return: true if @ipl is between %IPL_NONE and %IPL_HIGH.
 */
static inline bool kprim_ipl_valid(int ipl)
{
	return ipl >= IPL_NONE && ipl <= IPL_HIGH;
}

/**
 * kprim_ipl_is_soft() - does @ipl denote softirq users (spin_lock_bh)?
 * @ipl: a valid IPL
 *
 * Return: true for %IPL_SOFTCLOCK to %IPL_SOFTSERIAL.
 */
static inline bool kprim_ipl_is_soft(int ipl)
{
	return ipl >= IPL_SOFTCLOCK && ipl <= IPL_SOFTSERIAL;
}

/**
 * kprim_ipl_is_hard() - does @ipl denote hard-IRQ users (spin_lock_irqsave)?
 * @ipl: a valid IPL
 *
 * Return: true for %IPL_VM and above.
 */
static inline bool kprim_ipl_is_hard(int ipl)
{
	return ipl >= IPL_VM;
}

#endif /* _KPRIM_IPL_H */
