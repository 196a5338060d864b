;; Training kernels for the tfjs wasm backend, on float32 arrays that live in
;; the backend's heap (the memory is imported, so every address below is a
;; byte offset into that heap). Offsets must be 4-byte aligned; they need not
;; be 16-byte aligned (the align hints say 4).
;; build: relaxed-madd variant (tasks/build_wasm.ts fuses the multiply-adds into a second binary)
;;
;; maxPoolGrad: the gradient of a 2D max pool, NHWC.
;; matmul: y[M,N] = a[M,K] @ b[K,N], row-major, for small M and large K*N.
;; convFilterGrad: the filter gradient of a 2D convolution, NHWC, for few
;; input channels.
;;
;; Compiled by tasks/build_wasm.ts (deno task build:wasm) into lib/backends/wasm_simd_kernels_binary.ts.
(module
  (import "env" "memory" (memory 1))

  ;; dx = gradient of y = maxPool(x) (x [n, h, w, c], y and dy [n, oh, ow, c],
  ;; window kh x kw, stride sh x sw, window (oy, ox) starting at input row
  ;; oy*sh - top and column ox*sw - left; taps outside the input are skipped).
  ;;
  ;; For every window and channel, dy goes to the FIRST tap, in row-major
  ;; window order, whose x equals y, and to none if y is -Infinity or NaN.
  ;; That is tfjs's cpu backend (it keeps the first strictly greater value,
  ;; starting from -Infinity) when y is the window maximum. Channels are done
  ;; four at a time with a per-lane "not yet found" mask, then one at a time.
  ;;
  ;; acc == 0 (only valid when windows do not overlap: kh <= sh, kw <= sw):
  ;; each tap's share (dy or 0) is stored to dx; with zero != 0, dx is first
  ;; filled with zeros (needed when some input is in no window).
  ;;
  ;; acc != 0 (any windows): the cpu backend sums the shares of a dx value
  ;; in float64, in window order, and rounds once. To give the same float32
  ;; result, shares are added in float64 to a ring of kh rows of partial
  ;; sums at `ring` (kh * w * c float64 values, any content; left zeroed);
  ;; a dx row is rounded and stored once no later window can reach it.
  ;; `zero` is ignored.
  ;;
  ;; Either way each dx value is exactly the cpu backend's (0 for -0).
  ;; dx and ring must not overlap x, y, dy or each other.
  (func $maxPoolGrad (export "maxPoolGrad")
    (param $x i32) (param $y i32) (param $dy i32) (param $dx i32) (param $ring i32)
    (param $n i32) (param $h i32) (param $w i32) (param $c i32)
    (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32)
    (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (param $acc i32) (param $zero i32)
    (local $cb i32)       ;; bytes per pixel (4c)
    (local $cv i32)       ;; bytes of the channels done four at a time
    (local $rowB i32)     ;; bytes per input row (w * cb)
    (local $ringRow i32)  ;; bytes per ring row (2 * rowB)
    (local $ringSize i32) ;; bytes of the ring (kh * ringRow)
    (local $img i32)      ;; byte offset of the current image in x and dx
    (local $out i32)      ;; byte offset of the current window's pixel in y and dy
    (local $next i32)     ;; first dx row of the image not yet stored (acc)
    (local $lim i32)
    (local $b i32) (local $oy i32) (local $ox i32)
    (local $iy0 i32) (local $iy1 i32) (local $ix0 i32) (local $ix1 i32)
    (local $ci i32) (local $iy i32) (local $ix i32)
    (local $row i32)      ;; byte offset of (iy, 0, ci) in x and dx
    (local $col i32)      ;; byte offset of (ix, ci) within a row
    (local $rr0 i32)      ;; ring row offset of row iy0
    (local $rr i32)       ;; ring row offset of row iy
    (local $p i32) (local $q i32)
    (local $yv v128) (local $dyv v128) (local $rem v128) (local $hit v128) (local $sel v128)
    (local $ninf v128)
    (local $ys f32) (local $dys f32) (local $rs i32) (local $hs i32)

    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $cv (i32.and (local.get $cb) (i32.const -16)))
    (local.set $rowB (i32.mul (local.get $w) (local.get $cb)))
    (local.set $ringRow (i32.shl (local.get $rowB) (i32.const 1)))
    (local.set $ringSize (i32.mul (local.get $kh) (local.get $ringRow)))
    (if (local.get $acc)
      (then (memory.fill (local.get $ring) (i32.const 0) (local.get $ringSize)))
      (else
        (if (local.get $zero)
          (then
            (memory.fill (local.get $dx) (i32.const 0)
              (i32.mul (i32.mul (local.get $n) (local.get $h)) (local.get $rowB)))))))
    (local.set $ninf (f32x4.splat (f32.const -inf)))

    (block $bDone
      (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $img
          (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $rowB)))
        (local.set $next (i32.const 0))
        (local.set $oy (i32.const 0))
        (block $oyDone
          (loop $oyLoop
            (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
            ;; Rows [iy0, iy1) of the window that are inside the input.
            (local.set $iy0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)))
            (local.set $iy1 (i32.add (local.get $iy0) (local.get $kh)))
            (if (i32.lt_s (local.get $iy0) (i32.const 0)) (then (local.set $iy0 (i32.const 0))))
            (if (i32.gt_s (local.get $iy1) (local.get $h)) (then (local.set $iy1 (local.get $h))))
            (if (local.get $acc)
              (then
                ;; Rows above this window row are final: store them.
                (local.set $lim (local.get $iy0))
                (if (i32.gt_s (local.get $lim) (local.get $h)) (then (local.set $lim (local.get $h))))
                (block $fDone
                  (loop $fLoop
                    (br_if $fDone (i32.ge_s (local.get $next) (local.get $lim)))
                    (call $storeRow
                      (i32.add (local.get $ring)
                        (i32.mul (i32.rem_u (local.get $next) (local.get $kh)) (local.get $ringRow)))
                      (i32.add (local.get $dx)
                        (i32.add (local.get $img) (i32.mul (local.get $next) (local.get $rowB))))
                      (local.get $rowB))
                    (local.set $next (i32.add (local.get $next) (i32.const 1)))
                    (br $fLoop)))
                (local.set $rr0
                  (i32.mul (i32.rem_u (local.get $iy0) (local.get $kh)) (local.get $ringRow)))))
            (local.set $ox (i32.const 0))
            (block $oxDone
              (loop $oxLoop
                (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
                (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
                (local.set $ix1 (i32.add (local.get $ix0) (local.get $kw)))
                (if (i32.lt_s (local.get $ix0) (i32.const 0)) (then (local.set $ix0 (i32.const 0))))
                (if (i32.gt_s (local.get $ix1) (local.get $w)) (then (local.set $ix1 (local.get $w))))

                ;; Four channels at a time.
                (local.set $ci (i32.const 0))
                (block $vDone
                  (loop $vLoop
                    (br_if $vDone (i32.ge_u (local.get $ci) (local.get $cv)))
                    (local.set $q (i32.add (local.get $out) (local.get $ci)))
                    (local.set $yv (v128.load align=4 (i32.add (local.get $y) (local.get $q))))
                    (local.set $dyv (v128.load align=4 (i32.add (local.get $dy) (local.get $q))))
                    ;; Lanes whose maximum is still to be found (false for -inf and NaN).
                    (local.set $rem (f32x4.gt (local.get $yv) (local.get $ninf)))
                    (local.set $iy (local.get $iy0))
                    (local.set $rr (local.get $rr0))
                    (block $tyDone
                      (loop $tyLoop
                        (br_if $tyDone (i32.ge_s (local.get $iy) (local.get $iy1)))
                        (local.set $row
                          (i32.add (local.get $img) (i32.mul (local.get $iy) (local.get $rowB))))
                        (local.set $ix (local.get $ix0))
                        (block $txDone
                          (loop $txLoop
                            (br_if $txDone (i32.ge_s (local.get $ix) (local.get $ix1)))
                            (local.set $col
                              (i32.add (i32.mul (local.get $ix) (local.get $cb)) (local.get $ci)))
                            (local.set $p (i32.add (local.get $row) (local.get $col)))
                            (local.set $hit
                              (v128.and
                                (f32x4.eq
                                  (v128.load align=4 (i32.add (local.get $x) (local.get $p)))
                                  (local.get $yv))
                                (local.get $rem)))
                            (local.set $rem (v128.andnot (local.get $rem) (local.get $hit)))
                            (local.set $sel (v128.and (local.get $dyv) (local.get $hit)))
                            (if (local.get $acc)
                              (then
                                (local.set $p
                                  (i32.add (i32.add (local.get $ring) (local.get $rr))
                                    (i32.shl (local.get $col) (i32.const 1))))
                                (v128.store align=8 (local.get $p)
                                  (f64x2.add
                                    (v128.load align=8 (local.get $p))
                                    (f64x2.promote_low_f32x4 (local.get $sel))))
                                (v128.store offset=16 align=8 (local.get $p)
                                  (f64x2.add
                                    (v128.load offset=16 align=8 (local.get $p))
                                    (f64x2.promote_low_f32x4
                                      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
                                        (local.get $sel) (local.get $sel))))))
                              (else
                                ;; + 0 turns -0 into 0, as the cpu backend's 0 + dy.
                                (v128.store align=4 (i32.add (local.get $dx) (local.get $p))
                                  (f32x4.add (local.get $sel) (v128.const f32x4 0 0 0 0)))))
                            (local.set $ix (i32.add (local.get $ix) (i32.const 1)))
                            (br $txLoop)))
                        (local.set $iy (i32.add (local.get $iy) (i32.const 1)))
                        (local.set $rr (i32.add (local.get $rr) (local.get $ringRow)))
                        (if (i32.ge_u (local.get $rr) (local.get $ringSize))
                          (then (local.set $rr (i32.const 0))))
                        (br $tyLoop)))
                    (local.set $ci (i32.add (local.get $ci) (i32.const 16)))
                    (br $vLoop)))

                ;; The remaining 0 to 3 channels, one at a time, same rule.
                (block $sDone
                  (loop $sLoop
                    (br_if $sDone (i32.ge_u (local.get $ci) (local.get $cb)))
                    (local.set $q (i32.add (local.get $out) (local.get $ci)))
                    (local.set $ys (f32.load (i32.add (local.get $y) (local.get $q))))
                    (local.set $dys (f32.load (i32.add (local.get $dy) (local.get $q))))
                    (local.set $rs (f32.gt (local.get $ys) (f32.const -inf)))
                    (local.set $iy (local.get $iy0))
                    (local.set $rr (local.get $rr0))
                    (block $syDone
                      (loop $syLoop
                        (br_if $syDone (i32.ge_s (local.get $iy) (local.get $iy1)))
                        (local.set $row
                          (i32.add (local.get $img) (i32.mul (local.get $iy) (local.get $rowB))))
                        (local.set $ix (local.get $ix0))
                        (block $sxDone
                          (loop $sxLoop
                            (br_if $sxDone (i32.ge_s (local.get $ix) (local.get $ix1)))
                            (local.set $col
                              (i32.add (i32.mul (local.get $ix) (local.get $cb)) (local.get $ci)))
                            (local.set $p (i32.add (local.get $row) (local.get $col)))
                            (local.set $hs
                              (i32.and
                                (local.get $rs)
                                (f32.eq
                                  (f32.load (i32.add (local.get $x) (local.get $p)))
                                  (local.get $ys))))
                            (if (local.get $hs) (then (local.set $rs (i32.const 0))))
                            (if (local.get $acc)
                              (then
                                (local.set $p
                                  (i32.add (i32.add (local.get $ring) (local.get $rr))
                                    (i32.shl (local.get $col) (i32.const 1))))
                                (f64.store (local.get $p)
                                  (f64.add
                                    (f64.load (local.get $p))
                                    (f64.promote_f32
                                      (select (local.get $dys) (f32.const 0) (local.get $hs))))))
                              (else
                                (f32.store (i32.add (local.get $dx) (local.get $p))
                                  (f32.add
                                    (select (local.get $dys) (f32.const 0) (local.get $hs))
                                    (f32.const 0)))))
                            (local.set $ix (i32.add (local.get $ix) (i32.const 1)))
                            (br $sxLoop)))
                        (local.set $iy (i32.add (local.get $iy) (i32.const 1)))
                        (local.set $rr (i32.add (local.get $rr) (local.get $ringRow)))
                        (if (i32.ge_u (local.get $rr) (local.get $ringSize))
                          (then (local.set $rr (i32.const 0))))
                        (br $syLoop)))
                    (local.set $ci (i32.add (local.get $ci) (i32.const 4)))
                    (br $sLoop)))

                (local.set $out (i32.add (local.get $out) (local.get $cb)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (br $oxLoop)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $oyLoop)))
        ;; Store the image's remaining rows.
        (if (local.get $acc)
          (then
            (block $gDone
              (loop $gLoop
                (br_if $gDone (i32.ge_s (local.get $next) (local.get $h)))
                (call $storeRow
                  (i32.add (local.get $ring)
                    (i32.mul (i32.rem_u (local.get $next) (local.get $kh)) (local.get $ringRow)))
                  (i32.add (local.get $dx)
                    (i32.add (local.get $img) (i32.mul (local.get $next) (local.get $rowB))))
                  (local.get $rowB))
                (local.set $next (i32.add (local.get $next) (i32.const 1)))
                (br $gLoop)))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
  )

  ;; Rounds `bytes` / 4 float64 partial sums at src to float32 at dst and
  ;; zeroes them.
  (func $storeRow (param $src i32) (param $dst i32) (param $bytes i32)
    (local $j i32) (local $vEnd i32)
    (local.set $vEnd (i32.and (local.get $bytes) (i32.const -16)))
    (block $vDone
      (br_if $vDone (i32.ge_u (local.get $j) (local.get $vEnd)))
      (loop $v
        (v128.store align=4 (i32.add (local.get $dst) (local.get $j))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (v128.load align=8 (local.get $src)))
            (f32x4.demote_f64x2_zero (v128.load offset=16 align=8 (local.get $src)))))
        (v128.store align=8 (local.get $src) (v128.const i64x2 0 0))
        (v128.store offset=16 align=8 (local.get $src) (v128.const i64x2 0 0))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $v (i32.lt_u (local.get $j) (local.get $vEnd)))))
    (block $sDone
      (br_if $sDone (i32.ge_u (local.get $j) (local.get $bytes)))
      (loop $s
        (f32.store (i32.add (local.get $dst) (local.get $j))
          (f32.demote_f64 (f64.load (local.get $src))))
        (f64.store (local.get $src) (f64.const 0))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br_if $s (i32.lt_u (local.get $j) (local.get $bytes)))))
  )

  ;; y[r, j0:j0+jn] += a[r, k0:k0+4] @ b[k0:k0+4, j0:j0+jn] for two rows
  ;; r, r+1 of a and y. pa: &a[r, k0]; pb: &b[k0, j0]; py: &y[r, j0];
  ;; ka, nb: row strides of a and of b/y in bytes; jv, jt: bytes of the
  ;; columns done four at a time, and of all jn columns.
  (func $rows2k4
    (param $pa i32) (param $pb i32) (param $py i32) (param $ka i32) (param $nb i32)
    (param $jv i32) (param $jt i32)
    (local $pb1 i32) (local $pb2 i32) (local $pb3 i32) (local $py1 i32) (local $j i32)
    (local $s00 v128) (local $s01 v128) (local $s02 v128) (local $s03 v128)
    (local $s10 v128) (local $s11 v128) (local $s12 v128) (local $s13 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $t0 f32) (local $t1 f32) (local $t2 f32) (local $t3 f32)
    (local.set $pb1 (i32.add (local.get $pb) (local.get $nb)))
    (local.set $pb2 (i32.add (local.get $pb1) (local.get $nb)))
    (local.set $pb3 (i32.add (local.get $pb2) (local.get $nb)))
    (local.set $py1 (i32.add (local.get $py) (local.get $nb)))
    (local.set $s00 (v128.load32_splat (local.get $pa)))
    (local.set $s01 (v128.load32_splat offset=4 (local.get $pa)))
    (local.set $s02 (v128.load32_splat offset=8 (local.get $pa)))
    (local.set $s03 (v128.load32_splat offset=12 (local.get $pa)))
    (local.set $pa (i32.add (local.get $pa) (local.get $ka)))
    (local.set $s10 (v128.load32_splat (local.get $pa)))
    (local.set $s11 (v128.load32_splat offset=4 (local.get $pa)))
    (local.set $s12 (v128.load32_splat offset=8 (local.get $pa)))
    (local.set $s13 (v128.load32_splat offset=12 (local.get $pa)))
    (block $vDone
      (br_if $vDone (i32.ge_u (local.get $j) (local.get $jv)))
      (loop $v
        (local.set $b0 (v128.load align=4 (i32.add (local.get $pb) (local.get $j))))
        (local.set $b1 (v128.load align=4 (i32.add (local.get $pb1) (local.get $j))))
        (local.set $b2 (v128.load align=4 (i32.add (local.get $pb2) (local.get $j))))
        (local.set $b3 (v128.load align=4 (i32.add (local.get $pb3) (local.get $j))))
        (v128.store align=4 (i32.add (local.get $py) (local.get $j))
          (f32x4.add
            (v128.load align=4 (i32.add (local.get $py) (local.get $j)))
            (f32x4.add
              (f32x4.add
                (f32x4.mul (local.get $s00) (local.get $b0))
                (f32x4.mul (local.get $s01) (local.get $b1)))
              (f32x4.add
                (f32x4.mul (local.get $s02) (local.get $b2))
                (f32x4.mul (local.get $s03) (local.get $b3))))))
        (v128.store align=4 (i32.add (local.get $py1) (local.get $j))
          (f32x4.add
            (v128.load align=4 (i32.add (local.get $py1) (local.get $j)))
            (f32x4.add
              (f32x4.add
                (f32x4.mul (local.get $s10) (local.get $b0))
                (f32x4.mul (local.get $s11) (local.get $b1)))
              (f32x4.add
                (f32x4.mul (local.get $s12) (local.get $b2))
                (f32x4.mul (local.get $s13) (local.get $b3))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $v (i32.lt_u (local.get $j) (local.get $jv)))))
    (block $sDone
      (br_if $sDone (i32.ge_u (local.get $j) (local.get $jt)))
      (loop $s
        (local.set $t0 (f32.load (i32.add (local.get $pb) (local.get $j))))
        (local.set $t1 (f32.load (i32.add (local.get $pb1) (local.get $j))))
        (local.set $t2 (f32.load (i32.add (local.get $pb2) (local.get $j))))
        (local.set $t3 (f32.load (i32.add (local.get $pb3) (local.get $j))))
        (f32.store (i32.add (local.get $py) (local.get $j))
          (f32.add
            (f32.load (i32.add (local.get $py) (local.get $j)))
            (f32.add
              (f32.add
                (f32.mul (f32x4.extract_lane 0 (local.get $s00)) (local.get $t0))
                (f32.mul (f32x4.extract_lane 0 (local.get $s01)) (local.get $t1)))
              (f32.add
                (f32.mul (f32x4.extract_lane 0 (local.get $s02)) (local.get $t2))
                (f32.mul (f32x4.extract_lane 0 (local.get $s03)) (local.get $t3))))))
        (f32.store (i32.add (local.get $py1) (local.get $j))
          (f32.add
            (f32.load (i32.add (local.get $py1) (local.get $j)))
            (f32.add
              (f32.add
                (f32.mul (f32x4.extract_lane 0 (local.get $s10)) (local.get $t0))
                (f32.mul (f32x4.extract_lane 0 (local.get $s11)) (local.get $t1)))
              (f32.add
                (f32.mul (f32x4.extract_lane 0 (local.get $s12)) (local.get $t2))
                (f32.mul (f32x4.extract_lane 0 (local.get $s13)) (local.get $t3))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br_if $s (i32.lt_u (local.get $j) (local.get $jt)))))
  )

  ;; As $rows2k4 for one row.
  (func $rows1k4
    (param $pa i32) (param $pb i32) (param $py i32) (param $nb i32)
    (param $jv i32) (param $jt i32)
    (local $pb1 i32) (local $pb2 i32) (local $pb3 i32) (local $j i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $pb1 (i32.add (local.get $pb) (local.get $nb)))
    (local.set $pb2 (i32.add (local.get $pb1) (local.get $nb)))
    (local.set $pb3 (i32.add (local.get $pb2) (local.get $nb)))
    (local.set $s0 (v128.load32_splat (local.get $pa)))
    (local.set $s1 (v128.load32_splat offset=4 (local.get $pa)))
    (local.set $s2 (v128.load32_splat offset=8 (local.get $pa)))
    (local.set $s3 (v128.load32_splat offset=12 (local.get $pa)))
    (block $vDone
      (br_if $vDone (i32.ge_u (local.get $j) (local.get $jv)))
      (loop $v
        (v128.store align=4 (i32.add (local.get $py) (local.get $j))
          (f32x4.add
            (v128.load align=4 (i32.add (local.get $py) (local.get $j)))
            (f32x4.add
              (f32x4.add
                (f32x4.mul (local.get $s0)
                  (v128.load align=4 (i32.add (local.get $pb) (local.get $j))))
                (f32x4.mul (local.get $s1)
                  (v128.load align=4 (i32.add (local.get $pb1) (local.get $j)))))
              (f32x4.add
                (f32x4.mul (local.get $s2)
                  (v128.load align=4 (i32.add (local.get $pb2) (local.get $j))))
                (f32x4.mul (local.get $s3)
                  (v128.load align=4 (i32.add (local.get $pb3) (local.get $j))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $v (i32.lt_u (local.get $j) (local.get $jv)))))
    (block $sDone
      (br_if $sDone (i32.ge_u (local.get $j) (local.get $jt)))
      (loop $s
        (f32.store (i32.add (local.get $py) (local.get $j))
          (f32.add
            (f32.load (i32.add (local.get $py) (local.get $j)))
            (f32.add
              (f32.add
                (f32.mul (f32x4.extract_lane 0 (local.get $s0))
                  (f32.load (i32.add (local.get $pb) (local.get $j))))
                (f32.mul (f32x4.extract_lane 0 (local.get $s1))
                  (f32.load (i32.add (local.get $pb1) (local.get $j)))))
              (f32.add
                (f32.mul (f32x4.extract_lane 0 (local.get $s2))
                  (f32.load (i32.add (local.get $pb2) (local.get $j))))
                (f32.mul (f32x4.extract_lane 0 (local.get $s3))
                  (f32.load (i32.add (local.get $pb3) (local.get $j))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br_if $s (i32.lt_u (local.get $j) (local.get $jt)))))
  )

  ;; y[r, j0:j0+jn] += a[r, k0] * b[k0, j0:j0+jn] for one row (the last
  ;; K mod 4 values of k).
  (func $rows1k1
    (param $pa i32) (param $pb i32) (param $py i32) (param $jv i32) (param $jt i32)
    (local $j i32) (local $s0 v128)
    (local.set $s0 (v128.load32_splat (local.get $pa)))
    (block $vDone
      (br_if $vDone (i32.ge_u (local.get $j) (local.get $jv)))
      (loop $v
        (v128.store align=4 (i32.add (local.get $py) (local.get $j))
          (f32x4.add
            (v128.load align=4 (i32.add (local.get $py) (local.get $j)))
            (f32x4.mul (local.get $s0)
              (v128.load align=4 (i32.add (local.get $pb) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br_if $v (i32.lt_u (local.get $j) (local.get $jv)))))
    (block $sDone
      (br_if $sDone (i32.ge_u (local.get $j) (local.get $jt)))
      (loop $s
        (f32.store (i32.add (local.get $py) (local.get $j))
          (f32.add
            (f32.load (i32.add (local.get $py) (local.get $j)))
            (f32.mul (f32x4.extract_lane 0 (local.get $s0))
              (f32.load (i32.add (local.get $pb) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br_if $s (i32.lt_u (local.get $j) (local.get $jt)))))
  )

  ;; y[m, n] = a[m, k] @ b[k, n] (row-major, no transposes), for small m and
  ;; large k*n: b is streamed from memory once. The columns are done in
  ;; chunks of nc (nc > 0; a multiple of 4 keeps every chunk but the last
  ;; free of scalar tails); for each chunk, k goes in blocks of four rows of
  ;; b (one block, a few KB, stays in L1 while all m rows of y take their
  ;; share; the m x nc chunk of y stays in L1/L2), then the k mod 4 rest.
  ;; Each y value is the sum, in k order of blocks, of
  ;; (a0*b0 + a1*b1) + (a2*b2 + a3*b3) per block. y must not overlap a or b.
  (func $matmul (export "matmul")
    (param $a i32) (param $b i32) (param $y i32)
    (param $m i32) (param $k i32) (param $n i32) (param $nc i32)
    (local $ka i32) (local $nb i32) (local $j0 i32) (local $jn i32) (local $jv i32) (local $jt i32)
    (local $k0 i32) (local $k4 i32) (local $r i32) (local $m2 i32)
    (local $pb i32) (local $py i32) (local $pa i32)
    (local.set $ka (i32.shl (local.get $k) (i32.const 2)))
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (memory.fill (local.get $y) (i32.const 0) (i32.mul (local.get $m) (local.get $nb)))
    (local.set $k4 (i32.and (local.get $k) (i32.const -4)))
    (local.set $m2 (i32.and (local.get $m) (i32.const -2)))
    (block $cDone
      (loop $chunk
        (br_if $cDone (i32.ge_u (local.get $j0) (local.get $n)))
        (local.set $jn (i32.sub (local.get $n) (local.get $j0)))
        (if (i32.gt_u (local.get $jn) (local.get $nc)) (then (local.set $jn (local.get $nc))))
        (local.set $jt (i32.shl (local.get $jn) (i32.const 2)))
        (local.set $jv (i32.and (local.get $jt) (i32.const -16)))
        ;; Blocks of four values of k.
        (local.set $k0 (i32.const 0))
        (block $kDone
          (loop $kLoop
            (br_if $kDone (i32.ge_u (local.get $k0) (local.get $k4)))
            (local.set $pb
              (i32.add (local.get $b)
                (i32.shl
                  (i32.add (i32.mul (local.get $k0) (local.get $n)) (local.get $j0))
                  (i32.const 2))))
            (local.set $pa (i32.add (local.get $a) (i32.shl (local.get $k0) (i32.const 2))))
            (local.set $py (i32.add (local.get $y) (i32.shl (local.get $j0) (i32.const 2))))
            (local.set $r (i32.const 0))
            (block $rDone
              (loop $rLoop
                (br_if $rDone (i32.ge_u (local.get $r) (local.get $m2)))
                (call $rows2k4 (local.get $pa) (local.get $pb) (local.get $py)
                  (local.get $ka) (local.get $nb) (local.get $jv) (local.get $jt))
                (local.set $pa (i32.add (local.get $pa) (i32.shl (local.get $ka) (i32.const 1))))
                (local.set $py (i32.add (local.get $py) (i32.shl (local.get $nb) (i32.const 1))))
                (local.set $r (i32.add (local.get $r) (i32.const 2)))
                (br $rLoop)))
            (if (i32.lt_u (local.get $r) (local.get $m))
              (then
                (call $rows1k4 (local.get $pa) (local.get $pb) (local.get $py)
                  (local.get $nb) (local.get $jv) (local.get $jt))))
            (local.set $k0 (i32.add (local.get $k0) (i32.const 4)))
            (br $kLoop)))
        ;; The last k mod 4 values of k.
        (block $k1Done
          (loop $k1Loop
            (br_if $k1Done (i32.ge_u (local.get $k0) (local.get $k)))
            (local.set $pb
              (i32.add (local.get $b)
                (i32.shl
                  (i32.add (i32.mul (local.get $k0) (local.get $n)) (local.get $j0))
                  (i32.const 2))))
            (local.set $pa (i32.add (local.get $a) (i32.shl (local.get $k0) (i32.const 2))))
            (local.set $py (i32.add (local.get $y) (i32.shl (local.get $j0) (i32.const 2))))
            (local.set $r (i32.const 0))
            (block $r1Done
              (loop $r1Loop
                (br_if $r1Done (i32.ge_u (local.get $r) (local.get $m)))
                (call $rows1k1 (local.get $pa) (local.get $pb) (local.get $py)
                  (local.get $jv) (local.get $jt))
                (local.set $pa (i32.add (local.get $pa) (local.get $ka)))
                (local.set $py (i32.add (local.get $py) (local.get $nb)))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $r1Loop)))
            (local.set $k0 (i32.add (local.get $k0) (i32.const 1)))
            (br $k1Loop)))
        (local.set $j0 (i32.add (local.get $j0) (local.get $nc)))
        (br $chunk)))
  )

  ;; Filter gradient of a convolution with few input channels, NHWC:
  ;;   dw[ky, kx, c, o] = sum over b, oy, ox of
  ;;     x[b, oy*sh + ky - top, ox*sw + kx - left, c] * dy[b, oy, ox, o]
  ;; (taps outside the input count as 0; dilation 1). x [n, h, w, ci],
  ;; dy [n, oh, ow, co], dw [kh, kw, ci, co]; `tot` is scratch for
  ;; kh*kw*ci*co float64 values (any content).
  ;;
  ;; Per dy row (b, oy) and tap (ky, kx, c), the products over the row's ox
  ;; are summed in registers, co four at a time (blocks of 32, then 16, then
  ;; 4 output channels; the last co mod 4 one at a time); the row sums of
  ;; an image are added in float32 in dw, and the image sums in float64 in
  ;; tot, rounded to float32 into dw at the end. A dy row (ow*co floats)
  ;; stays in L1 while all taps read it. dw and tot must not overlap x, dy
  ;; or each other.
  (func $convFilterGrad (export "convFilterGrad")
    (param $x i32) (param $dy i32) (param $dw i32) (param $tot i32)
    (param $n i32) (param $h i32) (param $w i32) (param $ci i32)
    (param $oh i32) (param $ow i32) (param $co i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32)
    (param $top i32) (param $left i32)
    (local $coB i32)      ;; bytes per dy pixel and per dw tap row (4co)
    (local $ciB i32)      ;; bytes per x pixel (4ci)
    (local $xs i32)       ;; bytes between the x values of neighbouring ox (sw*ciB)
    (local $taps i32)     ;; float count of dw (kh*kw*ci*co)
    (local $b i32) (local $oy i32) (local $ky i32) (local $kx i32) (local $c i32)
    (local $iy i32) (local $ox0 i32) (local $ox1 i32) (local $lim i32) (local $cnt i32)
    (local $dyRow i32)    ;; byte offset of dy[b, oy, 0, 0]
    (local $xRow i32)     ;; byte offset of x[b, iy, 0, 0]
    (local $px i32) (local $pd i32) (local $pp i32) (local $j i32) (local $i i32)

    (local.set $coB (i32.shl (local.get $co) (i32.const 2)))
    (local.set $ciB (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $xs (i32.mul (local.get $sw) (local.get $ciB)))
    (local.set $taps
      (i32.mul (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $ci))
        (local.get $co)))
    (memory.fill (local.get $tot) (i32.const 0) (i32.shl (local.get $taps) (i32.const 3)))
    (local.set $dyRow (local.get $dy))

    (block $bDone
      (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (memory.fill (local.get $dw) (i32.const 0) (i32.shl (local.get $taps) (i32.const 2)))
        (local.set $oy (i32.const 0))
        (block $oyDone
          (loop $oyLoop
            (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
            (local.set $ky (i32.const 0))
            (block $kyDone
              (loop $kyLoop
                (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
                (local.set $iy
                  (i32.sub
                    (i32.add (i32.mul (local.get $oy) (local.get $sh)) (local.get $ky))
                    (local.get $top)))
                (if (i32.and
                      (i32.ge_s (local.get $iy) (i32.const 0))
                      (i32.lt_s (local.get $iy) (local.get $h)))
                  (then
                    (local.set $xRow
                      (i32.add (local.get $x)
                        (i32.mul
                          (i32.mul
                            (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy))
                            (local.get $w))
                          (local.get $ciB))))
                    (local.set $kx (i32.const 0))
                    (block $kxDone
                      (loop $kxLoop
                        (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                        ;; ox with 0 <= ox*sw + kx - left < w: [ox0, ox1).
                        (local.set $ox0 (i32.const 0))
                        (if (i32.gt_s (local.get $left) (local.get $kx))
                          (then
                            (local.set $ox0
                              (i32.div_u
                                (i32.sub
                                  (i32.add (local.get $left) (local.get $sw))
                                  (i32.add (local.get $kx) (i32.const 1)))
                                (local.get $sw)))))
                        (local.set $lim
                          (i32.sub
                            (i32.add (local.get $w) (local.get $left))
                            (i32.add (local.get $kx) (i32.const 1))))
                        (local.set $ox1 (i32.const 0))
                        (if (i32.ge_s (local.get $lim) (i32.const 0))
                          (then
                            (local.set $ox1
                              (i32.add (i32.div_u (local.get $lim) (local.get $sw))
                                (i32.const 1)))))
                        (if (i32.gt_s (local.get $ox1) (local.get $ow))
                          (then (local.set $ox1 (local.get $ow))))
                        (if (i32.lt_s (local.get $ox0) (local.get $ox1))
                          (then
                            (local.set $cnt (i32.sub (local.get $ox1) (local.get $ox0)))
                            (local.set $c (i32.const 0))
                            (block $cDone
                              (loop $cLoop
                                (br_if $cDone (i32.ge_u (local.get $c) (local.get $ci)))
                                ;; &x[b, iy, ox0*sw + kx - left, c]
                                (local.set $px
                                  (i32.add (local.get $xRow)
                                    (i32.shl
                                      (i32.add
                                        (i32.mul
                                          (i32.sub
                                            (i32.add
                                              (i32.mul (local.get $ox0) (local.get $sw))
                                              (local.get $kx))
                                            (local.get $left))
                                          (local.get $ci))
                                        (local.get $c))
                                      (i32.const 2))))
                                (local.set $pd
                                  (i32.add (local.get $dyRow)
                                    (i32.mul (local.get $ox0) (local.get $coB))))
                                ;; &dw[ky, kx, c, 0]
                                (local.set $pp
                                  (i32.add (local.get $dw)
                                    (i32.mul
                                      (i32.add
                                        (i32.mul
                                          (i32.add
                                            (i32.mul (local.get $ky) (local.get $kw))
                                            (local.get $kx))
                                          (local.get $ci))
                                        (local.get $c))
                                      (local.get $coB))))
                                (local.set $j (i32.const 0))
                                (block $d8
                                  (loop $l8
                                    (br_if $d8
                                      (i32.gt_u (i32.add (local.get $j) (i32.const 128))
                                        (local.get $coB)))
                                    (call $rowSum8 (local.get $px) (local.get $xs)
                                      (i32.add (local.get $pd) (local.get $j)) (local.get $coB)
                                      (local.get $cnt) (i32.add (local.get $pp) (local.get $j)))
                                    (local.set $j (i32.add (local.get $j) (i32.const 128)))
                                    (br $l8)))
                                (if (i32.le_u (i32.add (local.get $j) (i32.const 64))
                                      (local.get $coB))
                                  (then
                                    (call $rowSum4 (local.get $px) (local.get $xs)
                                      (i32.add (local.get $pd) (local.get $j)) (local.get $coB)
                                      (local.get $cnt) (i32.add (local.get $pp) (local.get $j)))
                                    (local.set $j (i32.add (local.get $j) (i32.const 64)))))
                                (block $d1
                                  (loop $l1
                                    (br_if $d1
                                      (i32.gt_u (i32.add (local.get $j) (i32.const 16))
                                        (local.get $coB)))
                                    (call $rowSum1 (local.get $px) (local.get $xs)
                                      (i32.add (local.get $pd) (local.get $j)) (local.get $coB)
                                      (local.get $cnt) (i32.add (local.get $pp) (local.get $j)))
                                    (local.set $j (i32.add (local.get $j) (i32.const 16)))
                                    (br $l1)))
                                (block $ds
                                  (loop $ls
                                    (br_if $ds (i32.ge_u (local.get $j) (local.get $coB)))
                                    (call $rowSumS (local.get $px) (local.get $xs)
                                      (i32.add (local.get $pd) (local.get $j)) (local.get $coB)
                                      (local.get $cnt) (i32.add (local.get $pp) (local.get $j)))
                                    (local.set $j (i32.add (local.get $j) (i32.const 4)))
                                    (br $ls)))
                                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                                (br $cLoop)))))
                        (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                        (br $kxLoop)))))
                (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                (br $kyLoop)))
            (local.set $dyRow
              (i32.add (local.get $dyRow) (i32.mul (local.get $ow) (local.get $coB))))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $oyLoop)))
        ;; tot += this image's sums (float64).
        (local.set $i (i32.const 0))
        (block $tDone
          (loop $tLoop
            (br_if $tDone (i32.ge_u (local.get $i) (local.get $taps)))
            (local.set $pp (i32.add (local.get $tot) (i32.shl (local.get $i) (i32.const 3))))
            (f64.store (local.get $pp)
              (f64.add (f64.load (local.get $pp))
                (f64.promote_f32
                  (f32.load (i32.add (local.get $dw) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $tLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
    ;; dw = tot, rounded to float32.
    (local.set $i (i32.const 0))
    (block $fDone
      (loop $fLoop
        (br_if $fDone (i32.ge_u (local.get $i) (local.get $taps)))
        (f32.store (i32.add (local.get $dw) (i32.shl (local.get $i) (i32.const 2)))
          (f32.demote_f64
            (f64.load (i32.add (local.get $tot) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fLoop)))
  )

  ;; pp[0:32] += sum over i < cnt (cnt > 0) of px[i*xs] * pd[i*ds + 0:32]
  ;; (byte strides xs, ds; float32 sums in eight vector registers).
  (func $rowSum8
    (param $px i32) (param $xs i32) (param $pd i32) (param $ds i32) (param $cnt i32)
    (param $pp i32)
    (local $s v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (loop $l
      (local.set $s (v128.load32_splat (local.get $px)))
      (local.set $a0 (f32x4.add (local.get $a0)
        (f32x4.mul (local.get $s) (v128.load align=4 (local.get $pd)))))
      (local.set $a1 (f32x4.add (local.get $a1)
        (f32x4.mul (local.get $s) (v128.load offset=16 align=4 (local.get $pd)))))
      (local.set $a2 (f32x4.add (local.get $a2)
        (f32x4.mul (local.get $s) (v128.load offset=32 align=4 (local.get $pd)))))
      (local.set $a3 (f32x4.add (local.get $a3)
        (f32x4.mul (local.get $s) (v128.load offset=48 align=4 (local.get $pd)))))
      (local.set $a4 (f32x4.add (local.get $a4)
        (f32x4.mul (local.get $s) (v128.load offset=64 align=4 (local.get $pd)))))
      (local.set $a5 (f32x4.add (local.get $a5)
        (f32x4.mul (local.get $s) (v128.load offset=80 align=4 (local.get $pd)))))
      (local.set $a6 (f32x4.add (local.get $a6)
        (f32x4.mul (local.get $s) (v128.load offset=96 align=4 (local.get $pd)))))
      (local.set $a7 (f32x4.add (local.get $a7)
        (f32x4.mul (local.get $s) (v128.load offset=112 align=4 (local.get $pd)))))
      (local.set $px (i32.add (local.get $px) (local.get $xs)))
      (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
      (local.set $cnt (i32.sub (local.get $cnt) (i32.const 1)))
      (br_if $l (local.get $cnt)))
    (v128.store align=4 (local.get $pp)
      (f32x4.add (v128.load align=4 (local.get $pp)) (local.get $a0)))
    (v128.store offset=16 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=16 align=4 (local.get $pp)) (local.get $a1)))
    (v128.store offset=32 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=32 align=4 (local.get $pp)) (local.get $a2)))
    (v128.store offset=48 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=48 align=4 (local.get $pp)) (local.get $a3)))
    (v128.store offset=64 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=64 align=4 (local.get $pp)) (local.get $a4)))
    (v128.store offset=80 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=80 align=4 (local.get $pp)) (local.get $a5)))
    (v128.store offset=96 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=96 align=4 (local.get $pp)) (local.get $a6)))
    (v128.store offset=112 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=112 align=4 (local.get $pp)) (local.get $a7)))
  )

  ;; As $rowSum8 for 16 channels; even and odd i go to separate sums
  ;; (eight independent additions in flight), added at the end.
  (func $rowSum4
    (param $px i32) (param $xs i32) (param $pd i32) (param $ds i32) (param $cnt i32)
    (param $pp i32)
    (local $s v128) (local $t v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (block $pDone
      (br_if $pDone (i32.lt_u (local.get $cnt) (i32.const 2)))
      (loop $l
        (local.set $s (v128.load32_splat (local.get $px)))
        (local.set $t (v128.load32_splat (i32.add (local.get $px) (local.get $xs))))
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (local.get $s) (v128.load align=4 (local.get $pd)))))
        (local.set $a1 (f32x4.add (local.get $a1)
          (f32x4.mul (local.get $s) (v128.load offset=16 align=4 (local.get $pd)))))
        (local.set $a2 (f32x4.add (local.get $a2)
          (f32x4.mul (local.get $s) (v128.load offset=32 align=4 (local.get $pd)))))
        (local.set $a3 (f32x4.add (local.get $a3)
          (f32x4.mul (local.get $s) (v128.load offset=48 align=4 (local.get $pd)))))
        (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
        (local.set $b0 (f32x4.add (local.get $b0)
          (f32x4.mul (local.get $t) (v128.load align=4 (local.get $pd)))))
        (local.set $b1 (f32x4.add (local.get $b1)
          (f32x4.mul (local.get $t) (v128.load offset=16 align=4 (local.get $pd)))))
        (local.set $b2 (f32x4.add (local.get $b2)
          (f32x4.mul (local.get $t) (v128.load offset=32 align=4 (local.get $pd)))))
        (local.set $b3 (f32x4.add (local.get $b3)
          (f32x4.mul (local.get $t) (v128.load offset=48 align=4 (local.get $pd)))))
        (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
        (local.set $px (i32.add (local.get $px) (i32.shl (local.get $xs) (i32.const 1))))
        (local.set $cnt (i32.sub (local.get $cnt) (i32.const 2)))
        (br_if $l (i32.ge_u (local.get $cnt) (i32.const 2)))))
    (if (local.get $cnt)
      (then
        (local.set $s (v128.load32_splat (local.get $px)))
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (local.get $s) (v128.load align=4 (local.get $pd)))))
        (local.set $a1 (f32x4.add (local.get $a1)
          (f32x4.mul (local.get $s) (v128.load offset=16 align=4 (local.get $pd)))))
        (local.set $a2 (f32x4.add (local.get $a2)
          (f32x4.mul (local.get $s) (v128.load offset=32 align=4 (local.get $pd)))))
        (local.set $a3 (f32x4.add (local.get $a3)
          (f32x4.mul (local.get $s) (v128.load offset=48 align=4 (local.get $pd)))))))
    (v128.store align=4 (local.get $pp)
      (f32x4.add (v128.load align=4 (local.get $pp))
        (f32x4.add (local.get $a0) (local.get $b0))))
    (v128.store offset=16 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=16 align=4 (local.get $pp))
        (f32x4.add (local.get $a1) (local.get $b1))))
    (v128.store offset=32 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=32 align=4 (local.get $pp))
        (f32x4.add (local.get $a2) (local.get $b2))))
    (v128.store offset=48 align=4 (local.get $pp)
      (f32x4.add (v128.load offset=48 align=4 (local.get $pp))
        (f32x4.add (local.get $a3) (local.get $b3))))
  )

  ;; As $rowSum8 for 4 channels; i mod 4 picks one of four sums (four
  ;; independent additions in flight), added pairwise at the end.
  (func $rowSum1
    (param $px i32) (param $xs i32) (param $pd i32) (param $ds i32) (param $cnt i32)
    (param $pp i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (block $qDone
      (br_if $qDone (i32.lt_u (local.get $cnt) (i32.const 4)))
      (loop $q
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (v128.load32_splat (local.get $px)) (v128.load align=4 (local.get $pd)))))
        (local.set $px (i32.add (local.get $px) (local.get $xs)))
        (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
        (local.set $a1 (f32x4.add (local.get $a1)
          (f32x4.mul (v128.load32_splat (local.get $px)) (v128.load align=4 (local.get $pd)))))
        (local.set $px (i32.add (local.get $px) (local.get $xs)))
        (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
        (local.set $a2 (f32x4.add (local.get $a2)
          (f32x4.mul (v128.load32_splat (local.get $px)) (v128.load align=4 (local.get $pd)))))
        (local.set $px (i32.add (local.get $px) (local.get $xs)))
        (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
        (local.set $a3 (f32x4.add (local.get $a3)
          (f32x4.mul (v128.load32_splat (local.get $px)) (v128.load align=4 (local.get $pd)))))
        (local.set $px (i32.add (local.get $px) (local.get $xs)))
        (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
        (local.set $cnt (i32.sub (local.get $cnt) (i32.const 4)))
        (br_if $q (i32.ge_u (local.get $cnt) (i32.const 4)))))
    (block $sDone
      (br_if $sDone (i32.eqz (local.get $cnt)))
      (loop $s
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (v128.load32_splat (local.get $px)) (v128.load align=4 (local.get $pd)))))
        (local.set $px (i32.add (local.get $px) (local.get $xs)))
        (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
        (local.set $cnt (i32.sub (local.get $cnt) (i32.const 1)))
        (br_if $s (local.get $cnt))))
    (v128.store align=4 (local.get $pp)
      (f32x4.add (v128.load align=4 (local.get $pp))
        (f32x4.add
          (f32x4.add (local.get $a0) (local.get $a1))
          (f32x4.add (local.get $a2) (local.get $a3)))))
  )

  ;; As $rowSum8 for one channel.
  (func $rowSumS
    (param $px i32) (param $xs i32) (param $pd i32) (param $ds i32) (param $cnt i32)
    (param $pp i32)
    (local $a f32)
    (loop $l
      (local.set $a (f32.add (local.get $a)
        (f32.mul (f32.load (local.get $px)) (f32.load (local.get $pd)))))
      (local.set $px (i32.add (local.get $px) (local.get $xs)))
      (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
      (local.set $cnt (i32.sub (local.get $cnt) (i32.const 1)))
      (br_if $l (local.get $cnt)))
    (f32.store (local.get $pp) (f32.add (f32.load (local.get $pp)) (local.get $a)))
  )
)
