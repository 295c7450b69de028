/* Length of the longest common subsequence of two generated strings of length n (<= 200). */

/* clang lowers zeroing loops to memset; -nostdlib gives none, so the program brings its own. */
void *memset(void *dst, int c, unsigned long n) {
    unsigned char *d = dst;
    for (unsigned long i = 0; i < n; i++) d[i] = (unsigned char)c;
    return dst;
}
static unsigned short row[2][201];
static char s[200], t[200];

int run(int n) {
    if (n > 200) n = 200;
    for (int i = 0; i < n; i++) { s[i] = (char)('a' + (i * 7) % 5); t[i] = (char)('a' + (i * 3 + 1) % 4); }
    for (int j = 0; j <= n; j++) row[0][j] = 0;
    for (int i = 1; i <= n; i++) {
        unsigned short *cur = row[i & 1], *prev = row[(i - 1) & 1];
        cur[0] = 0;
        for (int j = 1; j <= n; j++) {
            if (s[i - 1] == t[j - 1]) cur[j] = prev[j - 1] + 1;
            else cur[j] = prev[j] > cur[j - 1] ? prev[j] : cur[j - 1];
        }
    }
    return row[n & 1][n];
}
