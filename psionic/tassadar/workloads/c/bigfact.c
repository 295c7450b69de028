/* n! in base 10000 limbs; outputs the leading limbs and returns the number of limbs. */
extern void output_i32(int);
static unsigned limbs[1000];

int run(int n) {
    int len = 1;
    limbs[0] = 1;
    for (int k = 2; k <= n; k++) {
        unsigned carry = 0;
        for (int i = 0; i < len; i++) {
            unsigned v = limbs[i] * (unsigned)k + carry;
            limbs[i] = v % 10000;
            carry = v / 10000;
        }
        while (carry && len < 1000) { limbs[len++] = carry % 10000; carry /= 10000; }
    }
    for (int i = len - 1; i >= 0 && i >= len - 4; i--) output_i32((int)limbs[i]);
    return len;
}
