/* Bubble sort of values read from the input (a count, then the values); outputs them sorted. */
extern int input_i32(void);
extern void output_i32(int);
static int a[256];

int run(void) {
    int n = input_i32();
    if (n > 256) n = 256;
    for (int i = 0; i < n; i++) a[i] = input_i32();
    int swaps = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j + 1 < n - i; j++)
            if (a[j] > a[j + 1]) { int t = a[j]; a[j] = a[j + 1]; a[j + 1] = t; swaps++; }
    for (int i = 0; i < n; i++) output_i32(a[i]);
    return swaps;
}
