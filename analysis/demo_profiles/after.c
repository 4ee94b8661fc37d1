/* Runyard demo, AFTER the optimisation: the same particles as two contiguous arrays (structure of
 * arrays), so the hot loop streams memory and gcc -O3 -mavx2 -mfma vectorizes it (ymm FMA).
 * count_above() is unchanged. */
#include <stdio.h>
#include <stdlib.h>

#define N (1 << 18)
#define STEPS 8

struct particles {
    float *x, *v;
};

static unsigned long seed = 12345;
static unsigned long next_random(void) {
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    return seed >> 33;
}

__attribute__((noipa)) void build_particles(struct particles *p, long n) {
    p->x = malloc(n * sizeof *p->x);
    p->v = malloc(n * sizeof *p->v);
    for (long i = 0; i < n; i++) {
        p->x[i] = (float)i;
        p->v[i] = (float)(i % 7) * 0.5f;
    }
}

__attribute__((noipa)) float update_particles(struct particles *p, long n, float dt) {
    float *restrict x = p->x;
    const float *restrict v = p->v;
    for (long i = 0; i < n; i++) x[i] += v[i] * dt;
    float sum = 0.0f;
    for (long i = 0; i < n; i++) sum += x[i];
    return sum;
}

__attribute__((noipa)) long count_above(const unsigned *values, long n, unsigned limit) {
    long count = 0;
    for (long i = 0; i < n; i++) {
        if (values[i] > limit) {
            __asm__ volatile(""); /* keeps a real branch: no cmov/adc */
            count++;
        }
    }
    return count;
}

int main(void) {
    unsigned *values = malloc(N * sizeof *values);
    for (long i = 0; i < N; i++) values[i] = (unsigned)next_random();
    struct particles p;
    build_particles(&p, N);
    float sum = 0.0f;
    long above = 0;
    for (int s = 0; s < STEPS; s++) {
        sum += update_particles(&p, N, 0.01f);
        above += count_above(values, N, 1u << 30);
    }
    printf("%.1f %ld\n", sum, above);
    free(values);
    free(p.x);
    free(p.v);
    return 0;
}
