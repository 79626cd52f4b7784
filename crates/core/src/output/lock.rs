//! One run at a time per output folder: an OS lock on `.suivi.lock`, released
//! by the OS when the process ends, crash and SIGKILL included (unlike a PID
//! file). The file's text names the holder for the second run's message.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

pub const LOCK_FILE: &str = ".suivi.lock";

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
}

impl Drop for RunLock {
    /// An empty lock file reads as what it is once the run is over: no run
    /// in progress. The file itself stays: removing it while another run
    /// waits to open it would let two runs lock two different files.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

pub fn acquire(out: &Path) -> Result<RunLock> {
    let path = out.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    // A link planted under the lock's name must not make us write into the
    // file it points at.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let mut file = options.open(&path).map_err(|e| {
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            Error::Usage(format!(
                "{} is a symbolic link, not a lock file of suivi: someone who can write into \
                 the output folder put it there. Remove it, and check who can write into {}",
                path.display(),
                out.display()
            ))
        } else {
            Error::io(format!("opening the lock file {}", path.display()), e)
        }
    })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(Error::Locked {
                path,
                holder: holder.trim().to_owned(),
            });
        }
        Err(TryLockError::Error(e)) => {
            return Err(Error::io(format!("locking {}", path.display()), e));
        }
    }
    let holder = format!(
        "pid {} since {}",
        std::process::id(),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
    );
    file.set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(holder.as_bytes()))
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(RunLock { file })
}
