//! The macros that instantiate the generic kernels for an architecture's token type.

/// Calls `$body` with `s: $token` inside a `#[target_feature(enable = $features)]` function.
macro_rules! enter {
    ($token:ty, $path:expr, $features:literal, $self:ident,
     |$s:ident $(, $arg:ident: $ty:ty)*| -> $ret:ty $body:block) => {{
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        fn run($s: $token, $($arg: $ty),*) -> $ret $body
        #[cfg(test)]
        $crate::kernels::executed::note($path);
        // SAFETY: a `$token` value exists only when the CPU and OS support `$features`
        // (checked by its constructor), which is all `run` requires.
        unsafe { run(*$self, $($arg),*) }
    }};
}
pub(crate) use enter;

/// Implements [`crate::kernels::Kernels`] for an architecture's token type: each method enters a
/// `#[target_feature]` function (so the generic code above compiles to that instruction set)
/// through the token, whose existence proves the features are there.
macro_rules! impl_kernels {
    (
        $token:ty, $path:expr, $features:literal,
        nn: ($mr:literal, $nr:literal, $nc:literal, $sparse_below:expr),
        tn: ($tmr:literal, $tnr:literal),
        nt: ($dmr:literal, $dnr:literal) $(,)?
    ) => {
        #[cfg(test)]
        impl $token {
            /// `x = expf(x)` lane-wise (tests compare it with `libm::expf`).
            pub(crate) fn expf_in_place(&self, x: &mut [f32]) {
                enter!($token, $path, $features, self, |s, x: &mut [f32]| -> () {
                    simd::expf_in_place(s, x)
                })
            }
        }

        impl $token {
            /// `matmul_bias`, with ReLU applied on the store if `relu`.
            #[allow(clippy::too_many_arguments)]
            fn matmul_bias_act(
                &self,
                m: usize,
                k: usize,
                n: usize,
                a: &[f32],
                b: &[f32],
                bias: &[f32],
                c: &mut [f32],
                relu: bool,
            ) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        k: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        b: &[f32],
                                                        bias: &[f32],
                                                        c: &mut [f32],
                                                        relu: bool|
                 -> () {
                    simd::matmul_bias::<$token, $mr, $nr, $nc>(
                        s,
                        m,
                        k,
                        n,
                        a,
                        b,
                        bias,
                        c,
                        relu,
                        $sparse_below,
                    )
                })
            }
        }

        impl $crate::kernels::Kernels for $token {
            fn path(&self) -> $crate::kernels::Path {
                $path
            }
            fn matmul_bias(
                &self,
                m: usize,
                k: usize,
                n: usize,
                a: &[f32],
                b: &[f32],
                bias: &[f32],
                c: &mut [f32],
            ) {
                self.matmul_bias_act(m, k, n, a, b, bias, c, false)
            }
            fn matmul_bias_relu(
                &self,
                m: usize,
                k: usize,
                n: usize,
                a: &[f32],
                b: &[f32],
                bias: &[f32],
                c: &mut [f32],
            ) {
                self.matmul_bias_act(m, k, n, a, b, bias, c, true)
            }
            fn matmul_tn_strided(
                &self,
                m: usize,
                k: usize,
                n: usize,
                a: &[f32],
                lda: usize,
                b: &[f32],
                c: &mut [f32],
            ) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        k: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        lda: usize,
                                                        b: &[f32],
                                                        c: &mut [f32]|
                 -> () {
                    simd::matmul_tn::<$token, $tmr, $tnr, $nc>(
                        s,
                        m,
                        k,
                        n,
                        a,
                        lda,
                        b,
                        c,
                        $sparse_below,
                    )
                })
            }
            fn matmul_nt(&self, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        k: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        b: &[f32],
                                                        c: &mut [f32]|
                 -> () {
                    simd::matmul_nt::<$token, $dmr, $dnr>(s, m, k, n, a, b, c)
                })
            }
            fn column_sums(&self, m: usize, n: usize, a: &[f32], out: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        out: &mut [f32]|
                 -> () {
                    simd::column_sums(s, m, n, a, out)
                })
            }
            fn relu(&self, x: &mut [f32]) {
                enter!($token, $path, $features, self, |s, x: &mut [f32]| -> () {
                    simd::relu(s, x)
                })
            }
            fn bytes_to_unit(&self, src: &[u8], dst: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        src: &[u8],
                                                        dst: &mut [f32]|
                 -> () {
                    simd::bytes_to_unit(s, src, dst)
                })
            }
            fn relu_backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        y: &[f32],
                                                        dy: &[f32],
                                                        dx: &mut [f32]|
                 -> () {
                    simd::relu_backward(s, y, dy, dx)
                })
            }
            fn mul(&self, a: &[f32], b: &[f32], out: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        a: &[f32],
                                                        b: &[f32],
                                                        out: &mut [f32]|
                 -> () {
                    simd::mul(s, a, b, out)
                })
            }
            fn dropout_mask(&self, mask: &mut [f32], rate: f32, key: u64, first: u32) {
                enter!($token, $path, $features, self, |s,
                                                        mask: &mut [f32],
                                                        rate: f32,
                                                        key: u64,
                                                        first: u32|
                 -> () {
                    simd::dropout_mask(s, mask, rate, key, first)
                })
            }
            fn softmax(&self, n: usize, x: &[f32], out: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        n: usize,
                                                        x: &[f32],
                                                        out: &mut [f32]|
                 -> () {
                    simd::softmax(s, n, x, out)
                })
            }
            fn softmax_cross_entropy(
                &self,
                n: usize,
                logits: &[f32],
                labels: &[u8],
                grad_scale: f32,
                grad: &mut [f32],
            ) -> (f32, u32) {
                enter!($token, $path, $features, self, |s,
                                                        n: usize,
                                                        logits: &[f32],
                                                        labels: &[u8],
                                                        grad_scale: f32,
                                                        grad: &mut [f32]|
                 -> (f32, u32) {
                    simd::softmax_cross_entropy(s, n, logits, labels, grad_scale, grad)
                })
            }
            fn adam_sum(
                &self,
                w: &mut [f32],
                grads: &[&[f32]],
                m: &mut [f32],
                v: &mut [f32],
                step: $crate::kernels::AdamStep,
            ) {
                enter!(
                    $token,
                    $path,
                    $features,
                    self,
                    |s,
                     w: &mut [f32],
                     grads: &[&[f32]],
                     m: &mut [f32],
                     v: &mut [f32],
                     step: $crate::kernels::AdamStep|
                     -> () { simd::adam_sum(s, w, grads, m, v, step) }
                )
            }
            fn sgd(&self, w: &mut [f32], g: &[f32], lr: f32) {
                enter!($token, $path, $features, self, |s,
                                                        w: &mut [f32],
                                                        g: &[f32],
                                                        lr: f32|
                 -> () {
                    simd::sgd(s, w, g, lr)
                })
            }
        }
    };
}
pub(crate) use impl_kernels;
