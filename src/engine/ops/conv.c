/* conv.c -- operator family (being written). */
#include "../op.h"

const op_desc op_family_conv[] = {
    {0},
};
