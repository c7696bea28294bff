/* test_pool.c -- the pooling kernels against brute-force loops written here,
 * on random 1-D to 3-D geometries with pads, dilations, strides, partial
 * (ceil-mode) windows and count_include_pad. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/kernels/pool.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static int64_t rnd(int64_t lo, int64_t hi) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (int64_t)(rng % (uint64_t)(hi - lo + 1));
}

/* Brute force for output position o of plane q: walk every kernel tap. */
static void brute(const pool_geom *g, const float *x, int64_t q, const int64_t *o, int count_pad,
                  float *mx, int64_t *arg, float *avg, float *l2) {
    int64_t isz = g->in[0] * g->in[1] * g->in[2], cnt = 0, padded = 0;
    double sum = 0, sq = 0;
    *mx = -INFINITY;
    *arg = -1;
    for (int64_t a = 0; a < g->kernel[0]; a++)
        for (int64_t b = 0; b < g->kernel[1]; b++)
            for (int64_t c = 0; c < g->kernel[2]; c++) {
                int64_t k[3] = {a, b, c}, i[3], inside = 1, in_pad = 1;
                for (int d = 0; d < 3; d++) {
                    i[d] = o[d] * g->stride[d] - g->pad[d] + k[d] * g->dilation[d];
                    inside &= i[d] >= 0 && i[d] < g->in[d];
                    in_pad &= i[d] >= -g->pad[d] && i[d] < g->in[d] + g->pad_end[d];
                }
                padded += in_pad;
                if (!inside) continue;
                int64_t off = (i[0] * g->in[1] + i[1]) * g->in[2] + i[2];
                float v = x[q * isz + off];
                if (v > *mx) *mx = v, *arg = q * isz + off;
                sum += v, sq += (double)v * v, cnt++;
            }
    int64_t div = count_pad ? padded : cnt;
    *avg = div ? (float)(sum / (double)div) : 0.0f;
    *l2 = (float)sqrt(sq);
}

static int check(const pool_geom *g, int count_pad) {
    int64_t isz = g->in[0] * g->in[1] * g->in[2], osz = g->out[0] * g->out[1] * g->out[2];
    float *x = malloc(sizeof(float) * (size_t)(g->planes * isz));
    float *ym = malloc(sizeof(float) * (size_t)(g->planes * osz));
    float *ya = malloc(sizeof(float) * (size_t)(g->planes * osz));
    float *yl = malloc(sizeof(float) * (size_t)(g->planes * osz));
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(g->planes * osz));
    /* Distinct values, so the argmax is unique. */
    for (int64_t i = 0; i < g->planes * isz; i++) x[i] = (float)((i * 7919) % 10007) / 100.0f - 50;
    const pool_kernels *k = pool_kernels_for(ENGINE_FLOAT);
    k->max(g, x, yl, NULL, 0, 0, g->planes); /* the fast path without indices */
    k->max(g, x, ym, idx, 0, 0, g->planes);
    for (int64_t i = 0; i < g->planes * osz; i++)
        if (yl[i] != ym[i]) {
            fprintf(stderr, "max without indices differs at %lld: %g vs %g\n", (long long)i,
                    yl[i], ym[i]);
            free(x), free(ym), free(ya), free(yl), free(idx);
            return 1;
        }
    k->avg(g, x, ya, count_pad, 0, g->planes);
    k->lp(g, x, yl, 2.0, 0, g->planes);
    int bad = 0;
    for (int64_t q = 0; q < g->planes && !bad; q++) {
        int64_t o[3], yi = q * osz;
        for (o[0] = 0; o[0] < g->out[0]; o[0]++)
            for (o[1] = 0; o[1] < g->out[1]; o[1]++)
                for (o[2] = 0; o[2] < g->out[2]; o[2]++, yi++) {
                    float mx, avg, l2;
                    int64_t arg;
                    brute(g, x, q, o, count_pad, &mx, &arg, &avg, &l2);
                    if ((arg >= 0 && (ym[yi] != mx || idx[yi] != arg)) ||
                        fabsf(ya[yi] - avg) > 1e-4f * (1 + fabsf(avg)) ||
                        fabsf(yl[yi] - l2) > 1e-4f * (1 + l2)) {
                        fprintf(stderr,
                                "mismatch at %lld: max %g/%g idx %lld/%lld avg %g/%g l2 %g/%g\n",
                                (long long)yi, ym[yi], mx, (long long)idx[yi], (long long)arg,
                                ya[yi], avg, yl[yi], l2);
                        bad = 1;
                    }
                }
    }
    free(x), free(ym), free(ya), free(yl), free(idx);
    return bad;
}

int main(void) {
    int failures = 0, cases = 0;
    for (int t = 0; t < 300; t++, cases++) {
        pool_geom g = {.planes = rnd(1, 3)};
        int nsp = (int)rnd(1, 3), ceil_mode = (int)rnd(0, 1);
        for (int d = 0; d < 3; d++) {
            g.in[d] = g.out[d] = g.kernel[d] = g.stride[d] = g.dilation[d] = 1;
            g.pad[d] = g.pad_end[d] = 0;
            if (d < 3 - nsp) continue;
            g.in[d] = rnd(1, 9);
            g.kernel[d] = rnd(1, 3);
            g.stride[d] = rnd(1, 3);
            g.dilation[d] = rnd(1, 2);
            g.pad[d] = rnd(0, g.kernel[d] - 1);
            g.pad_end[d] = rnd(0, g.kernel[d] - 1);
            int64_t eff = g.dilation[d] * (g.kernel[d] - 1) + 1;
            int64_t span = g.in[d] + g.pad[d] + g.pad_end[d] - eff;
            if (span < 0) g.in[d] += -span, span = 0;
            g.out[d] = (ceil_mode ? (span + g.stride[d] - 1) : span) / g.stride[d] + 1;
            if (ceil_mode && (g.out[d] - 1) * g.stride[d] >= g.in[d] + g.pad[d]) g.out[d]--;
        }
        failures += check(&g, (int)rnd(0, 1));
    }
    printf("test_pool: %d cases, %d failures\n", cases, failures);
    return failures != 0;
}
