/* The application's threads as libmana lists them for the checkpoint
 * (thread_wrappers.c). */
#ifndef MANA_UPPER_THREADS_H
#define MANA_UPPER_THREADS_H

/* Lists the calling thread, the process's first, from libmana's
 * constructor; every later thread is listed by pthread_create. */
void mana_threads_register_first(void);

#endif
