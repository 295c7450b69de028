/* Backtracking 9x9 Sudoku solver. Reads 81 cells (0 = blank) through env.input_i32,
   picks the most constrained blank cell first (bitmask candidates), outputs the solved grid
   through env.output_i32 and returns the number of guesses tried (-1: inconsistent givens,
   -2: no solution). */
extern int input_i32(void);
extern void output_i32(int);

static int grid[81];
static unsigned rows[9], cols[9], boxes[9];
static int guesses;

static int box_of(int i) { return (i / 27) * 3 + (i % 9) / 3; }

static int solve(void) {
    int best = -1, best_count = 10;
    unsigned best_mask = 0;
    for (int i = 0; i < 81; i++) {
        if (grid[i]) continue;
        unsigned mask = ~(rows[i / 9] | cols[i % 9] | boxes[box_of(i)]) & 0x3FEu;
        int count = __builtin_popcount(mask);
        if (count == 0) return 0;
        if (count < best_count) { best = i; best_count = count; best_mask = mask; if (count == 1) break; }
    }
    if (best < 0) return 1;
    int r = best / 9, c = best % 9, b = box_of(best);
    while (best_mask) {
        unsigned bit = best_mask & (0u - best_mask);
        best_mask ^= bit;
        guesses++;
        grid[best] = __builtin_ctz(bit);
        rows[r] |= bit; cols[c] |= bit; boxes[b] |= bit;
        if (solve()) return 1;
        rows[r] &= ~bit; cols[c] &= ~bit; boxes[b] &= ~bit;
    }
    grid[best] = 0;
    return 0;
}

int run(void) {
    for (int i = 0; i < 9; i++) rows[i] = cols[i] = boxes[i] = 0;
    guesses = 0;
    for (int i = 0; i < 81; i++) {
        int v = input_i32();
        grid[i] = v;
        if (v < 0 || v > 9) return -1;
        if (!v) continue;
        unsigned bit = 1u << v;
        if ((rows[i / 9] | cols[i % 9] | boxes[box_of(i)]) & bit) return -1;
        rows[i / 9] |= bit; cols[i % 9] |= bit; boxes[box_of(i)] |= bit;
    }
    if (!solve()) return -2;
    for (int i = 0; i < 81; i++) output_i32(grid[i]);
    return guesses;
}
