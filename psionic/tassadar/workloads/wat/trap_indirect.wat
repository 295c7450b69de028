;; traps: call_indirect to a null slot, a wrong type, or past the table
(module
  (type $unary (func (param i32) (result i32)))
  (type $nullary (func (result i32)))
  (table 5 funcref)
  (elem (i32.const 0) $inc $seven)
  (func $inc (type $unary) local.get 0 i32.const 1 i32.add)
  (func $seven (type $nullary) i32.const 7)
  (func (export "run") (param $k i32) (result i32)
    i32.const 41
    local.get $k
    call_indirect (type $unary)))
