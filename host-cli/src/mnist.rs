//! MNIST in memory: the four files read from a data directory, each checked by the core's
//! parsers, with errors that name the file.

use std::path::{Path, PathBuf};

use anyhow::Result;
use flashnet::mnist::Dataset;

use crate::cli::DataArgs;
use crate::data;

/// The decompressed, validated bytes of the MNIST files.
pub struct Mnist {
    pub dir: PathBuf,
    pub source: data::Source,
    train_images: Vec<u8>,
    train_labels: Vec<u8>,
    test_images: Vec<u8>,
    test_labels: Vec<u8>,
}

/// Which halves to load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    TrainAndTest,
    Test,
}

impl Mnist {
    /// Finds the data (see [`data::locate`]) and loads it.
    pub fn locate_and_load(args: &DataArgs, parts: Parts) -> Result<Self> {
        let dir = data::locate(args.data.as_deref(), !args.offline)?;
        Self::load(&dir.path, dir.source, parts)
    }

    /// Loads and validates the files in `dir`.
    pub fn load(dir: &Path, source: data::Source, parts: Parts) -> Result<Self> {
        let read = |name: &str| data::read(dir, name);
        // The training images dominate (47 MB to inflate): read them on their own thread.
        let (train_images, rest) = std::thread::scope(|s| {
            let big = (parts == Parts::TrainAndTest).then(|| s.spawn(|| read(data::TRAIN_IMAGES)));
            let rest = (|| -> Result<_> {
                let train_labels = match parts {
                    Parts::TrainAndTest => read(data::TRAIN_LABELS)?,
                    Parts::Test => Vec::new(),
                };
                Ok((
                    train_labels,
                    read(data::TEST_IMAGES)?,
                    read(data::TEST_LABELS)?,
                ))
            })();
            let big = match big {
                Some(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the reader thread panicked"))),
                None => Ok(Vec::new()),
            };
            (big, rest)
        });
        let train_images = train_images?;
        let (train_labels, test_images, test_labels) = rest?;
        let m = Mnist {
            dir: dir.to_path_buf(),
            source,
            train_images,
            train_labels,
            test_images,
            test_labels,
        };
        if parts == Parts::TrainAndTest {
            m.train()?;
        }
        m.test()?;
        Ok(m)
    }

    /// The 60,000 training samples.
    pub fn train(&self) -> Result<Dataset<'_>> {
        data::dataset(
            &self.dir,
            &self.train_images,
            data::TRAIN_IMAGES,
            &self.train_labels,
            data::TRAIN_LABELS,
        )
    }

    /// The 10,000 test samples.
    pub fn test(&self) -> Result<Dataset<'_>> {
        data::dataset(
            &self.dir,
            &self.test_images,
            data::TEST_IMAGES,
            &self.test_labels,
            data::TEST_LABELS,
        )
    }
}
