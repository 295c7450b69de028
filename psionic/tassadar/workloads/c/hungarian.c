/* Hungarian algorithm (Kuhn-Munkres with potentials, O(n^3)) for a min-cost perfect
   matching. Reads n (<= 10) and then the n*n cost matrix row by row through env.input_i32;
   outputs the column matched to each row and returns the minimal total cost. */

/* clang lowers zeroing loops to memset; -nostdlib gives none, so the program brings its own. */
void *memset(void *dst, int c, unsigned long n) {
    unsigned char *d = dst;
    for (unsigned long i = 0; i < n; i++) d[i] = (unsigned char)c;
    return dst;
}
extern int input_i32(void);
extern void output_i32(int);

#define MAXN 10
#define INF 0x3fffffff
static int a[MAXN + 1][MAXN + 1];
static int u[MAXN + 1], v[MAXN + 1], p[MAXN + 1], way[MAXN + 1], minv[MAXN + 1];
static char used[MAXN + 1];
static int match[MAXN + 1];

int run(void) {
    int n = input_i32();
    if (n < 1 || n > MAXN) return -1;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++) a[i][j] = input_i32();
    for (int j = 0; j <= n; j++) { u[j] = v[j] = p[j] = way[j] = 0; }
    for (int i = 1; i <= n; i++) {
        p[0] = i;
        int j0 = 0;
        for (int j = 0; j <= n; j++) { minv[j] = INF; used[j] = 0; }
        do {
            used[j0] = 1;
            int i0 = p[j0], delta = INF, j1 = 0;
            for (int j = 1; j <= n; j++) {
                if (used[j]) continue;
                int cur = a[i0][j] - u[i0] - v[j];
                if (cur < minv[j]) { minv[j] = cur; way[j] = j0; }
                if (minv[j] < delta) { delta = minv[j]; j1 = j; }
            }
            for (int j = 0; j <= n; j++) {
                if (used[j]) { u[p[j]] += delta; v[j] -= delta; }
                else minv[j] -= delta;
            }
            j0 = j1;
        } while (p[j0] != 0);
        do { int j1 = way[j0]; p[j0] = p[j1]; j0 = j1; } while (j0);
    }
    int cost = 0;
    for (int j = 1; j <= n; j++) match[p[j]] = j;
    for (int i = 1; i <= n; i++) { output_i32(match[i] - 1); cost += a[i][match[i]]; }
    return cost;
}
