;; straight-line i64: 24 unrolled rounds of x = x + y - z, y = y - x + k (wrapping), no branches
(module
  (func (export "run") (param $x i64) (param $y i64) (result i64)
    (local $z i64)
    i64.const 0x0123456789abcdef
    local.set $z
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 0
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 2177342782468422677
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 4354685564936845354
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 6532028347405268031
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 8709371129873690708
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 1663341875487337577
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 3840684657955760254
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 6018027440424182931
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 8195370222892605608
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 1149340968506252477
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 3326683750974675154
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 5504026533443097831
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 7681369315911520508
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 635340061525167377
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 2812682843993590054
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 4990025626462012731
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 7167368408930435408
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 121339154544082277
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 2298681937012504954
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 4476024719480927631
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 6653367501949350308
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 8830710284417772985
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 1784681030031419854
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub
    local.set $x
    local.get $y
    local.get $x
    i64.sub
    i64.const 3962023812499842531
    i64.add
    local.tee $y
    local.get $z
    i64.add
    local.set $z
    nop
    local.get $x
    local.get $y
    i64.add
    local.get $z
    i64.sub))
