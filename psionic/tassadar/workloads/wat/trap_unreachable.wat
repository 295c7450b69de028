;; traps: unreachable after some work
(module
  (func (export "run") (param $x i32) (result i32)
    local.get $x
    i32.const 3
    i32.gt_s
    if
      unreachable
    end
    local.get $x))
