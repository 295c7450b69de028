;; blocks with results, branches that keep a value and drop others, multi-value blocks
(module
  (type $pair (func (param i32 i32) (result i32 i32)))
  (func $swap (param i32 i32) (result i32 i32)
    local.get 1
    local.get 0)
  (func (export "run") (param $x i32) (result i32)
    (local $a i32)
    block $outer (result i32)
      i32.const 7
      i32.const 8
      block $inner (result i32)
        i32.const 1
        i32.const 2
        local.get $x
        local.get $x
        br_if $inner
        drop
        drop
      end
      i32.add
      i32.add
      local.get $x
      i32.const 5
      i32.gt_s
      br_if $outer
      i32.const 100
      i32.add
    end
    local.set $a
    local.get $a
    i32.const 3
    block $mv (type $pair) (param i32 i32) (result i32 i32)
      call $swap
    end
    i32.sub))
