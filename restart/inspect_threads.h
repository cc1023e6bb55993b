/* mana-inspect --threads: the thread records of an image, decoded as the
 * restart decodes them (lower-half/ckpt_state.c), with the main thread's
 * process record: current directory, signal actions, interval timers and
 * open files. */
#ifndef MANA_INSPECT_THREADS_H
#define MANA_INSPECT_THREADS_H

#include "image_reader.h"

/* Prints LIST to stdout. 0, or -1 when a record does not decode (the
 * reason is printed on stderr). */
int inspect_print_threads(const struct image_thread_list *list);

#endif
