/* Runyard demo, BEFORE the optimisation: particles live in a linked list of 64-byte nodes scattered
 * over 16 MiB, so the hot loop chases pointers (one cache miss per particle, nothing to vectorize).
 * count_above() is the same in both programs: a data-dependent branch on random values. */
#include <stdio.h>
#include <stdlib.h>

#define N (1 << 18)
#define STEPS 8

struct node {
    struct node *next;
    float x, v;
    char pad[48]; /* the rest of a 64-byte record: other fields the loop does not use */
};

static unsigned long seed = 12345;
static unsigned long next_random(void) {
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    return seed >> 33;
}

__attribute__((noipa)) struct node *build_particles(struct node *pool, long n) {
    long *order = malloc(n * sizeof *order);
    for (long i = 0; i < n; i++) order[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = next_random() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (long i = 0; i < n; i++) {
        struct node *p = &pool[order[i]];
        p->x = (float)i;
        p->v = (float)(i % 7) * 0.5f;
        p->next = i + 1 < n ? &pool[order[i + 1]] : NULL;
    }
    struct node *head = &pool[order[0]];
    free(order);
    return head;
}

__attribute__((noipa)) float update_particles(struct node *head, float dt) {
    float sum = 0.0f;
    for (struct node *p = head; p; p = p->next) {
        p->x += p->v * dt;
        sum += p->x;
    }
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
    struct node *pool = malloc(N * sizeof *pool);
    unsigned *values = malloc(N * sizeof *values);
    for (long i = 0; i < N; i++) values[i] = (unsigned)next_random();
    struct node *head = build_particles(pool, N);
    float sum = 0.0f;
    long above = 0;
    for (int s = 0; s < STEPS; s++) {
        sum += update_particles(head, 0.01f);
        above += count_above(values, N, 1u << 30);
    }
    printf("%.1f %ld\n", sum, above);
    free(values);
    free(pool);
    return 0;
}
