/* Backtracking 9x9 Sudoku solver. Reads 81 cells (0 = blank) through env.input_i32, outputs the
   solved grid through env.output_i32 and returns the number of guesses tried (-1: a cell outside
   0..9 or inconsistent givens, -2: no solution).

   Every blank cell keeps its candidate digits as a bit mask (bit d for digit d). Before each
   guess the state is propagated to a fixed point: a cell left with one candidate takes it (naked
   single), a digit with one place left in a row, column or box takes it (hidden single), and a
   digit confined to one line of a box, or to one box of a line, leaves the rest of that line or
   box (locked candidates). Then the blank cell with the fewest candidates is guessed, digit by
   digit, from a copy of the state. Propagation cuts the guesses on Arto Inkala's puzzle from
   13,810 to 48, and its scans are unrolled with constant offsets, because every Wasm instruction
   executed is a step of the trace. */
extern int input_i32(void);
extern void output_i32(int);

/* clang lowers the state copies to memcpy; -nostdlib gives none, so the program brings its own
   (64-bit words: the states are 8-byte aligned and sized). */
void *memcpy(void *dst, const void *src, unsigned long n) {
    unsigned long long *d = dst;
    const unsigned long long *s = src;
    for (unsigned long i = 0; i < n / 8; i++) d[i] = s[i];
    unsigned char *db = (unsigned char *)dst, *sb = (unsigned char *)src;
    for (unsigned long i = n / 8 * 8; i < n; i++) db[i] = sb[i];
    return dst;
}

#define ALL 0x3FEu /* digits 1..9 */

typedef struct {
    unsigned short cand[81];    /* candidates of each blank cell; 0 once placed */
    unsigned short placed[27];  /* digits placed in each row (0..8), column (9..17), box (18..26) */
    unsigned char left;         /* blank cells */
} __attribute__((aligned(8))) State;

static State st;
static State saved[81];         /* the state before each level's guesses */
/* the digits; outside the state: the cells of the solution are written last on its own path */
static unsigned char grid[81];
static unsigned char queue[81]; /* cells left with one candidate, to be placed */
static int queued, guesses;

static const unsigned char ROW[81] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8};
static const unsigned char COL[81] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8};
static const unsigned char BOX[81] = {
    0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 1, 1, 1, 2, 2, 2,
    3, 3, 3, 4, 4, 4, 5, 5, 5, 3, 3, 3, 4, 4, 4, 5, 5, 5, 3, 3, 3, 4, 4, 4, 5, 5, 5,
    6, 6, 6, 7, 7, 7, 8, 8, 8, 6, 6, 6, 7, 7, 7, 8, 8, 8, 6, 6, 6, 7, 7, 7, 8, 8, 8};
static const unsigned char BOX_FIRST[9] = {0, 3, 6, 27, 30, 33, 54, 57, 60};
/* the cells of a row, column and box from its first cell */
static const unsigned char UNIT_OFFSETS[3][9] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8}, {0, 9, 18, 27, 36, 45, 54, 63, 72},
    {0, 1, 2, 9, 10, 11, 18, 19, 20}};

/* Clears ``bit`` (which it holds) from the candidates at ``at``: 0 when none are left. */
static __attribute__((noinline)) int strike(unsigned short *at, unsigned bit) {
    unsigned c = *at ^ bit;
    *at = (unsigned short)c;
    if (!c) return 0;
    if (!(c & (c - 1))) queue[queued++] = (unsigned char)(at - st.cand);
    return 1;
}

#define PEER(o) if ((p[o] & bit) && !strike(p + (o), bit)) return 0;

/* Places digit ``bit`` in blank cell ``i`` and strikes it from the row, column and box. */
static int assign(int i, unsigned bit) {
    if (!(st.cand[i] & bit)) return 0;
    grid[i] = (unsigned char)__builtin_ctz(bit);
    st.cand[i] = 0;
    st.left--;
    int r = ROW[i], c = COL[i], b = BOX[i];
    st.placed[r] |= bit;
    st.placed[9 + c] |= bit;
    st.placed[18 + b] |= bit;
    unsigned short *p = st.cand + 9 * r;
    PEER(0) PEER(1) PEER(2) PEER(3) PEER(4) PEER(5) PEER(6) PEER(7) PEER(8)
    p = st.cand + c;
    PEER(0) PEER(9) PEER(18) PEER(27) PEER(36) PEER(45) PEER(54) PEER(63) PEER(72)
    p = st.cand + BOX_FIRST[b];
    PEER(0) PEER(1) PEER(2) PEER(9) PEER(10) PEER(11) PEER(18) PEER(19) PEER(20)
    return 1;
}

/* Places the queued naked singles (and those they leave): 0 on a contradiction. */
static int drain(void) {
    while (queued) {
        int j = queue[--queued];
        if (!st.cand[j]) continue; /* placed since it was queued */
        if (!assign(j, st.cand[j])) return 0;
    }
    return 1;
}

/* Hidden singles of unit ``u`` (first cell ``first``), given the union of its candidates
   (``once``) and the digits seen twice or more (``twice``): 1 nothing to place, 2 placed,
   0 contradiction (a digit with no place left). */
static int settle(int u, int first, const unsigned char *off, unsigned once, unsigned twice) {
    if (((once | st.placed[u]) & ALL) != ALL) return 0;
    unsigned hidden = once & ~twice;
    if (!hidden) return 1;
    while (hidden) {
        unsigned bit = hidden & (0u - hidden);
        hidden ^= bit;
        int k = 0;
        while (k < 9 && !(st.cand[first + off[k]] & bit)) k++;
        if (k == 9) {
            if (st.placed[u] & bit) continue; /* placed there by an earlier single's cascade */
            return 0;
        }
        if (!assign(first + off[k], bit) || !drain()) return 0;
    }
    return 2;
}

#define SEEN(o) { unsigned c = p[o]; twice |= once & c; once |= c; }
#define UNIT(u, first, kind, o0, o1, o2, o3, o4, o5, o6, o7, o8) { \
    const unsigned short *p = st.cand + (first); \
    unsigned once = 0, twice = 0; \
    SEEN(o0) SEEN(o1) SEEN(o2) SEEN(o3) SEEN(o4) SEEN(o5) SEEN(o6) SEEN(o7) SEEN(o8) \
    if ((once & ~twice) || ((once | st.placed[u]) & ALL) != ALL) { \
        int s = settle(u, first, UNIT_OFFSETS[kind], once, twice); \
        if (!s) return -1; \
        changed |= s == 2; } }

/* One scan of the 27 units for hidden singles: 1 something placed, 0 nothing, -1 contradiction. */
static __attribute__((noinline)) int hidden_pass(void) {
    int changed = 0;
    for (int r = 0; r < 9; r++) UNIT(r, 9 * r, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8)
    for (int c = 0; c < 9; c++) UNIT(9 + c, c, 1, 0, 9, 18, 27, 36, 45, 54, 63, 72)
    for (int b = 0; b < 9; b++) UNIT(18 + b, BOX_FIRST[b], 2, 0, 1, 2, 9, 10, 11, 18, 19, 20)
    return changed;
}

/* Strikes ``bits`` from the candidates of ``cell``: 0 on a contradiction. */
static int strike_all(int cell, unsigned bits) {
    unsigned hit = st.cand[cell] & bits;
    while (hit) {
        unsigned b = hit & (0u - hit);
        hit ^= b;
        if (!strike(st.cand + cell, b)) return 0;
    }
    return 1;
}

/* Locked candidates in a band: three lines (rows or columns) across three boxes, cell m (0..8)
   of line k (0..2) at ``first + k * line_step + m * cell_step``. Strikes ``pointing`` from line
   ``k`` outside box ``j`` and ``claiming`` from box ``j`` outside line ``k``: 0 on a
   contradiction. */
static int lock(int first, int line_step, int cell_step, int k, int j, unsigned pointing,
                unsigned claiming) {
    for (int kk = 0; kk < 3; kk++)
        for (int m = 0; m < 9; m++) {
            int in_box = m / 3 == j, on_line = kk == k;
            unsigned bits = (on_line && !in_box ? pointing : 0) |
                            (in_box && !on_line ? claiming : 0);
            if (bits && !strike_all(first + kk * line_step + m * cell_step, bits)) return 0;
        }
    return 1;
}

/* s<k><j>: the union of the candidates of line k of the band within box j. A digit of s<k><j>
   in no other line of box j but elsewhere on line k leaves the rest of line k (pointing); one in
   no other box of line k but elsewhere in box j leaves the rest of box j (claiming). */
#define SLICE(k, j, a, b, c) unsigned s##k##j = p[a] | p[b] | p[c];
#define LOCK(k, j, k1, k2, j1, j2) { \
    unsigned line_rest = s##k##j1 | s##k##j2, box_rest = s##k1##j | s##k2##j; \
    unsigned pointing = s##k##j & line_rest & ~box_rest; \
    unsigned claiming = s##k##j & box_rest & ~line_rest; \
    if (pointing | claiming) \
        return lock(first, LINE_STEP, CELL_STEP, k, j, pointing, claiming) ? 1 : -1; }
#define LOCK_BAND \
    LOCK(0, 0, 1, 2, 1, 2) LOCK(0, 1, 1, 2, 0, 2) LOCK(0, 2, 1, 2, 0, 1) \
    LOCK(1, 0, 0, 2, 1, 2) LOCK(1, 1, 0, 2, 0, 2) LOCK(1, 2, 0, 2, 0, 1) \
    LOCK(2, 0, 0, 1, 1, 2) LOCK(2, 1, 0, 1, 0, 2) LOCK(2, 2, 0, 1, 0, 1) \
    return 0;

/* 1: something struck (the first finding only), 0: nothing, -1: contradiction */
#define LINE_STEP 9
#define CELL_STEP 1
static int locked_rows(int first) {
    const unsigned short *p = st.cand + first;
    SLICE(0, 0, 0, 1, 2) SLICE(0, 1, 3, 4, 5) SLICE(0, 2, 6, 7, 8)
    SLICE(1, 0, 9, 10, 11) SLICE(1, 1, 12, 13, 14) SLICE(1, 2, 15, 16, 17)
    SLICE(2, 0, 18, 19, 20) SLICE(2, 1, 21, 22, 23) SLICE(2, 2, 24, 25, 26)
    LOCK_BAND
}
#undef LINE_STEP
#undef CELL_STEP
#define LINE_STEP 1
#define CELL_STEP 9
static int locked_cols(int first) {
    const unsigned short *p = st.cand + first;
    SLICE(0, 0, 0, 9, 18) SLICE(0, 1, 27, 36, 45) SLICE(0, 2, 54, 63, 72)
    SLICE(1, 0, 1, 10, 19) SLICE(1, 1, 28, 37, 46) SLICE(1, 2, 55, 64, 73)
    SLICE(2, 0, 2, 11, 20) SLICE(2, 1, 29, 38, 47) SLICE(2, 2, 56, 65, 74)
    LOCK_BAND
}

static int locked_pass(void) {
    for (int band = 0; band < 3; band++) {
        int s = locked_rows(27 * band);
        if (s) return s;
        s = locked_cols(3 * band);
        if (s) return s;
    }
    return 0;
}

/* Singles, then locked candidates, to a fixed point: 0 on a contradiction. */
static int propagate(void) {
    if (!drain()) return 0;
    int changed = 1;
    for (;;) {
        while (changed > 0 && st.left) changed = hidden_pass();
        if (changed < 0) return 0;
        if (!st.left) return 1;
        changed = locked_pass();
        if (changed < 0 || !drain()) return 0;
        if (!changed) return 1;
    }
}

static int solve(int depth) {
    if (!propagate()) return 0;
    if (!st.left) return 1;
    int best = 0, best_count = 10;
    for (int i = 0; i < 81; i++) {
        unsigned c = st.cand[i];
        if (!c) continue;
        int n = __builtin_popcount(c);
        if (n < best_count) {
            best = i;
            best_count = n;
            if (n == 2) break; /* propagation leaves no single */
        }
    }
    unsigned mask = st.cand[best];
    saved[depth] = st;
    while (mask) {
        unsigned bit = mask & (0u - mask);
        mask ^= bit;
        guesses++;
        queued = 0;
        if (assign(best, bit) && solve(depth + 1)) return 1;
        st = saved[depth];
    }
    return 0;
}

int run(void) {
    guesses = 0;
    queued = 0;
    st.left = 0;
    for (int u = 0; u < 27; u++) st.placed[u] = 0;
    for (int i = 0; i < 81; i++) {
        int v = input_i32();
        if (v < 0 || v > 9) return -1;
        grid[i] = (unsigned char)v;
        if (!v) {
            st.left++;
            continue;
        }
        unsigned bit = 1u << v;
        unsigned short *r = &st.placed[ROW[i]], *c = &st.placed[9 + COL[i]],
                       *b = &st.placed[18 + BOX[i]];
        if ((*r | *c | *b) & bit) return -1;
        *r |= bit;
        *c |= bit;
        *b |= bit;
    }
    for (int i = 0; i < 81; i++) {
        unsigned c = 0;
        if (!grid[i]) {
            c = ~(st.placed[ROW[i]] | st.placed[9 + COL[i]] | st.placed[18 + BOX[i]]) & ALL;
            if (!c) return -2;
            if (!(c & (c - 1))) queue[queued++] = (unsigned char)i;
        }
        st.cand[i] = (unsigned short)c;
    }
    if (!solve(0)) return -2;
    for (int i = 0; i < 81; i++) output_i32(grid[i]);
    return guesses;
}
