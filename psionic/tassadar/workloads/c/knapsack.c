/* 0/1 knapsack by dynamic programming over generated items. */

/* clang lowers zeroing loops to memset; -nostdlib gives none, so the program brings its own. */
void *memset(void *dst, int c, unsigned long n) {
    unsigned char *d = dst;
    for (unsigned long i = 0; i < n; i++) d[i] = (unsigned char)c;
    return dst;
}
static int best[1001];

int run(int items) {
    int cap = 1000;
    for (int c = 0; c <= cap; c++) best[c] = 0;
    for (int i = 0; i < items; i++) {
        int w = (i * 37 + 11) % 97 + 5, v = (i * 53 + 7) % 89 + 1;
        for (int c = cap; c >= w; c--)
            if (best[c - w] + v > best[c]) best[c] = best[c - w] + v;
    }
    return best[cap];
}
