/* Number of solutions of the n-queens problem, by bitmask backtracking. */
static int solve(int n, unsigned cols, unsigned d1, unsigned d2) {
    unsigned full = (1u << n) - 1;
    if (cols == full) return 1;
    int count = 0;
    unsigned free = ~(cols | d1 | d2) & full;
    while (free) {
        unsigned bit = free & -free;
        free ^= bit;
        count += solve(n, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
    }
    return count;
}

int run(int n) { return solve(n, 0, 0, 0); }
