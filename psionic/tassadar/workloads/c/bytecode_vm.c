/* A small stack-machine interpreter (a switch, compiled to br_table) running a loop program
   that sums i*i for i < n. */
enum { PUSH, LOAD, STORE, ADD, MUL, LT, JZ, JMP, HALT };
static const int prog[] = {
    PUSH, 0, STORE, 0,            /* i = 0 */
    PUSH, 0, STORE, 1,            /* s = 0 */
    LOAD, 0, LOAD, 2, LT, JZ, 34, /* 8: while (i < n) */
    LOAD, 1, LOAD, 0, LOAD, 0, MUL, ADD, STORE, 1, /* s += i*i */
    LOAD, 0, PUSH, 1, ADD, STORE, 0, /* i += 1 */
    JMP, 8,
    LOAD, 1, HALT,
};
static int stack[64];
static int vars[4];

int run(int n) {
    int pc = 0, sp = 0;
    vars[2] = n;
    for (;;) {
        switch (prog[pc]) {
        case PUSH: stack[sp++] = prog[pc + 1]; pc += 2; break;
        case LOAD: stack[sp++] = vars[prog[pc + 1]]; pc += 2; break;
        case STORE: vars[prog[pc + 1]] = stack[--sp]; pc += 2; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; pc++; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; pc++; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; pc++; break;
        case JZ: pc = stack[--sp] ? pc + 2 : prog[pc + 1]; break;
        case JMP: pc = prog[pc + 1]; break;
        case HALT: return stack[sp - 1];
        default: return -1;
        }
    }
}
