/* clz, ctz and popcount builtins (i32 and i64) over a pseudo-random sequence. */
int run(int n) {
    unsigned long long x = 0x9E3779B97F4A7C15ull;
    unsigned acc = 0;
    for (int i = 0; i < n; i++) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        unsigned lo = (unsigned)x;
        acc += (unsigned)__builtin_popcountll(x) * 3u;
        acc ^= lo ? (unsigned)__builtin_clz(lo) : 32u;
        acc += lo ? (unsigned)__builtin_ctz(lo) : 32u;
        acc = (acc << 5) | (acc >> 27);
        acc += x ? (unsigned)__builtin_ctzll(x) : 64u;
    }
    return (int)acc;
}
