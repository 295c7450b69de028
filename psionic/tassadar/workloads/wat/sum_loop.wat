;; sum of 1..n with a counted loop
(module
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    block $done
      loop $next
        local.get $i
        local.get $n
        i32.ge_s
        br_if $done
        local.get $i
        i32.const 1
        i32.add
        local.tee $i
        local.get $s
        i32.add
        local.set $s
        br $next
      end
    end
    local.get $s))
