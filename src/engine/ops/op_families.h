/* op_families.h -- the list of operator families, one per file in ops/.
 * Each OP_FAMILY(x) is a table `const op_desc op_family_x[]` defined in
 * ops/x.c. Adding a family: add a line here and the file; nothing else. */
OP_FAMILY(elementwise)
OP_FAMILY(activation)
OP_FAMILY(reduce)
OP_FAMILY(softmax)
OP_FAMILY(tensor_shape)
OP_FAMILY(tensor_index)
OP_FAMILY(conv)
OP_FAMILY(matmul)
OP_FAMILY(pool)
OP_FAMILY(normalization)
OP_FAMILY(recurrent)
OP_FAMILY(control_flow)
