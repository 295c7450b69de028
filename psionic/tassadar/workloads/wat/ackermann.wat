;; Ackermann's function A(m, n), deeply recursive
(module
  (func $ack (param $m i32) (param $n i32) (result i32)
    local.get $m
    i32.eqz
    if
      local.get $n
      i32.const 1
      i32.add
      return
    end
    local.get $n
    i32.eqz
    if
      local.get $m
      i32.const 1
      i32.sub
      i32.const 1
      call $ack
      return
    end
    local.get $m
    i32.const 1
    i32.sub
    local.get $m
    local.get $n
    i32.const 1
    i32.sub
    call $ack
    call $ack)
  (func (export "run") (param $m i32) (param $n i32) (result i32)
    local.get $m
    local.get $n
    call $ack))
