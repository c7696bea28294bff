/* cmd_ops.c -- `inferd ops`: lists the operators the engine implements, as
 * the markdown table that docs/ops.md is generated from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/op.h"

typedef struct op_row {
    const char *domain, *type;
    int since, until;
} op_row;

typedef struct op_rows {
    op_row *rows;
    int n, cap;
    int oom;
} op_rows;

static void collect(const op_desc *d, void *ctx) {
    op_rows *r = ctx;
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 256;
        op_row *p = realloc(r->rows, sizeof *p * (size_t)cap);
        if (!p) {
            r->oom = 1;
            return;
        }
        r->rows = p;
        r->cap = cap;
    }
    r->rows[r->n++] = (op_row){d->domain && d->domain[0] ? d->domain : "ai.onnx", d->type,
                               d->since, d->until};
}

static int by_domain_type(const void *a, const void *b) {
    const op_row *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);
    if (!c) c = strcmp(x->type, y->type);
    return c ? c : x->since - y->since;
}

int cmd_ops(int argc, char **argv) {
    if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        printf("usage: inferd ops\n\nPrints the operators the engine implements as a markdown "
               "table (domain, operator, opset versions).\n");
        return 0;
    }
    op_rows r = {0};
    op_registry_foreach(collect, &r);
    if (r.oom) {
        fprintf(stderr, "inferd ops: out of memory\n");
        free(r.rows);
        return 1;
    }
    qsort(r.rows, (size_t)r.n, sizeof *r.rows, by_domain_type);
    printf("| domain | operator | opset versions |\n|---|---|---|\n");
    for (int i = 0; i < r.n; i++) {
        if (r.rows[i].until)
            printf("| %s | %s | %d-%d |\n", r.rows[i].domain, r.rows[i].type, r.rows[i].since,
                   r.rows[i].until);
        else
            printf("| %s | %s | %d+ |\n", r.rows[i].domain, r.rows[i].type, r.rows[i].since);
    }
    printf("\n%d operator versions.\n", r.n);
    free(r.rows);
    return 0;
}
