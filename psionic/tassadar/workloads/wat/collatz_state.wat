;; Collatz steps as a state machine driven by br_table
(module
  (func (export "run") (param $n i32) (result i32)
    (local $steps i32)
    block $done
      loop $l
        block $odd
          block $even
            block $one
              local.get $n
              i32.const 1
              i32.eq
              if (result i32)
                i32.const 0
              else
                local.get $n
                i32.const 1
                i32.and
                i32.const 1
                i32.add
              end
              br_table $one $even $odd
            end
            br $done
          end
          local.get $n
          i32.const 1
          i32.shr_u
          local.set $n
          local.get $steps
          i32.const 1
          i32.add
          local.set $steps
          br $l
        end
        local.get $n
        i32.const 3
        i32.mul
        i32.const 1
        i32.add
        local.set $n
        local.get $steps
        i32.const 1
        i32.add
        local.set $steps
        br $l
      end
    end
    local.get $steps))
