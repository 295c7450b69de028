/* Towers of Hanoi: counts moves recursively and outputs the first few as from*10+to. */
extern void output_i32(int);
static int moves;

static void hanoi(int n, int from, int to, int via) {
    if (n == 0) return;
    hanoi(n - 1, from, via, to);
    if (moves < 8) output_i32(from * 10 + to);
    moves++;
    hanoi(n - 1, via, to, from);
}

int run(int n) { moves = 0; hanoi(n, 1, 3, 2); return moves; }
