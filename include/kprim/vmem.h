/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim vmem: NetBSD's vmem(9) general-purpose resource allocator.
 *
 * vmem hands out ranges of integers (addresses, IDs, device offsets) from
 * arenas; it never touches the resources themselves.  The API is NetBSD's,
 * plus illumos' vmem_walk() and vmem_contains(), FreeBSD's VMEM_MAXFREE and
 * VM_NEXTFIT.  The functions are documented in module/vmem.c; the design in
 * Documentation/vmem.rst.
 *
 * Return values are positive NetBSD-style errno values: 0, ENOMEM, EINVAL.
 */
#ifndef _KPRIM_VMEM_H
#define _KPRIM_VMEM_H

#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/types.h>
#include <kprim/ipl.h>
#include <kprim/kprim.h>

typedef uintptr_t vmem_addr_t;
typedef size_t vmem_size_t;
typedef unsigned int vm_flag_t;
typedef struct vmem vmem_t;

typedef int (vmem_import_t)(void *arg, vmem_size_t size, vm_flag_t flags,
			    vmem_addr_t *addrp);
typedef void (vmem_release_t)(void *arg, vmem_addr_t addr, vmem_size_t size);
typedef int (vmem_ximport_t)(void *arg, vmem_size_t size,
			     vmem_size_t *actualsize, vm_flag_t flags,
			     vmem_addr_t *addrp);

#define VMEM_ADDR_MIN	((vmem_addr_t)0)
#define VMEM_ADDR_MAX	((vmem_addr_t)UINTPTR_MAX)

/* Sleep flags: exactly one per call. */
#define VM_SLEEP	0x00000001u
#define VM_NOSLEEP	0x00000002u
/* Fit strategies: at most one per call (none means VM_INSTANTFIT). */
#define VM_INSTANTFIT	0x00001000u
#define VM_BESTFIT	0x00002000u
#define VM_NEXTFIT	0x00004000u
#define VM_FITMASK	(VM_INSTANTFIT | VM_BESTFIT | VM_NEXTFIT)
/* Accepted for source compatibility; kprim needs no bootstrap mode. */
#define VM_BOOTSTRAP	0x00010000u
#define VM_POPULATING	0x00040000u
/* Import 16 times the needed size from the source. */
#define VM_LARGEIMPORT	0x00080000u
/* Internal: the arena's import function is a vmem_ximport_t. */
#define VM_XIMPORT	0x00100000u

/* vmem_size() and vmem_walk() type masks. */
#define VMEM_ALLOC	0x01
#define VMEM_FREE	0x02
#define VMEM_MAXFREE	0x10
#define VMEM_SPAN	0x20

vmem_t *vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
		    vmem_size_t quantum, vmem_import_t *importfn,
		    vmem_release_t *releasefn, void *arg,
		    vmem_size_t qcache_max, vm_flag_t flags, int ipl);
vmem_t *vmem_xcreate(const char *name, vmem_addr_t base, vmem_size_t size,
		     vmem_size_t quantum, vmem_ximport_t *importfn,
		     vmem_release_t *releasefn, void *arg,
		     vmem_size_t qcache_max, vm_flag_t flags, int ipl);
vmem_t *vmem_init(vmem_t *storage, const char *name, vmem_addr_t base,
		  vmem_size_t size, vmem_size_t quantum,
		  vmem_import_t *importfn, vmem_release_t *releasefn,
		  void *arg, vmem_size_t qcache_max, vm_flag_t flags, int ipl);
void vmem_destroy(vmem_t *vm);

int vmem_add(vmem_t *vm, vmem_addr_t addr, vmem_size_t size, vm_flag_t flags);
int vmem_alloc(vmem_t *vm, vmem_size_t size, vm_flag_t flags,
	       vmem_addr_t *addrp);
void vmem_free(vmem_t *vm, vmem_addr_t addr, vmem_size_t size);
int vmem_xalloc(vmem_t *vm, vmem_size_t size, vmem_size_t align,
		vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
		vmem_addr_t maxaddr, vm_flag_t flags, vmem_addr_t *addrp);
int vmem_xalloc_addr(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
		     vm_flag_t flags);
void vmem_xfree(vmem_t *vm, vmem_addr_t addr, vmem_size_t size);
void vmem_xfreeall(vmem_t *vm);
vmem_size_t vmem_roundup_size(vmem_t *vm, vmem_size_t size);
vmem_size_t vmem_size(vmem_t *vm, int typemask);
void vmem_walk(vmem_t *vm, int typemask,
	       void (*fn)(void *arg, vmem_addr_t start, vmem_size_t size),
	       void *arg);
bool vmem_contains(vmem_t *vm, vmem_addr_t addr, vmem_size_t size);

/* kprim extensions. */
void vmem_qcache_reap(vmem_t *vm);
long vmem_misuse_count(vmem_t *vm);

/*
 * NetBSD consumers build chains of arenas by passing vmem_alloc and
 * vmem_free (or vmem_xfree), whose first argument is a vmem_t *, as the
 * import and release functions of a child arena, with the parent as @arg.
 * These wrappers let that code compile unchanged; vmem recognises the
 * functions and calls them directly, so no call goes through a mismatched
 * function pointer.  A consumer's own function taking a vmem_t * is
 * accepted too, but is then called through vmem_import_t (void *), which
 * kCFI kernels reject: declare such functions with void * instead.  Other
 * function types are a compile error.
 */
#ifndef KPRIM_VMEM_INTERNAL
#define __vmem_importfn(fn)						\
	_Generic((fn),							\
		 typeof(&vmem_alloc) : (vmem_import_t *)(fn),		\
		 vmem_import_t * : (fn),					\
		 void * : (fn))
#define __vmem_releasefn(fn)						\
	_Generic((fn),							\
		 typeof(&vmem_free) : (vmem_release_t *)(fn),		\
		 vmem_release_t * : (fn),				\
		 void * : (fn))
#define vmem_create(name, base, size, quantum, importfn, releasefn, arg, \
		    qcache_max, flags, ipl)				\
	vmem_create(name, base, size, quantum, __vmem_importfn(importfn), \
		    __vmem_releasefn(releasefn), arg, qcache_max, flags, ipl)
#define vmem_init(storage, name, base, size, quantum, importfn,	\
		  releasefn, arg, qcache_max, flags, ipl)		\
	vmem_init(storage, name, base, size, quantum,			\
		  __vmem_importfn(importfn), __vmem_releasefn(releasefn), \
		  arg, qcache_max, flags, ipl)
#endif

#endif /* _KPRIM_VMEM_H */
