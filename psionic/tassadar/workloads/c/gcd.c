/* Sum of gcd(i, j) over 1 <= i, j <= n, by Euclid's algorithm. */
static unsigned gcd(unsigned a, unsigned b) {
    while (b) { unsigned t = a % b; a = b; b = t; }
    return a;
}

int run(int n) {
    unsigned s = 0;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= n; j++)
            s += gcd((unsigned)i, (unsigned)j);
    return (int)s;
}
