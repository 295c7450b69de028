;; count pairs (i, j) with i < j < n and (i*j) % 3 == 1
(module
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $c i32)
    loop $outer
      local.get $i
      i32.const 1
      i32.add
      local.set $j
      block $inner_done
        loop $inner
          local.get $j
          local.get $n
          i32.ge_u
          br_if $inner_done
          local.get $i
          local.get $j
          i32.mul
          i32.const 3
          i32.rem_u
          i32.const 1
          i32.eq
          local.get $c
          i32.add
          local.set $c
          local.get $j
          i32.const 1
          i32.add
          local.set $j
          br $inner
        end
      end
      local.get $i
      i32.const 1
      i32.add
      local.tee $i
      local.get $n
      i32.lt_u
      br_if $outer
    end
    local.get $c))
