/* Deterministic Miller-Rabin over 32-bit numbers with 64-bit modular exponentiation:
   counts primes in [n, n + 200) and outputs them. */
extern void output_i32(int);

static unsigned long long mulmod(unsigned long long a, unsigned long long b, unsigned long long m) {
    return (a * b) % m;
}
static unsigned long long powmod(unsigned long long b, unsigned long long e, unsigned long long m) {
    unsigned long long r = 1;
    b %= m;
    while (e) { if (e & 1) r = mulmod(r, b, m); b = mulmod(b, b, m); e >>= 1; }
    return r;
}
static int is_prime(unsigned n) {
    if (n < 2) return 0;
    static const unsigned small[] = {2, 3, 5, 7};
    for (int i = 0; i < 4; i++) { if (n == small[i]) return 1; if (n % small[i] == 0) return 0; }
    unsigned d = n - 1; int s = 0;
    while (!(d & 1)) { d >>= 1; s++; }
    for (int i = 0; i < 4; i++) {
        unsigned long long x = powmod(small[i], d, n);
        if (x == 1 || x == n - 1) continue;
        int ok = 0;
        for (int r = 1; r < s; r++) { x = mulmod(x, x, n); if (x == n - 1) { ok = 1; break; } }
        if (!ok) return 0;
    }
    return 1;
}

int run(int n) {
    int count = 0;
    for (unsigned k = (unsigned)n; k < (unsigned)n + 200; k++)
        if (is_prime(k)) { count++; output_i32((int)k); }
    return count;
}
