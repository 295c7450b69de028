;; a switch over 0..4 plus default with br_table, summed over a range
(module
  (func $case (param $x i32) (result i32)
    block $default
      block $c3
        block $c2
          block $c1
            block $c0
              local.get $x
              br_table $c0 $c1 $c2 $c3 $default
            end
            i32.const 10
            return
          end
          i32.const 20
          return
        end
        i32.const 30
        return
      end
      i32.const 40
      return
    end
    local.get $x)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    loop $l
      local.get $i
      call $case
      local.get $s
      i32.add
      local.set $s
      local.get $i
      i32.const 1
      i32.add
      local.tee $i
      local.get $n
      i32.lt_s
      br_if $l
    end
    local.get $s))
