/* String routines on data-segment strings: length, compare, reverse, upper-case, word count. */
extern void output_i32(int);
static char text[] = "the quick brown fox jumps over the lazy dog";
static const char other[] = "the quick brown cat";
static char buf[64];

static int str_len(const char *s) { int n = 0; while (s[n]) n++; return n; }
static int str_cmp(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return (unsigned char)*a - (unsigned char)*b;
}
static void reverse(char *s) {
    int n = str_len(s);
    for (int i = 0, j = n - 1; i < j; i++, j--) { char t = s[i]; s[i] = s[j]; s[j] = t; }
}
static int words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        if (*s == ' ') in = 0;
        else if (!in) { in = 1; n++; }
    }
    return n;
}

int run(void) {
    int n = str_len(text);
    for (int i = 0; i <= n; i++) buf[i] = text[i];
    reverse(buf);
    for (int i = 0; buf[i]; i++) if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 32);
    output_i32(n);
    output_i32(str_cmp(text, other));
    output_i32(words(text));
    int h = 0;
    for (int i = 0; buf[i]; i++) h = h * 131 + buf[i];
    output_i32(h);
    return buf[0] * 256 + buf[n - 1];
}
