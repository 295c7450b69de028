;; read values until a zero, output each squared, return their count
(module
  (import "env" "input_i32" (func $in (result i32)))
  (import "env" "output_i32" (func $out (param i32)))
  (func (export "run") (result i32)
    (local $v i32) (local $c i32)
    block $done
      loop $l
        call $in
        local.tee $v
        i32.eqz
        br_if $done
        local.get $v
        local.get $v
        i32.mul
        call $out
        local.get $c
        i32.const 1
        i32.add
        local.set $c
        br $l
      end
    end
    local.get $c))
