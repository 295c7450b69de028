;; a checksum over a data segment (string bytes)
(module
  (memory (export "memory") 1)
  (data (i32.const 100) "The quick brown fox jumps over the lazy dog\00")
  (func (export "run") (result i32)
    (local $p i32) (local $h i32) (local $c i32)
    i32.const 100
    local.set $p
    i32.const 5381
    local.set $h
    block $end
      loop $next
        local.get $p
        i32.load8_u
        local.tee $c
        i32.eqz
        br_if $end
        local.get $h
        i32.const 5
        i32.shl
        local.get $h
        i32.add
        local.get $c
        i32.add
        local.set $h
        local.get $p
        i32.const 1
        i32.add
        local.set $p
        br $next
      end
    end
    local.get $h))
