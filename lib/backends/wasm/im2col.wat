;; Patch matrices for convolutions done as matrix products (lib/backends/native_conv.ts),
;; on float32 NHWC arrays in the tfjs wasm backend's heap (the memory is
;; imported; every address is a byte offset into it, 4-byte aligned).
;;
;; Row r of the patch matrix is output pixel r (image b = r / (oh*ow), then
;; row oy, column ox) and holds its kh x kw window, tap-major: for kernel row
;; i and column j, the c channels of input pixel (oy*sh - top + i,
;; ox*sw - left + j), or zeros where that pixel is outside the input. So a row
;; is kh*kw*c floats, in the order of a tfjs filter [kh, kw, c, co]. With no
;; dilation the kw taps of one kernel row are kw consecutive input pixels,
;; copied at once when all are inside.
;;
;; im2col writes rows [row0, row0 + rows) to dst; col2imAdd adds such rows
;; back into the pixels they came from (the transpose of im2col), so that
;; dx = col2imAdd(dy · Wᵀ).
;;
;; Compiled by tasks/build_wasm.ts (deno task build:wasm) into lib/backends/wasm_im2col_binary.ts.
(module
  (import "env" "memory" (memory 1))

  ;; dst[0 .. bytes) += src[0 .. bytes), bytes a multiple of 4.
  (func $addInto (param $dst i32) (param $src i32) (param $bytes i32)
    (local $end i32) (local $vend i32)
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    ;; Addresses are unsigned (the heap may pass 2 GiB); bytes >= 16 or the
    ;; vector loop is skipped.
    (local.set $vend (if (result i32) (i32.ge_u (local.get $bytes) (i32.const 16))
      (then (i32.sub (local.get $end) (i32.const 15)))
      (else (local.get $dst))))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $dst) (local.get $vend)))
        (v128.store align=4 (local.get $dst)
          (f32x4.add (v128.load align=4 (local.get $dst)) (v128.load align=4 (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $v)))
    (block $done
      (loop $s
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst)
          (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $s))))

  ;; One kernel row of one patch row: kw taps starting at input column ix0 of
  ;; input row `rowAddr` (the address of pixel (iy, 0) of the image; `inside` is 0
  ;; when iy is outside). mode 0 copies input -> patch, mode 1 adds patch -> input.
  ;; Addresses are unsigned: the heap may be larger than 2 GiB.
  (func $kernelRow (param $x i32) (param $rowAddr i32) (param $inside i32) (param $ix0 i32) (param $w i32)
    (param $cb i32) (param $kw i32) (param $patch i32) (param $mode i32)
    (local $j i32) (local $ix i32) (local $px i32) (local $pp i32)
    (if (i32.eqz (local.get $inside))
      (then
        (if (i32.eqz (local.get $mode))
          (then (memory.fill (local.get $patch) (i32.const 0) (i32.mul (local.get $kw) (local.get $cb)))))
        (return)))
    (if (i32.and (i32.ge_s (local.get $ix0) (i32.const 0))
                 (i32.le_s (i32.add (local.get $ix0) (local.get $kw)) (local.get $w)))
      (then
        (local.set $px (i32.add (local.get $rowAddr) (i32.mul (local.get $ix0) (local.get $cb))))
        (if (i32.eqz (local.get $mode))
          (then (memory.copy (local.get $patch) (local.get $px) (i32.mul (local.get $kw) (local.get $cb))))
          (else (call $addInto (local.get $px) (local.get $patch) (i32.mul (local.get $kw) (local.get $cb)))))
        (return)))
    (local.set $j (i32.const 0))
    (block $done
      (loop $taps
        (br_if $done (i32.ge_s (local.get $j) (local.get $kw)))
        (local.set $ix (i32.add (local.get $ix0) (local.get $j)))
        (local.set $pp (i32.add (local.get $patch) (i32.mul (local.get $j) (local.get $cb))))
        (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $w)))
          (then
            (local.set $px (i32.add (local.get $rowAddr) (i32.mul (local.get $ix) (local.get $cb))))
            (if (i32.eqz (local.get $mode))
              (then (memory.copy (local.get $pp) (local.get $px) (local.get $cb)))
              (else (call $addInto (local.get $px) (local.get $pp) (local.get $cb)))))
          (else
            (if (i32.eqz (local.get $mode))
              (then (memory.fill (local.get $pp) (i32.const 0) (local.get $cb))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $taps))))

  ;; Walks patch rows [row0, row0 + rows) (see the top of the file).
  (func $walk (param $x i32) (param $cols i32) (param $h i32) (param $w i32) (param $c i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (param $oh i32) (param $ow i32) (param $row0 i32) (param $rows i32) (param $mode i32)
    (local $cb i32) (local $plane i32) (local $r i32) (local $end i32)
    (local $b i32) (local $rem i32) (local $oy i32) (local $ox i32)
    (local $i i32) (local $iy i32) (local $ix0 i32) (local $rowAddr i32)
    (local $patch i32) (local $krow i32) (local $inside i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $krow (i32.mul (local.get $kw) (local.get $cb)))
    (local.set $plane (i32.mul (local.get $oh) (local.get $ow)))
    (local.set $r (local.get $row0))
    (local.set $end (i32.add (local.get $row0) (local.get $rows)))
    (local.set $patch (local.get $cols))
    (block $done
      (loop $rowsLoop
        (br_if $done (i32.ge_s (local.get $r) (local.get $end)))
        (local.set $b (i32.div_u (local.get $r) (local.get $plane)))
        (local.set $rem (i32.rem_u (local.get $r) (local.get $plane)))
        (local.set $oy (i32.div_u (local.get $rem) (local.get $ow)))
        (local.set $ox (i32.rem_u (local.get $rem) (local.get $ow)))
        (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
        (local.set $i (i32.const 0))
        (block $kdone
          (loop $krows
            (br_if $kdone (i32.ge_s (local.get $i) (local.get $kh)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top))
                                    (local.get $i)))
            (local.set $inside (i32.and (i32.ge_s (local.get $iy) (i32.const 0))
                                        (i32.lt_s (local.get $iy) (local.get $h))))
            (local.set $rowAddr
              (i32.add (local.get $x)
                (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy))
                         (i32.mul (local.get $w) (local.get $cb)))))
            (call $kernelRow (local.get $x) (local.get $rowAddr) (local.get $inside) (local.get $ix0) (local.get $w)
              (local.get $cb) (local.get $kw) (local.get $patch) (local.get $mode))
            (local.set $patch (i32.add (local.get $patch) (local.get $krow)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $krows)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowsLoop))))

  ;; dst = patch rows [row0, row0 + rows) of x [n, h, w, c].
  (func (export "im2col")
    (param $x i32) (param $dst i32) (param $h i32) (param $w i32) (param $c i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (param $oh i32) (param $ow i32) (param $row0 i32) (param $rows i32)
    (call $walk (local.get $x) (local.get $dst) (local.get $h) (local.get $w) (local.get $c)
      (local.get $kh) (local.get $kw) (local.get $sh) (local.get $sw) (local.get $top) (local.get $left)
      (local.get $oh) (local.get $ow) (local.get $row0) (local.get $rows) (i32.const 0)))

  ;; dx [n, h, w, c] += the patch rows [row0, row0 + rows) at cols, each tap
  ;; added to the pixel it was read from (taps outside the input are dropped).
  (func (export "col2imAdd")
    (param $cols i32) (param $dx i32) (param $h i32) (param $w i32) (param $c i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (param $oh i32) (param $ow i32) (param $row0 i32) (param $rows i32)
    (call $walk (local.get $dx) (local.get $cols) (local.get $h) (local.get $w) (local.get $c)
      (local.get $kh) (local.get $kw) (local.get $sh) (local.get $sw) (local.get $top) (local.get $left)
      (local.get $oh) (local.get $ow) (local.get $row0) (local.get $rows) (i32.const 1)))
)
