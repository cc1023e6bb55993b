/* Finding a function in the kernel's vDSO, so that the upper half can
 * call vDSO code (which uses no TLS) through the call table, without the
 * upper glibc ever holding a vDSO pointer that a restart would break. */
#ifndef MANA_VDSO_SYMBOL_H
#define MANA_VDSO_SYMBOL_H

/* The address of NAME in this process's vDSO, or NULL when there is no
 * vDSO or no such symbol. */
void *vdso_symbol(const char *name);

#endif
