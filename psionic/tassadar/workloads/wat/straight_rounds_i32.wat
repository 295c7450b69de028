;; straight-line i32: 40 unrolled rounds of a, b = a + b, a - b + 3 (wrapping), no branches
(module
  (func (export "run") (param $a i32) (param $b i32) (result i32)
    (local $t i32)
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.add
    local.set $t
    local.get $a
    local.get $b
    i32.sub
    i32.const 3
    i32.add
    local.set $b
    local.get $t
    local.tee $a
    drop
    local.get $a
    local.get $b
    i32.sub))
