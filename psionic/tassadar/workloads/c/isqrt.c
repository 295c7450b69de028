/* Integer square roots by Newton's method and by the bit-by-bit method; they must agree. */
static unsigned newton(unsigned long long n) {
    if (n < 2) return (unsigned)n;
    unsigned long long x = n, y = (x + 1) / 2;
    while (y < x) { x = y; y = (x + n / x) / 2; }
    return (unsigned)x;
}
static unsigned bitwise(unsigned n) {
    unsigned r = 0, bit = 1u << 30;
    while (bit > n) bit >>= 2;
    while (bit) {
        if (n >= r + bit) { n -= r + bit; r = (r >> 1) + bit; } else r >>= 1;
        bit >>= 2;
    }
    return r;
}

int run(int n) {
    unsigned s = 0;
    for (unsigned k = 0; k < (unsigned)n; k++) {
        unsigned v = k * 2654435761u;
        unsigned a = newton(v), b = bitwise(v);
        if (a != b) return -1;
        s += a;
    }
    return (int)s;
}
