//! Kernel throughput as a fraction of one core's measured FMA peak, robust to a noisy machine.
//!
//! ```sh
//! cargo run --release -p flashnet-benches --example roofline [FILTER]
//! cargo run --release -p flashnet-benches --example roofline -- --check
//! ```
//!
//! Each row times single calls, interleaved round-robin with every other row and with a
//! reference loop of independent FMAs (the peak), so that all rows see the same machine state.
//! It prints the median (and best) time per call, GFLOP/s and the ratio to the peak loop's
//! median (and best). The FLOP count is that of the dense shape, `2·m·k·n`.
//!
//! `--race` runs the same rows as `--check`, but pairs each SIMD row with `gemm`'s on the same
//! shape in warm caches: each round times [`RACE_CALLS`] calls of one after a warm-up call, then
//! the same of the other (the order alternates), and it prints the median of the rounds'
//! throughput ratios and how many rounds each won: the same-run comparison criterion's separate
//! warm loops make, without the drift between them.
//!
//! `--check` runs only the dense rows of the three training products (forward, weight gradient,
//! input gradient) of every SIMD path and of `gemm`, and fails unless each path reaches
//! [`CHECK_MIN_VS_GEMM`] of `gemm`'s throughput in the same run: a ratio within one run, which
//! the machine's noise moves far less than a time.

use std::hint::black_box;
use std::time::Instant;

use flashnet::kernels::{self, Kernels};
use flashnet::mnist::to_input;
use flashnet::tutorial::{self, AdamTrainer, InferenceWorkspace};
use flashnet_benches::{
    AlignedVec, fma_chains, gemm_strided, mnist_like_image, mnist_test, random,
};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

type Job = Box<dyn FnMut()>;

/// `--check`'s floor: a SIMD path's best time on each dense training shape against `gemm`'s
/// best in the same run, as a throughput ratio. AVX2 ran at 0.76–1.45× `gemm` on Zen 3
/// (forward, weight and input gradients), and criterion's figures on Zen 4 put AVX2 and AVX-512
/// at 0.84–0.99× (forward, weight gradient) and 1.06–1.17× (input gradient); with two
/// accumulators of AVX2's forward tile spilled to the stack (a codegen regression that went
/// unnoticed for a day) AVX2 ran at 0.51–0.56×, and with 4 × 3 input-gradient tiles (which
/// spill) at 0.62–0.73×.
const CHECK_MIN_VS_GEMM: f64 = 0.7;

/// Whether `name` is one of `--check`'s rows: a dense forward, weight-gradient or input-gradient
/// product on a SIMD path or `gemm`.
fn check_row(name: &str) -> bool {
    [
        "forward_32x784x128/",
        "weight_grad_32x784x128/",
        "input_grad_32x784x128/",
    ]
    .iter()
    .any(|shape| name.starts_with(shape))
        && name.ends_with("/dense")
        && !name.contains("/portable/")
}

struct Row {
    name: String,
    flops: f64,
    job: Job,
    times: Vec<f64>,
}

fn rows_push(rows: &mut Vec<Row>, name: &str, flops: f64, job: Job) {
    rows.push(Row {
        name: name.into(),
        flops,
        job,
        times: Vec::new(),
    });
}

/// MNIST's 10,000 test images, if the CLI's data lookup finds them offline.
fn mnist_test_images() -> Result<Vec<[u8; 784]>, String> {
    let mnist = mnist_test()?;
    let set = mnist.test().map_err(|e| format!("{e:#}"))?;
    Ok(set.images.as_slice().to_vec())
}

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let check = filter == "--check";
    let race = filter == "--race";
    let selected = |name: &str| {
        if check || race {
            check_row(name)
        } else {
            name.contains(&filter)
        }
    };
    let mut rng = Pcg32::seed_from_u64(7);
    let mut rows: Vec<Row> = Vec::new();
    const ITERS: u64 = 2_000;
    if fma_chains(1).is_some() {
        rows.push(Row {
            name: "peak (12 independent ymm FMA chains)".into(),
            flops: (ITERS * 12 * 8 * 2) as f64,
            job: Box::new(|| {
                black_box(fma_chains(black_box(ITERS)));
            }),
            times: Vec::new(),
        });
    }
    let shapes: [(&str, usize, usize, usize); 5] = [
        ("forward", 32, 784, 128),
        ("weight_grad", 32, 784, 128),
        ("input_grad", 32, 784, 128),
        ("layer2", 32, 128, 10),
        ("matvec", 1, 784, 128),
    ];
    for (id, m, k, n) in shapes {
        // `subnormal`: dense data with B scaled into the subnormal range (products and most
        // partial sums subnormal), to see whether flush-to-zero would matter.
        // `relu_like`: half exact zeros at random, as in a hidden layer's ReLU output; blocks
        // of it take the dense tiles, which skip each zero exactly.
        for (data, zeros) in [
            ("dense", 0.0f32),
            ("mnist_like", 0.8),
            ("relu_like", 0.45),
            ("subnormal", 0.0),
        ] {
            if data == "mnist_like" && (id == "input_grad" || id == "layer2") {
                continue;
            }
            if data == "relu_like" && id == "input_grad" {
                continue;
            }
            if data == "subnormal" && id != "forward" && id != "weight_grad" {
                continue;
            }
            let b_scale = if data == "subnormal" { 1e-38f32 } else { 1.0 };
            for path in kernels::available() {
                let name = format!("{id}_{m}x{k}x{n}/{path}/{data}");
                if !selected(&name) {
                    continue;
                }
                let kern: &'static dyn Kernels = path.kernels().unwrap();
                let mut b = random(k * n, 0.0, &mut rng);
                b.iter_mut().for_each(|x| *x *= b_scale);
                let bias = random(n, 0.0, &mut rng);
                let job: Job = match id {
                    "weight_grad" => {
                        let a = random(m * k, zeros, &mut rng);
                        let mut dy = random(m * n, 0.0, &mut rng);
                        dy.iter_mut().for_each(|x| *x *= b_scale);
                        let mut c = AlignedVec::zeros(k * n);
                        Box::new(move || kern.matmul_tn(m, k, n, black_box(&a), &dy, &mut c))
                    }
                    "input_grad" => {
                        let dy = random(m * n, 0.0, &mut rng);
                        let mut c = AlignedVec::zeros(m * k);
                        Box::new(move || kern.matmul_nt(m, k, n, black_box(&dy), &b, &mut c))
                    }
                    _ => {
                        let a = random(m * k, zeros, &mut rng);
                        let mut c = AlignedVec::zeros(m * n);
                        Box::new(move || {
                            kern.matmul_bias(m, k, n, black_box(&a), &b, &bias, &mut c)
                        })
                    }
                };
                rows.push(Row {
                    name,
                    flops: (2 * m * k * n) as f64,
                    job,
                    times: Vec::new(),
                });
            }
        }
    }
    // The whole model on 10,000 8-bit images, as `predict_10k` in the `train_step` bench and
    // the CLI run it: converted 16 at a time into one workspace, then the forward pass. FLOP:
    // the dense shapes of both layers. `mnist_like`: nonzeros at random, as in the criterion
    // bench; `mnist_test`: MNIST's own test set (the issue's target), if the CLI's data lookup
    // finds it offline (`FLASHNET_DATA`, the cache), whose nonzeros gather in the middle.
    let mnist_like: Vec<[u8; 784]> = (0..10_000).map(|_| mnist_like_image(&mut rng)).collect();
    let wanted = |data: &str| {
        kernels::available()
            .iter()
            .any(|p| selected(&format!("predict_10k/{p}/{data}")))
    };
    let mnist_test = if wanted("mnist_test") {
        mnist_test_images()
    } else {
        Err("not selected".into())
    };
    for (data, images) in [("mnist_like", Ok(mnist_like)), ("mnist_test", mnist_test)] {
        for path in kernels::available() {
            let name = format!("predict_10k/{path}/{data}");
            if !selected(&name) {
                continue;
            }
            let images = match &images {
                Ok(images) => images.clone(),
                Err(e) => {
                    eprintln!("{name}: skipped: {e}");
                    continue;
                }
            };
            let model = tutorial::model(tutorial::DROPOUT);
            let mut t: Box<AdamTrainer> = bytemuck::zeroed_box();
            t.init(&model, &mut rng);
            let mut ws: Box<InferenceWorkspace<16>> = bytemuck::zeroed_box();
            rows_push(
                &mut rows,
                &name,
                (2 * images.len() * (784 * 128 + 128 * 10)) as f64,
                Box::new(move || {
                    let before = kernels::active();
                    kernels::force(path).expect("available path");
                    let mut top = 0.0f32;
                    for batch in images.chunks(16) {
                        for (dst, src) in ws.input.iter_mut().zip(batch) {
                            to_input(src, dst);
                        }
                        top += model.predict(&t.params, &mut ws, batch.len()).unwrap()[0][0];
                    }
                    kernels::force(before).expect("restore the path");
                    black_box(top);
                }),
            );
        }
    }
    // The `gemm` crate (single thread, AVX-512 kernels enabled) on the three dense training
    // shapes, interleaved like the rest, reading `a` and `b` as the SIMD rows above do:
    // C (rows×cols) = lhs (rows×inner) · rhs (inner×cols), each operand given by its column and
    // row strides: A·B (forward), Aᵀ·dY (weight gradient), dY·Bᵀ (input gradient).
    let (m, k, n) = (32usize, 784usize, 128usize);
    let (ki, ni) = (k as isize, n as isize);
    for (id, nrows, cols, inner, lhs, rhs) in [
        ("forward_32x784x128/gemm/dense", m, n, k, (1, ki), (1, ni)),
        (
            "weight_grad_32x784x128/gemm/dense",
            k,
            n,
            m,
            (ki, 1),
            (1, ni),
        ),
        (
            "input_grad_32x784x128/gemm/dense",
            m,
            k,
            n,
            (1, ni),
            (ni, 1),
        ),
    ] {
        if !selected(id) {
            continue;
        }
        let a = random(nrows * inner, 0.0, &mut rng);
        let b = random(inner * cols, 0.0, &mut rng);
        let mut c = AlignedVec::zeros(nrows * cols);
        rows_push(
            &mut rows,
            id,
            (2 * m * k * n) as f64,
            Box::new(move || {
                gemm_strided(nrows, cols, inner, black_box(&a), lhs, &b, rhs, &mut c);
            }),
        );
    }
    if race {
        race_against_gemm(&mut rows);
        return;
    }
    // Warm up, then round-robin: each round calls every row a few times and keeps the mean.
    for r in rows.iter_mut() {
        for _ in 0..50 {
            (r.job)();
        }
    }
    let rounds = 400;
    for _ in 0..rounds {
        for r in rows.iter_mut() {
            let reps = 5;
            let t = Instant::now();
            for _ in 0..reps {
                (r.job)();
            }
            r.times.push(t.elapsed().as_secs_f64() / reps as f64);
        }
    }
    let stats = |t: &mut Vec<f64>| {
        t.sort_by(f64::total_cmp);
        (t[t.len() / 2], t[0])
    };
    let mut peak = None;
    let mut bests = Vec::new();
    println!(
        "{:<44} {:>10} {:>10} {:>8} {:>8} {:>8}",
        "row", "median", "best", "GFLOP/s", "%peak", "%peak*"
    );
    for r in rows.iter_mut() {
        let (med, best) = stats(&mut r.times);
        let (gf_med, gf_best) = (r.flops / med / 1e9, r.flops / best / 1e9);
        let p = *peak.get_or_insert((gf_med, gf_best));
        bests.push((r.name.clone(), best));
        println!(
            "{:<44} {:>8.2}us {:>8.2}us {:>8.1} {:>7.1}% {:>7.1}%",
            r.name,
            med * 1e6,
            best * 1e6,
            gf_med,
            100.0 * gf_med / p.0,
            100.0 * gf_best / p.1
        );
    }
    println!("%peak: median vs the peak loop's median; %peak*: best vs best");
    if check && !check_against_gemm(&bests) {
        std::process::exit(1);
    }
}

/// `--race`'s rounds, and the calls each side times per round (after one untimed call).
const RACE_ROUNDS: usize = 400;
const RACE_CALLS: usize = 10;

/// `--race`: each SIMD dense row against `gemm`'s row of the same shape, in paired warm rounds.
fn race_against_gemm(rows: &mut [Row]) {
    let time = |job: &mut Job| {
        job();
        let t = Instant::now();
        for _ in 0..RACE_CALLS {
            job();
        }
        t.elapsed().as_secs_f64() / RACE_CALLS as f64
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{:<36} {:>10} {:>10} {:>13} {:>10}",
        "row", "median", "gemm", "× gemm (med)", "rounds won"
    );
    for ours in 0..rows.len() {
        let (shape, path) = match rows[ours].name.split('/').collect::<Vec<_>>()[..] {
            [shape, path, "dense"] if path != "gemm" => (shape.to_string(), path.to_string()),
            _ => continue,
        };
        let gemm_name = format!("{shape}/gemm/dense");
        let Some(theirs) = rows.iter().position(|r| r.name == gemm_name) else {
            continue;
        };
        let (mut t_ours, mut t_gemm, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..RACE_ROUNDS {
            let (o, g) = if round % 2 == 0 {
                let o = time(&mut rows[ours].job);
                (o, time(&mut rows[theirs].job))
            } else {
                let g = time(&mut rows[theirs].job);
                (time(&mut rows[ours].job), g)
            };
            t_ours.push(o);
            t_gemm.push(g);
            ratios.push(g / o);
        }
        let won = ratios.iter().filter(|&&r| r > 1.0).count();
        println!(
            "{:<36} {:>8.2}us {:>8.2}us {:>12.4}× {:>6}/{RACE_ROUNDS}",
            format!("{shape}/{path}/dense"),
            median(t_ours) * 1e6,
            median(t_gemm) * 1e6,
            median(ratios),
            won
        );
    }
}

/// `--check`: prints each SIMD row's throughput against `gemm`'s on the same shape (best times
/// of the run) and says whether all reach [`CHECK_MIN_VS_GEMM`].
fn check_against_gemm(bests: &[(String, f64)]) -> bool {
    let mut ok = true;
    let mut checked = 0;
    for (name, best) in bests {
        let (shape, path) = match name.split('/').collect::<Vec<_>>()[..] {
            [shape, path, "dense"] if path != "gemm" => (shape, path),
            _ => continue,
        };
        let gemm = format!("{shape}/gemm/dense");
        let Some((_, gemm_best)) = bests.iter().find(|(n, _)| *n == gemm) else {
            continue;
        };
        let ratio = gemm_best / best;
        let pass = ratio >= CHECK_MIN_VS_GEMM;
        println!(
            "check: {shape} on {path}: {ratio:.2}× gemm's throughput (at least {CHECK_MIN_VS_GEMM}): {}",
            if pass { "ok" } else { "TOO SLOW" }
        );
        ok &= pass;
        checked += 1;
    }
    if checked == 0 {
        println!("check: no SIMD path on this CPU, nothing to compare");
    }
    ok
}
