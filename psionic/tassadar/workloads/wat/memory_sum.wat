;; write i*i as i32 into memory, then sum it back
(module
  (memory (export "memory") 1)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    block $w
      loop $write
        local.get $i
        local.get $n
        i32.ge_u
        br_if $w
        local.get $i
        i32.const 2
        i32.shl
        local.get $i
        local.get $i
        i32.mul
        i32.store offset=16
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $write
      end
    end
    block $r
      loop $read
        local.get $i
        i32.eqz
        br_if $r
        local.get $i
        i32.const 1
        i32.sub
        local.tee $i
        i32.const 2
        i32.shl
        i32.load offset=16
        local.get $s
        i32.add
        local.set $s
        br $read
      end
    end
    local.get $s))
