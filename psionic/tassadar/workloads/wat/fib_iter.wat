;; iterative Fibonacci in i64
(module
  (func (export "run") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    i64.const 1
    local.set $b
    block $done
      loop $step
        local.get $n
        i32.eqz
        br_if $done
        local.get $a
        local.get $b
        i64.add
        local.set $t
        local.get $b
        local.set $a
        local.get $t
        local.set $b
        local.get $n
        i32.const -1
        i32.add
        local.set $n
        br $step
      end
    end
    local.get $a))
