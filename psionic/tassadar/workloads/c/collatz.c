/* The start value below n with the longest Collatz chain; returns start * 1000 + length. */
static int chain(unsigned long long x) {
    int len = 1;
    while (x != 1) {
        x = (x & 1) ? 3 * x + 1 : x >> 1;
        len++;
    }
    return len;
}

int run(int n) {
    int best = 1, best_len = 1;
    for (int i = 1; i < n; i++) {
        int len = chain((unsigned long long)i);
        if (len > best_len) { best_len = len; best = i; }
    }
    return best * 1000 + best_len;
}
