//! Which kernel path runs: the best the CPU supports, unless `FLASHNET_KERNELS` names another
//! (`portable`, `avx2`, `avx512`, `neon`) — for comparisons, and to reproduce a model made on
//! another machine (the SIMD matmuls round differently from the portable ones).

use anyhow::{Result, anyhow};
use flashnet::kernels::{self, Path};

/// The environment variable that forces a kernel path.
pub const ENV: &str = "FLASHNET_KERNELS";

/// Applies `FLASHNET_KERNELS` if set; returns the path in use.
pub fn select() -> Result<Path> {
    if let Ok(name) = std::env::var(ENV) {
        let path = Path::from_name(&name).ok_or_else(|| {
            anyhow!("{ENV}={name:?} is not a kernel path (portable, avx2, avx512, neon)")
        })?;
        kernels::force(path).map_err(|e| anyhow!("{ENV}={name}: {e}"))?;
    }
    Ok(kernels::active())
}
