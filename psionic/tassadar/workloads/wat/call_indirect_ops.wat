;; an operation table dispatched through call_indirect
(module
  (type $binop (func (param i32 i32) (result i32)))
  (table 4 funcref)
  (elem (i32.const 0) $add $sub $mul $xor)
  (func $add (type $binop) local.get 0 local.get 1 i32.add)
  (func $sub (type $binop) local.get 0 local.get 1 i32.sub)
  (func $mul (type $binop) local.get 0 local.get 1 i32.mul)
  (func $xor (type $binop) local.get 0 local.get 1 i32.xor)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    i32.const 1
    local.set $acc
    block $done
      loop $l
        local.get $i
        local.get $n
        i32.ge_u
        br_if $done
        local.get $acc
        local.get $i
        i32.const 7
        i32.add
        local.get $i
        i32.const 3
        i32.and
        call_indirect (type $binop)
        local.set $acc
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $l
      end
    end
    local.get $acc))
