;; mutable globals of both widths, updated in a loop
(module
  (global $count (mut i32) (i32.const 0))
  (global $acc (mut i64) (i64.const 1))
  (global $step i32 (i32.const 3))
  (func $tick
    global.get $count
    global.get $step
    i32.add
    global.set $count
    global.get $acc
    global.get $count
    i64.extend_i32_u
    i64.mul
    i64.const 1000000007
    i64.rem_u
    global.set $acc)
  (func (export "run") (param $n i32) (result i64)
    block $done
      loop $l
        local.get $n
        i32.eqz
        br_if $done
        call $tick
        local.get $n
        i32.const 1
        i32.sub
        local.set $n
        br $l
      end
    end
    global.get $acc
    global.get $count
    i64.extend_i32_u
    i64.add))
