/* planner.h -- assigns activation buffers offsets in one arena (private).
 *
 * Given each buffer's size and lifetime [first, last] (node indices, both
 * inclusive), places buffers whose lifetimes overlap at disjoint offsets and
 * lets buffers whose lifetimes do not overlap share memory. Greedy by size,
 * largest first, lowest fitting offset: the classic heuristic that ORT and
 * TFLite's arena planners use, within a few percent of optimal on CNNs.
 *
 *     planner_item items[3] = {{.size = 4096, .first = 0, .last = 1}, ...};
 *     size_t arena;
 *     if (planner_assign(items, 3, &arena)) ... out of memory ...
 *     ... items[i].offset is 64-byte aligned, arena is the total size ...
 */
#ifndef INFERD_PLANNER_H
#define INFERD_PLANNER_H

#include <stddef.h>

typedef struct planner_item {
    size_t size;        /* bytes; 0 = not planned (offset left 0) */
    int first, last;    /* lifetime in node indices, inclusive */
    size_t offset;      /* out */
} planner_item;

/* Returns 0, or -1 if temporary memory could not be allocated. */
int planner_assign(planner_item *items, int n, size_t *arena_size);

#endif
