/* graph_edit.h -- what the load-time rewrites (optimize.c, layout_pass.c,
 * fuse_pass.c) share: who reads a value, and dropping nodes.
 *
 * A value is read by node inputs and, through VALUE_OUTER references, by
 * the subgraphs (If/Loop/Scan bodies) a node owns; a rewrite that fuses a
 * value away must see both kinds, or a branch would lose its input.
 *
 *     graph_for_each_read(g, count_one, readers);
 *     ... mark absorbed nodes in dead[] ...
 *     graph_compact(g, dead, new_index);
 */
#ifndef INFERD_GRAPH_EDIT_H
#define INFERD_GRAPH_EDIT_H

#include "graph.h"

/* Calls fn once per read of a value of g: for each node input (in_subgraph
 * 0) and for each outer reference of a subgraph the node owns (1), with the
 * reading node's index. */
typedef void (*graph_read_fn)(void *ctx, int value, int node, int in_subgraph);
void graph_for_each_read(const graph *g, graph_read_fn fn, void *ctx);

/* Drops the nodes marked in dead[] (n_nodes entries), keeping the order;
 * new_index[] (n_nodes entries) receives each node's new index or -1.
 * Recomputes producers and lifetimes. Values only a dropped node produced
 * are left unproduced and unread: the executor never plans memory for them. */
void graph_compact(graph *g, const unsigned char *dead, int *new_index);

#endif
