/* Binary search for many keys in a sorted table of squares; returns how many were found. */
static int table[4096];

static int find(int n, int key) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + ((hi - lo) >> 1);
        if (table[mid] == key) return mid;
        if (table[mid] < key) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

int run(int n) {
    if (n > 4096) n = 4096;
    for (int i = 0; i < n; i++) table[i] = i * i;
    int found = 0;
    for (int k = 0; k < 3 * n; k++) if (find(n, k) >= 0) found++;
    return found;
}
