;; stores of 8/16/32/64 bits and every load with sign and zero extension
(module
  (memory (export "memory") 1)
  (func (export "run") (param $v i64) (result i64)
    (local $acc i64)
    i32.const 0 local.get $v i64.store
    i32.const 8 local.get $v i64.store32
    i32.const 12 local.get $v i64.store16
    i32.const 14 local.get $v i64.store8
    i32.const 15 local.get $v i32.wrap_i64 i32.store8
    i32.const 16 local.get $v i32.wrap_i64 i32.store16
    i32.const 18 local.get $v i32.wrap_i64 i32.store
    i32.const 1 i32.load8_s i64.extend_i32_s
    i32.const 1 i32.load8_u i64.extend_i32_u i64.add
    i32.const 2 i32.load16_s i64.extend_i32_s i64.add
    i32.const 3 i32.load16_u i64.extend_i32_u i64.add
    i32.const 4 i32.load i64.extend_i32_u i64.add
    i32.const 5 i64.load8_s i64.add
    i32.const 6 i64.load8_u i64.add
    i32.const 7 i64.load16_s i64.add
    i32.const 9 i64.load16_u i64.add
    i32.const 10 i64.load32_s i64.add
    i32.const 11 i64.load32_u i64.add
    i32.const 12 i64.load i64.xor
    i32.const 17 i64.load i64.add))
