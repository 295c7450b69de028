;; n! in i64, wrapping past 20!
(module
  (func (export "run") (param $n i32) (result i64)
    (local $acc i64)
    i64.const 1
    local.set $acc
    block $done
      loop $next
        local.get $n
        i32.eqz
        br_if $done
        local.get $acc
        local.get $n
        i64.extend_i32_u
        i64.mul
        local.set $acc
        local.get $n
        i32.const 1
        i32.sub
        local.set $n
        br $next
      end
    end
    local.get $acc))
