/* C = A * B for n x n integer matrices (n <= 24); returns a checksum of C. */
static int A[24][24], B[24][24], C[24][24];

int run(int n) {
    if (n > 24) n = 24;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) { A[i][j] = (i * 7 + j * 3) % 11 - 5; B[i][j] = (i * 5 + j) % 13 - 6; }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int s = 0;
            for (int k = 0; k < n; k++) s += A[i][k] * B[k][j];
            C[i][j] = s;
        }
    int h = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) h = h * 17 + C[i][j];
    return h;
}
