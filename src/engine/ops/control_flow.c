/* control_flow.c -- operator family (being written). */
#include "../op.h"

const op_desc op_family_control_flow[] = {
    {0},
};
