//! What a command can fail with: the library's errors, each with its exit
//! code, and the sample generator's (an output that could not be written).

use suivi_core::error::exit;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Core(#[from] suivi_core::Error),
    #[error(transparent)]
    Sample(#[from] suivi_sample::SampleError),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Core(e) => e.exit_code(),
            Failure::Sample(_) => exit::INTERNAL,
        }
    }
}

pub type Result<T> = std::result::Result<T, Failure>;
