;; local.tee, drop and nop bookkeeping in a loop
(module
  (func (export "run") (param $n i32) (result i32)
    (local $a i32) (local $b i32)
    loop $l
      nop
      local.get $n
      local.tee $a
      local.get $b
      i32.add
      local.tee $b
      drop
      local.get $a
      i32.const 1
      i32.sub
      local.tee $n
      br_if $l
    end
    local.get $b))
