;; traps: integer division by zero inside a loop
(module
  (func (export "run") (param $n i32) (result i32)
    (local $s i32)
    loop $l
      i32.const 100
      local.get $n
      i32.div_u
      local.get $s
      i32.add
      local.set $s
      local.get $n
      i32.const 1
      i32.sub
      local.tee $n
      i32.const -1
      i32.ne
      br_if $l
    end
    local.get $s))
