/* session.h -- per-instance execution state (private).
 *
 * A session owns everything a run writes: the activation arena laid out by
 * the planner for the largest sizes seen so far (it serves any input shapes
 * whose values fit, and grows when a run outgrows it), the scratch stack,
 * and the sizes recorded during the last run. exec.c walks the graph using it;
 * the model it runs stays immutable. */
#ifndef INFERD_SESSION_H
#define INFERD_SESSION_H

#include "engine.h"
#include "graph.h"
#include "scratch.h"

/* The memory plan: a slot per intermediate value (input_shapes and
 * input_dtypes: those of the run that last grew it). */
typedef struct exec_plan {
    int valid;
    engine_shape *input_shapes;     /* per graph input */
    engine_dtype *input_dtypes;
    size_t *size;                   /* per value: planned bytes, 0 = not in arena */
    size_t *offset;                 /* per value: offset in arena */
    unsigned char *arena;
    size_t arena_size;
} exec_plan;

struct engine_session {
    const engine_model *model;
    const graph *g;
    int threads;
    scratch scratch;
    exec_plan plan;
    size_t *recorded;               /* per value: bytes seen in the last run */
};

#endif
