/* activation.c -- operator family (being written). */
#include "../op.h"

const op_desc op_family_activation[] = {
    {0},
};
