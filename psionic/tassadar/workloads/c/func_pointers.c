/* Function pointers (call_indirect): fold a sequence through a table of operations. */
typedef int (*op_fn)(int, int);
static int op_add(int a, int b) { return a + b; }
static int op_sub(int a, int b) { return a - b; }
static int op_mul(int a, int b) { return a * b; }
static int op_max(int a, int b) { return a > b ? a : b; }
static int op_min(int a, int b) { return a < b ? a : b; }
static op_fn ops[] = {op_add, op_sub, op_mul, op_max, op_min};

int run(int n) {
    int acc = 1;
    for (int i = 0; i < n; i++) acc = ops[(i * 7 + 3) % 5](acc, i - n / 2) % 100003;
    return acc;
}
