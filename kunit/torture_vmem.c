// SPDX-License-Identifier: GPL-2.0
/* Placeholder: replaced by the vmem torture. */
