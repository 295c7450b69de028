;; read n, then n values; output the running sums; return the total
(module
  (import "env" "input_i32" (func $in (result i32)))
  (import "env" "output_i32" (func $out (param i32)))
  (func (export "run") (result i32)
    (local $n i32) (local $s i32)
    call $in
    local.set $n
    block $done
      loop $l
        local.get $n
        i32.eqz
        br_if $done
        local.get $s
        call $in
        i32.add
        local.tee $s
        call $out
        local.get $n
        i32.const 1
        i32.sub
        local.set $n
        br $l
      end
    end
    local.get $s))
