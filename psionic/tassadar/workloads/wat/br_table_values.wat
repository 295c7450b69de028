;; br_table carrying a value out of nested blocks (stack unwinding with a kept value)
(module
  (func $pick (param $k i32) (result i32)
    block $b0 (result i32)
      block $b1 (result i32)
        block $b2 (result i32)
          i32.const 111
          i32.const 222
          i32.const 333
          local.get $k
          i32.const 100
          i32.add
          local.get $k
          br_table $b0 $b1 $b2 $b0
        end
        i32.const 2
        i32.add
        return
      end
      i32.const 1
      i32.add
      return
    end
    i32.const 1000
    i32.add)
  (func (export "run") (result i32)
    i32.const 0 call $pick
    i32.const 1 call $pick i32.add
    i32.const 2 call $pick i32.add
    i32.const 9 call $pick i32.add))
