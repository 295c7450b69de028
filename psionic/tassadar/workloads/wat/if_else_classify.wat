;; classify values with nested if/else and accumulate a code
(module
  (func $classify (param $v i32) (result i32)
    local.get $v
    i32.const 0
    i32.lt_s
    if (result i32)
      i32.const 1
    else
      local.get $v
      i32.eqz
      if (result i32)
        i32.const 2
      else
        local.get $v
        i32.const 1
        i32.and
        if (result i32)
          i32.const 3
        else
          i32.const 4
        end
      end
    end)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    local.get $n
    i32.const 0
    i32.sub
    local.set $i
    block $done
      loop $l
        local.get $i
        local.get $n
        i32.gt_s
        br_if $done
        local.get $s
        i32.const 5
        i32.mul
        local.get $i
        call $classify
        i32.add
        local.set $s
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $l
      end
    end
    local.get $s))
