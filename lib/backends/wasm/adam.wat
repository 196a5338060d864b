;; One Adam step over float32 arrays that live in the tfjs wasm backend's
;; heap (the memory is imported, so every address below is a byte offset into
;; that heap). m and v are updated in place; the new weights go to wOut, which
;; may be w itself (fully in place) or a separate array of n floats.
;;
;; For i in [0, n):
;;   m[i] = b1 * m[i] + c1 * g[i]              (c1 = 1 - beta1)
;;   v[i] = b2 * v[i] + c2 * (g[i] * g[i])     (c2 = 1 - beta2)
;;   wOut[i] = ((m[i] / bc1) / (sqrt(v[i] / bc2) + eps)) * negLr + w[i]
;; with bc1 = 1 - beta1^t and bc2 = 1 - beta2^t (tfjs's 1 - accBeta) and
;; negLr = -learningRate. Every operation is a single IEEE float32 operation
;; in the same order as tfjs-core's AdamOptimizer.applyGradients, so the
;; results match the stock optimizer bit for bit on the wasm backend.
;;
;; wOut must equal w or not overlap it; g, m and v must not overlap anything.
;; The offsets must be 4-byte aligned; they need not be 16-byte aligned
;; (wasm loads and stores accept any address; the align hints say 4).
;; Four lanes at a time, then a scalar loop for the last n mod 4 values.
;;
;; Compiled by tasks/build_wasm.ts (deno task build:wasm) into lib/backends/wasm_adam_binary.ts.
(module
  (import "env" "memory" (memory 1))

  (func $adam (export "adam")
    (param $w i32) (param $wOut i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $bc1 f32) (param $bc2 f32) (param $eps f32) (param $negLr f32)
    (local $i i32)      ;; byte offset of the current element
    (local $vecEnd i32) ;; byte offset where the 4-lane loop stops
    (local $end i32)    ;; byte offset after the last element
    (local $gx v128) (local $mx v128) (local $vx v128)
    (local $b1x v128) (local $c1x v128) (local $b2x v128) (local $c2x v128)
    (local $bc1x v128) (local $bc2x v128) (local $epsx v128) (local $lrx v128)
    (local $gs f32) (local $ms f32) (local $vs f32)

    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vecEnd (i32.and (local.get $end) (i32.const -16)))

    (local.set $b1x (f32x4.splat (local.get $b1)))
    (local.set $c1x (f32x4.splat (local.get $c1)))
    (local.set $b2x (f32x4.splat (local.get $b2)))
    (local.set $c2x (f32x4.splat (local.get $c2)))
    (local.set $bc1x (f32x4.splat (local.get $bc1)))
    (local.set $bc2x (f32x4.splat (local.get $bc2)))
    (local.set $epsx (f32x4.splat (local.get $eps)))
    (local.set $lrx (f32x4.splat (local.get $negLr)))

    ;; 4 lanes per iteration.
    (block $vecDone
      (br_if $vecDone (i32.ge_u (local.get $i) (local.get $vecEnd)))
      (loop $vec
        (local.set $gx
          (v128.load align=4 (i32.add (local.get $g) (local.get $i))))
        ;; m = b1*m + c1*g
        (local.set $mx
          (f32x4.add
            (f32x4.mul
              (v128.load align=4 (i32.add (local.get $m) (local.get $i)))
              (local.get $b1x))
            (f32x4.mul (local.get $gx) (local.get $c1x))))
        ;; v = b2*v + c2*(g*g)
        (local.set $vx
          (f32x4.add
            (f32x4.mul
              (v128.load align=4 (i32.add (local.get $v) (local.get $i)))
              (local.get $b2x))
            (f32x4.mul
              (f32x4.mul (local.get $gx) (local.get $gx))
              (local.get $c2x))))
        (v128.store align=4 (i32.add (local.get $m) (local.get $i)) (local.get $mx))
        (v128.store align=4 (i32.add (local.get $v) (local.get $i)) (local.get $vx))
        ;; wOut = (m/bc1) / (sqrt(v/bc2) + eps) * negLr + w
        (v128.store align=4 (i32.add (local.get $wOut) (local.get $i))
          (f32x4.add
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $mx) (local.get $bc1x))
                (f32x4.add
                  (f32x4.sqrt (f32x4.div (local.get $vx) (local.get $bc2x)))
                  (local.get $epsx)))
              (local.get $lrx))
            (v128.load align=4 (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $vec (i32.lt_u (local.get $i) (local.get $vecEnd)))))

    ;; The remaining 0 to 3 values, one at a time, same operations.
    (block $tailDone
      (br_if $tailDone (i32.ge_u (local.get $i) (local.get $end)))
      (loop $tail
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $i))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $i))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $c1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $i))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (f32.store (i32.add (local.get $m) (local.get $i)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $i)) (local.get $vs))
        (f32.store (i32.add (local.get $wOut) (local.get $i))
          (f32.add
            (f32.mul
              (f32.div
                (f32.div (local.get $ms) (local.get $bc1))
                (f32.add
                  (f32.sqrt (f32.div (local.get $vs) (local.get $bc2)))
                  (local.get $eps)))
              (local.get $negLr))
            (f32.load (i32.add (local.get $w) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $tail (i32.lt_u (local.get $i) (local.get $end)))))
  )
)
