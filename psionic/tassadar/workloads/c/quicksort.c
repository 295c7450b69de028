/* Recursive quicksort of n pseudo-random values; returns 1 if sorted times a checksum. */
static int a[2048];

static void qs(int lo, int hi) {
    while (lo < hi) {
        int p = a[(lo + hi) >> 1], i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) { int t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (j - lo < hi - i) { qs(lo, j); lo = i; } else { qs(i, hi); hi = j; }
    }
}

int run(int n) {
    unsigned x = 2463534242u;
    if (n > 2048) n = 2048;
    for (int i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; a[i] = (int)(x % 100000); }
    qs(0, n - 1);
    int ok = 1, h = 0;
    for (int i = 0; i < n; i++) { if (i && a[i - 1] > a[i]) ok = 0; h = h * 7 + a[i]; }
    return ok ? h : -1;
}
