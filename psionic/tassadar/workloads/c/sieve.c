/* Sieve of Eratosthenes below n (n <= 20000): outputs the largest prime, returns the count. */
extern void output_i32(int);
static unsigned char composite[20000];

int run(int n) {
    int count = 0, last = 0;
    if (n > 20000) n = 20000;
    for (int i = 2; i < n; i++) {
        if (composite[i]) continue;
        count++;
        last = i;
        for (int j = i * i; j < n; j += i) composite[j] = 1;
    }
    output_i32(last);
    return count;
}
