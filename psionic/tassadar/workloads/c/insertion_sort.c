/* Insertion sort of n pseudo-random values; returns a position-weighted checksum. */
static int a[1024];

int run(int n) {
    unsigned x = 12345;
    if (n > 1024) n = 1024;
    for (int i = 0; i < n; i++) { x = x * 1103515245u + 12345u; a[i] = (int)(x >> 16) % 1000 - 500; }
    for (int i = 1; i < n; i++) {
        int v = a[i], j = i - 1;
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
    int sum = 0;
    for (int i = 0; i < n; i++) sum = sum * 31 + a[i] * (i + 1);
    return sum;
}
