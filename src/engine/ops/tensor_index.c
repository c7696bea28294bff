/* tensor_index.c -- operator family (being written). */
#include "../op.h"

const op_desc op_family_tensor_index[] = {
    {0},
};
